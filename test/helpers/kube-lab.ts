/**
 * An ssh lab and the fake Kubernetes API that follows it around a reboot: real sshd nodes
 * (ssh-lab.ts), a FakeKube with a node for each lab node that has a k3sName, the simulated
 * kubelets and node lifecycle controller (kubelet-sim.ts) and — when the fake runs Longhorn —
 * the simulated longhorn-manager linked to the lab (longhorn-sim.ts):
 *
 *   const k = await startKubeLab(NODES, { rebootDelayMs: 500, kubelets: { graceMs: 3000 } });
 *   …   await k.stop();
 *
 * If either half fails to start, the other is stopped before the error is thrown.
 */
import { FakeKube, type FakeKubeOptions } from '../fakes/kube/fake-kube.js';
import { kubeNodesFor } from './app-fixture.js';
import { type KubeletSim, type KubeletSimOptions, simulateKubelets } from './kubelet-sim.js';
import { linkLonghornToLab } from './longhorn-sim.js';
import { type LabNodeSpec, type SshLab, type SshLabOptions, startSshLab } from './ssh-lab.js';

export interface KubeLabOptions extends Omit<SshLabOptions, 'nodes'> {
  /** The fake's seed beyond its nodes (pods, applications, longhorn, …). */
  kube?: Omit<FakeKubeOptions, 'nodes'>;
  kubelets?: KubeletSimOptions;
}

export interface KubeLab {
  lab: SshLab;
  kube: FakeKube;
  kubelets: KubeletSim;
  /** Stops the kubelets, then the lab and the fake. */
  stop(): Promise<void>;
}

export async function startKubeLab(
  nodes: LabNodeSpec[],
  { kube: seed, kubelets: kubeletOpts, ...labOpts }: KubeLabOptions = {},
): Promise<KubeLab> {
  const [labStart, kubeStart] = await Promise.allSettled([
    startSshLab({ ...labOpts, nodes }),
    FakeKube.start({ ...seed, nodes: kubeNodesFor(nodes) }),
  ]);
  if (labStart.status === 'rejected' || kubeStart.status === 'rejected') {
    await Promise.all([
      labStart.status === 'fulfilled' ? labStart.value.stop() : undefined,
      kubeStart.status === 'fulfilled' ? kubeStart.value.stop() : undefined,
    ]);
    throw labStart.status === 'rejected'
      ? labStart.reason
      : (kubeStart as PromiseRejectedResult).reason;
  }
  const lab = labStart.value;
  const kube = kubeStart.value;
  const kubelets = simulateKubelets(lab, kube, kubeletOpts);
  if (kube.longhorn) linkLonghornToLab(lab, kube);
  return {
    lab,
    kube,
    kubelets,
    stop: async () => {
      kubelets.stop();
      await Promise.all([lab.stop(), kube.stop()]);
    },
  };
}
