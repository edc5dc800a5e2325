/**
 * Longhorn around node operations: read its state (skipped when it is not installed or
 * `kube` is not configured), refuse before the proposal when a node's downtime would take a
 * volume offline or a volume is degraded already (unless force:true), describe each volume in
 * the plan, and after the node is back wait — bounded — until its volumes are healthy again.
 */
import type { Config, NodeConfig } from '../config/schema.js';
import type { Progress } from '../core/context.js';
import { UserError } from '../core/errors.js';
import { formatMs } from '../infra/kube-objects.js';
import type { LonghornState } from '../infra/longhorn-objects.js';
import {
  drainPolicyText,
  impactWarnings,
  refusalReasons,
  unhealthyVolumes,
  volumeUsers,
} from './longhorn-impact.js';
import type { NodeOps } from './node-ops.js';

type LonghornConfig = Config['longhorn'];

/** Longhorn's state, or undefined when there is no Kubernetes API or no Longhorn in it. */
export async function readLonghorn(
  ops: NodeOps,
  conf: LonghornConfig,
  signal?: AbortSignal,
): Promise<LonghornState | undefined> {
  if (ops.kubeError) throw ops.kubeError;
  if (!ops.kube) return undefined;
  // Loaded with the Kubernetes client, on first use (an idle bot holds neither).
  const { longhornFor } = await import('../infra/longhorn.js');
  return longhornFor(ops.kube, conf.namespace).state(signal);
}

/**
 * The precondition: refuses (a UserError naming the volumes, the PVCs and pods using them and
 * the node-drain-policy) when taking any of `nodes` down would hurt a volume, unless `force`;
 * with `force`, returns what it would have refused for (the audit line keeps it).
 */
export async function assertLonghornSafe(
  ops: NodeOps,
  conf: LonghornConfig,
  nodes: readonly NodeConfig[],
  opts: { force: boolean; verb: string; retry: (node: NodeConfig) => string; signal?: AbortSignal },
): Promise<string[]> {
  const k3s = nodes.filter((n) => n.k3sName);
  if (k3s.length === 0) return [];
  const state = await readLonghorn(ops, conf, opts.signal);
  if (!state) return [];
  const overridden: string[] = [];
  for (const node of k3s) {
    const reasons = refusalReasons(state, node.k3sName!);
    if (reasons.length === 0) continue;
    // force:true: goes ahead, and the audit line keeps what it was told.
    if (opts.force) {
      overridden.push(...reasons.map((r) => `${node.name}: ${r}`));
      continue;
    }
    throw new UserError(
      `Not ${opts.verb} ${node.name}: Longhorn volumes would be unavailable or are degraded already.`,
      [
        ...reasons,
        `node-drain-policy: ${state.drainPolicy} (${drainPolicyText(state.drainPolicy)}).`,
        `Wait until /storage status shows every volume healthy, or if that is what you want: ${opts.retry(node)}`,
      ].join('\n'),
    );
  }
  return overridden;
}

/** The plan's Longhorn lines for a node (or why they are missing); [] without Longhorn. */
export async function longhornPlanWarnings(
  ops: NodeOps,
  conf: LonghornConfig,
  node: NodeConfig,
  signal?: AbortSignal,
): Promise<string[]> {
  if (!node.k3sName) return [];
  try {
    const state = await readLonghorn(ops, conf, signal);
    return state ? impactWarnings(state, node.k3sName) : [];
  } catch (err) {
    return [`Longhorn's state could not be read: ${(err as Error).message}`];
  }
}

export interface WaitHealthyOptions {
  timeoutMs: number;
  signal: AbortSignal;
  progress: Progress;
  /** The node they had replicas on (for the messages). */
  node: string;
  pollMs?: number;
}

/** `pvc-a degraded, rebuilding on pi4-a 40%` */
function describe(state: LonghornState, name: string): string {
  const v = state.volumes.find((x) => x.name === name);
  if (!v) return `${name} is gone`;
  const rebuilding = state.replicas
    .filter((r) => r.volume === name && r.rebuildProgress !== undefined)
    .map((r) => `rebuilding on ${r.node} ${r.rebuildProgress}%`);
  return `${name} ${v.robustness}${rebuilding.length > 0 ? `, ${rebuilding.join(', ')}` : ''}`;
}

const done = (state: LonghornState, name: string) => {
  const v = state.volumes.find((x) => x.name === name);
  return !v || v.robustness === 'healthy';
};

/**
 * Waits until every volume in `names` is healthy again (a deleted one counts as done), with each
 * change of rebuild progress in the thread; a UserError naming the volumes still degraded when
 * the time is up. Polls (Longhorn's RBAC here is list only) every `pollMs`.
 */
export async function waitVolumesHealthy(
  ops: NodeOps,
  conf: LonghornConfig,
  names: readonly string[],
  opts: WaitHealthyOptions,
): Promise<string> {
  const deadline = Date.now() + opts.timeoutMs;
  const pollMs = opts.pollMs ?? 1000;
  const shown = new Map<string, string>();
  let last: LonghornState | undefined;
  for (;;) {
    opts.signal.throwIfAborted();
    const state = await readLonghorn(ops, conf, opts.signal);
    if (!state) return 'Longhorn is not installed any more: nothing to wait for';
    last = state;
    const pending = names.filter((n) => !done(state, n));
    for (const n of names) {
      const line = describe(state, n);
      // A thread line per change (a rebuild's progress in 25 % steps), not per poll.
      const key = line.replace(/(\d+)%/g, (_m, p: string) => `${Math.floor(Number(p) / 25) * 25}%`);
      if (shown.get(n) !== key) {
        if (shown.has(n) || !done(state, n)) await opts.progress.step(`Longhorn: ${line}`);
        shown.set(n, key);
      }
    }
    if (pending.length === 0) {
      return `Longhorn volumes healthy again: ${names.join(', ')}`;
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())), opts.signal);
  }
  const still = names.filter((n) => last && !done(last, n));
  const lines = still.map((n) => {
    const v = last?.volumes.find((x) => x.name === n);
    return `${describe(last!, n)}${v ? ` (${volumeUsers(v)})` : ''}`;
  });
  throw new UserError(
    `Longhorn volumes still not healthy ${formatMs(opts.timeoutMs)} after ${opts.node} came back: ${still.join(', ')}.`,
    `${lines.join('\n')}\nLonghorn goes on rebuilding; /storage status shows the progress. Do not take another node down until they are healthy.`,
  );
}

/** Volumes degraded or faulted now (for the rolling update between nodes). */
export function degradedNames(state: LonghornState): string[] {
  return unhealthyVolumes(state).map((v) => v.name);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(done, ms);
    function done() {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort() {
      clearTimeout(t);
      reject(signal.reason);
    }
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
