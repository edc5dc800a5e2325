/**
 * What taking a node down does to Longhorn's volumes (pure): which volumes have replicas there,
 * which would lose their last healthy replica (offline until the node is back), which would be
 * degraded until rebuilt, and which are already degraded or faulted. Draining a node that holds
 * a volume's last healthy replica makes the volume unavailable (longhorn/longhorn#1958, #5495).
 */
import type { LhReplica, LhVolume, LonghornState } from '../infra/longhorn-objects.js';

export type VolumeOutcome =
  /** Its last healthy replica is on the node: unavailable until the node is back. */
  | 'offline'
  /** Healthy replicas elsewhere too: degraded until the replica there is rebuilt. */
  | 'degraded'
  /** node-drain-policy block-for-eviction…: Longhorn copies the replica elsewhere first. */
  | 'evicted-first'
  /** Only failed replicas there: nothing changes for it. */
  | 'unaffected';

export interface VolumeImpact {
  volume: LhVolume;
  onNode: LhReplica[];
  healthyOnNode: number;
  healthyElsewhere: number;
  outcome: VolumeOutcome;
}

/** What Longhorn itself does on a drain under each node-drain-policy (its setting's options). */
export function drainPolicyText(policy: string): string {
  switch (policy) {
    case 'block-if-contains-last-replica':
      return 'Longhorn blocks the drain while the node holds the last healthy replica of a volume';
    case 'allow-if-replica-is-stopped':
      return 'Longhorn lets the drain go on when the last healthy replica on the node is stopped (its volume detached)';
    case 'always-allow':
      return 'Longhorn never blocks the drain: a volume whose last healthy replica is on the node goes offline';
    case 'block-for-eviction':
      return 'Longhorn first copies every replica on the node to other nodes; the drain waits for that';
    case 'block-for-eviction-if-contains-last-replica':
      return 'Longhorn first copies the last healthy replicas on the node to other nodes; the drain waits for that';
    default:
      return 'a policy this bot does not know';
  }
}

export function nodeImpact(state: LonghornState, node: string): VolumeImpact[] {
  const evicts = (lastOnly: boolean) =>
    state.drainPolicy === 'block-for-eviction' ||
    (lastOnly && state.drainPolicy === 'block-for-eviction-if-contains-last-replica');
  return state.volumes.flatMap((volume) => {
    const mine = state.replicas.filter((r) => r.volume === volume.name);
    const onNode = mine.filter((r) => r.node === node);
    if (onNode.length === 0) return [];
    const healthyOnNode = onNode.filter((r) => r.healthy).length;
    const healthyElsewhere = mine.filter((r) => r.node !== node && r.healthy).length;
    let outcome: VolumeOutcome;
    if (healthyOnNode === 0) outcome = 'unaffected';
    else if (healthyElsewhere === 0) outcome = evicts(true) ? 'evicted-first' : 'offline';
    else outcome = evicts(false) ? 'evicted-first' : 'degraded';
    return [{ volume, onNode, healthyOnNode, healthyElsewhere, outcome }];
  });
}

/** Volumes Longhorn already reports degraded or faulted (anywhere in the cluster). */
export function unhealthyVolumes(state: LonghornState): LhVolume[] {
  return state.volumes.filter((v) => v.robustness === 'degraded' || v.robustness === 'faulted');
}

/** `gitea/data-gitea-0, used by gitea/gitea-0 (StatefulSet/gitea)` — or `no PVC`. */
export function volumeUsers(v: LhVolume): string {
  const pods = v.workloads.map((w) => (w.workload ? `${w.pod} (${w.workload})` : w.pod));
  const pvc = v.pvc ? `PVC ${v.pvc}` : 'no PVC';
  return pods.length > 0 ? `${pvc}, used by ${pods.join(', ')}` : `${pvc}, no pod uses it`;
}

function healthyCount(state: LonghornState, v: LhVolume): number {
  return state.replicas.filter((r) => r.volume === v.name && r.healthy).length;
}

/** One line per volume the node's downtime touches, for plans and refusals. */
export function impactLine(i: VolumeImpact, node: string): string {
  const v = i.volume;
  const who = `${v.name} (${volumeUsers(v)})`;
  switch (i.outcome) {
    case 'offline':
      return v.replicasWanted === 1
        ? `${who}: a single-replica volume whose replica is on ${node} — goes offline until ${node} is back`
        : `${who}: its last healthy replica is on ${node} — goes offline until ${node} is back`;
    case 'degraded':
      return `${who}: degraded (${i.healthyElsewhere} of ${v.replicasWanted} replicas healthy) until its replica on ${node} is rebuilt`;
    case 'evicted-first':
      return `${who}: stays healthy — Longhorn copies its replica on ${node} to another node before the drain completes`;
    default:
      return `${who}: its replica on ${node} has failed already; nothing changes for it`;
  }
}

const MAX_LINES = 8;

function capped(lines: string[]): string[] {
  return lines.length <= MAX_LINES
    ? lines
    : [...lines.slice(0, MAX_LINES), `… and ${lines.length - MAX_LINES} more (/storage status)`];
}

/**
 * Why taking `node` down would hurt volumes: their last healthy replica is there, or they are
 * degraded/faulted already. Empty when it is safe.
 */
export function refusalReasons(state: LonghornState, node: string): string[] {
  const offline = nodeImpact(state, node).filter((i) => i.outcome === 'offline');
  const already = unhealthyVolumes(state).filter(
    (v) => !offline.some((i) => i.volume.name === v.name),
  );
  return capped([
    ...offline.map((i) => impactLine(i, node)),
    ...already.map(
      (v) =>
        `${v.name} (${volumeUsers(v)}): already ${v.robustness} (${healthyCount(state, v)} of ${v.replicasWanted} replicas healthy) — another node down could take it offline`,
    ),
  ]);
}

/** The plan's lines about Longhorn for one node: the policy in force, then each volume there. */
export function impactWarnings(state: LonghornState, node: string): string[] {
  const impacts = nodeImpact(state, node);
  const policy = `Longhorn node-drain-policy: ${state.drainPolicy} — ${drainPolicyText(state.drainPolicy)}.`;
  if (impacts.length === 0) return [`${policy} No Longhorn volume has a replica on ${node}.`];
  return [policy, ...capped(impacts.map((i) => `Longhorn volume ${impactLine(i, node)}`))];
}

/** The volumes a reboot of `node` waits for afterwards: those with a healthy replica there. */
export function volumesToWaitFor(state: LonghornState, node: string): string[] {
  // A detached volume's replicas are not rebuilt until it is attached again: nothing to wait for.
  return nodeImpact(state, node)
    .filter((i) => i.volume.state === 'attached')
    .filter((i) => i.outcome === 'offline' || i.outcome === 'degraded')
    .map((i) => i.volume.name);
}
