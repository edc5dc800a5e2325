/**
 * A kubelet on every ssh-lab node and the node lifecycle controller, writing to a FakeKube, so
 * that a node's Kubernetes status follows its lab node the way a real cluster's does around a
 * reboot (what they write: test/fakes/kube/node-status.ts, after the kubelet and
 * `pkg/controller/nodelifecycle` of kubernetes):
 *
 *   const sim = simulateKubelets(lab, kube, { graceMs: 3000 });   …   sim.stop();
 *
 * - Lab node up (its sshd listens): after `startDelayMs` the kubelet posts Ready=True with
 *   `status.nodeInfo.bootID` = lab.node(name).bootId() — after a reboot the new id, and only
 *   once sshd is back (the lab writes the new id while the node is still down).
 * - Lab node down: nothing is posted. The last status stays — Ready=True with the old bootID,
 *   lastHeartbeatTime frozen — for `graceMs` (node-monitor-grace-period, 40 s in a real cluster),
 *   then the controller marks it Unknown (NodeStatusUnknown, "Kubelet stopped posting node
 *   status."). A node back within `graceMs` never shows Unknown: only its bootID says it rebooted.
 *
 * Lab nodes are linked to Kubernetes nodes by k3sName; lab nodes without one, or whose node the
 * fake does not have, are left alone. The lab is polled every `pollMs`; `stop()` ends it (no
 * timer is left). At start every node is posted as its lab node is: up → Ready with its boot id
 * at once (no start delay), down → already silent (Unknown after `graceMs`).
 *
 * Observe: `sim.events` — { node, what: 'posted' | 'silent' | 'unknown', bootId, at,
 * requestIndex } in order; requestIndex = kube.requests.length at that moment, so a test can
 * tell which API requests came before and which after (e.g. the bot's uncordon PATCH).
 */
import type { FakeKube } from '../fakes/kube/fake-kube.js';
import { markNodeStatusUnknown, postKubeletStatus } from '../fakes/kube/node-status.js';
import { realClearTimeout, realSetTimeout } from '../fakes/kube/store.js';
import type { SshLab } from './ssh-lab.js';

export interface KubeletSimOptions {
  /** node-monitor-grace-period: how long a silent node's last status stays. Default 3000 ms. */
  graceMs?: number;
  /** From sshd listening again to the kubelet's first Ready status. Default 300 ms. */
  startDelayMs?: number;
  /** How often the lab is looked at. Default 25 ms. */
  pollMs?: number;
}

export interface KubeletEvent {
  /** The Kubernetes node name (k3sName). */
  node: string;
  /**
   * posted: the kubelet posted Ready=True with `bootId`; silent: the lab node went down (the
   * last status, `bootId` its bootID, stays); unknown: the controller marked it Unknown.
   */
  what: 'posted' | 'silent' | 'unknown';
  bootId: string;
  at: number;
  /** kube.requests.length when it happened. */
  requestIndex: number;
}

export interface KubeletSim {
  readonly events: KubeletEvent[];
  /** The events of one node. */
  eventsOf(node: string): KubeletEvent[];
  stop(): void;
}

interface Tracked {
  lab: string;
  node: string;
  /** The boot id the kubelet last posted ('' before the first post). */
  posted: string;
  /** Since when the lab node has been up again with a boot id not posted yet. */
  upSince?: number;
  /** Since when the lab node has been down (the kubelet silent). */
  downSince?: number;
  unknown: boolean;
}

export function simulateKubelets(
  lab: SshLab,
  kube: FakeKube,
  opts: KubeletSimOptions = {},
): KubeletSim {
  const graceMs = opts.graceMs ?? 3000;
  const startDelayMs = opts.startDelayMs ?? 300;
  const pollMs = opts.pollMs ?? 25;
  const events: KubeletEvent[] = [];
  const record = (t: Tracked, what: KubeletEvent['what'], bootId: string) =>
    events.push({ node: t.node, what, bootId, at: Date.now(), requestIndex: kube.requests.length });

  const tracked: Tracked[] = lab
    .inventory()
    .flatMap((n) => (n.k3sName && kube.node(n.k3sName) ? [{ lab: n.name, node: n.k3sName }] : []))
    .map((t) => ({ ...t, posted: '', unknown: false }));

  const post = (t: Tracked, bootId: string) => {
    if (!postKubeletStatus(kube.store, t.node, bootId)) return;
    t.posted = bootId;
    t.upSince = undefined;
    t.downSince = undefined;
    t.unknown = false;
    record(t, 'posted', bootId);
  };

  const step = (t: Tracked, now: number) => {
    const node = lab.node(t.lab);
    if (node.isUp()) {
      t.downSince = undefined;
      const bootId = node.bootId();
      if (bootId === t.posted && !t.unknown) return;
      t.upSince ??= now;
      if (now - t.upSince >= startDelayMs) post(t, bootId);
      return;
    }
    t.upSince = undefined;
    if (t.downSince === undefined) {
      t.downSince = now;
      record(t, 'silent', t.posted);
    }
    if (!t.unknown && now - t.downSince >= graceMs) {
      t.unknown = true;
      if (markNodeStatusUnknown(kube.store, t.node)) record(t, 'unknown', t.posted);
    }
  };

  for (const t of tracked) {
    const node = lab.node(t.lab);
    if (node.isUp()) post(t, node.bootId());
    else step(t, Date.now());
  }

  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = () => {
    if (stopped) return;
    const now = Date.now();
    for (const t of tracked) step(t, now);
    timer = realSetTimeout(tick, pollMs);
  };
  timer = realSetTimeout(tick, pollMs);

  return {
    events,
    eventsOf: (node) => events.filter((e) => e.node === node),
    stop() {
      stopped = true;
      if (timer) realClearTimeout(timer);
      timer = undefined;
    },
  };
}
