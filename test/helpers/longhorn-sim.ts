/**
 * Links the fake's simulated longhorn-manager (test/fakes/kube/longhorn/controller.ts) to an ssh
 * lab: a Longhorn node is up while its lab node's sshd is (as the engine loses a replica the
 * moment its node dies, long before the node controller marks the node NotReady).
 *
 *   linkLonghornToLab(lab, kube);   // kube started with `longhorn: { … }`
 *
 * (startKubeLab in kube-lab.ts does it.) `giteaOnBothPis` is the seed of the tests where a Pi's
 * reboot degrades a volume.
 */
import type { FakeKube, FakeKubeOptions } from '../fakes/kube/fake-kube.js';
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

/**
 * Longhorn on x86, pi4-a and pi4-b, with one volume, pvc-gitea (gitea/data-gitea-0, used by
 * StatefulSet/gitea), replicated on both Pis: a reboot of either degrades it until the replica
 * there is rebuilt, which takes `rebuildMs`.
 */
export function giteaOnBothPis(rebuildMs: number): NonNullable<FakeKubeOptions['longhorn']> {
  return {
    nodes: ['x86', 'pi4-a', 'pi4-b'],
    rebuildMs,
    volumes: [
      {
        name: 'pvc-gitea',
        replicas: ['pi4-a', 'pi4-b'],
        pvc: {
          namespace: 'gitea',
          name: 'data-gitea-0',
          pods: [{ name: 'gitea-0', workload: 'StatefulSet/gitea' }],
        },
      },
    ],
  };
}
