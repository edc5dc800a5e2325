/**
 * Links the fake's simulated longhorn-manager (test/fakes/kube/longhorn/controller.ts) to an ssh
 * lab: a Longhorn node is up while its lab node's sshd is (as the engine loses a replica the
 * moment its node dies, long before the node controller marks the node NotReady).
 *
 *   linkLonghornToLab(lab, kube);   // kube started with `longhorn: { … }`
 */
import type { FakeKube } from '../fakes/kube/fake-kube.js';
import type { SshLab } from './ssh-lab.js';

export function linkLonghornToLab(lab: SshLab, kube: FakeKube): void {
  const lh = kube.longhorn;
  if (!lh) throw new Error('FakeKube was started without longhorn');
  const byK3s = new Map(lab.inventory().flatMap((n) => (n.k3sName ? [[n.k3sName, n.name]] : [])));
  const fallback = lh.isNodeUp;
  lh.isNodeUp = (node) => {
    const name = byK3s.get(node);
    return name ? lab.node(name).isUp() : fallback(node);
  };
}
