/**
 * Draining a node, like `kubectl drain --ignore-daemonsets --delete-emptydir-data`: first list
 * the node's pods and refuse — before cordoning — when some have no controller that would
 * recreate them (bare pods: evicting deletes them for good) unless `evictUnmanaged`; then
 * cordon, evict every other pod (not DaemonSet pods, not static pods' mirrors, not pods that
 * already finished) through the Eviction subresource, retry the ones a PodDisruptionBudget
 * blocks (429) with backoff, and wait until the evicted pods are gone. Pods with emptyDir
 * volumes are evicted; their data goes with them (PodInfo.emptyDirs says which). Once cordoned,
 * the node stays cordoned whatever happens.
 */

import { sleep } from '../core/deadline.js';
import { UserError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { formatMs, isFinished, isUnmanaged, type PodInfo, podName } from './kube-objects.js';

/** What the check before cordoning needs. */
export interface DrainCheckOptions {
  /** Also evict pods no controller will recreate (they are gone for good). Default: refuse. */
  evictUnmanaged?: boolean;
  /**
   * The bot's own pod (POD_NAMESPACE/POD_NAME from the downward API): never evicted, so the bot
   * stays to drive the rest (a reboot of its node takes it down last).
   */
  keep?: { namespace: string; name: string };
}

export interface DrainOptions extends DrainCheckOptions {
  /** For the whole drain: evictions and waiting for the pods to go. */
  timeoutMs: number;
  onEvicted?: (p: PodInfo) => void;
  /** A PodDisruptionBudget refused this eviction; `attempt` counts from 1. */
  onBlocked?: (p: PodInfo, attempt: number, reason: string) => void;
  signal?: AbortSignal;
  /** First delay between eviction attempts of a blocked pod; doubles up to 10×. Default 1000. */
  pollMs?: number;
}

export interface DrainResult {
  /** Bare pods among them only with `evictUnmanaged`; emptyDir data of any of them is gone. */
  evicted: PodInfo[];
  /** DaemonSet pods, mirror pods and finished pods: left where they are. */
  skipped: PodInfo[];
  /** The bot's own pod, when it runs on this node: left for last. */
  kept?: PodInfo;
}

/** A pod and its uid (a StatefulSet's replacement has the same name, not the same uid). */
export interface PodRef {
  info: PodInfo;
  uid: string;
}

export type EvictOutcome = 'evicted' | 'gone' | { blocked: string };

/** The Kubernetes calls a drain makes (Kube implements them). */
export interface DrainApi {
  log: Logger;
  cordon(node: string): Promise<void>;
  pods(node: string): Promise<PodRef[]>;
  evict(pod: PodInfo): Promise<EvictOutcome>;
  /** Resolves true once none of these uids is on the node, false at the deadline. */
  waitGone(
    node: string,
    uids: Set<string>,
    deadline: number,
    signal?: AbortSignal,
  ): Promise<boolean>;
}

/** Terminating pods get this long (their default grace period) even when the drain ran late. */
const GRACE_MS = 30_000;
const LISTED = 10;

const names = (pods: PodInfo[]) =>
  pods.length <= LISTED
    ? pods.map(podName).join(', ')
    : `${pods.slice(0, LISTED).map(podName).join(', ')} and ${pods.length - LISTED} more`;

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** Left where they are: DaemonSet pods, mirror pods, finished pods. */
const stays = (p: PodInfo) => p.daemonSet || p.mirror || isFinished(p);

const isKept = (p: PodInfo, keep: DrainCheckOptions['keep']) =>
  keep !== undefined && p.namespace === keep.namespace && p.name === keep.name;

/** The pods a drain would evict that no controller recreates (the refusal's subject). */
const unmanagedOf = (pods: PodRef[], keep?: DrainCheckOptions['keep']) =>
  pods.map((p) => p.info).filter((p) => !stays(p) && !isKept(p, keep) && isUnmanaged(p));

/** The refusal before cordoning: evicting would delete these pods for good. Nothing changed. */
export class UnmanagedPodsError extends UserError {
  constructor(
    message: string,
    hint: string,
    readonly pods: PodInfo[],
  ) {
    super(message, hint);
  }
}

const unmanagedHint = (n: number) => {
  const [them, they] = n === 1 ? ['it', 'it'] : ['them', 'they'];
  return `Delete or move ${them} yourself (e.g. under a Deployment), then try again — or run it again with evict_unmanaged:true to evict ${them} too: ${they} will be gone for good.`;
};

/**
 * Before anything changes: lists the node's pods and refuses when some would be deleted for good
 * (no controller recreates them) unless `evictUnmanaged`; otherwise cordons the node. Returns the
 * unmanaged pods the drain will evict (empty without `evictUnmanaged`).
 */
export async function cordonForDrain(
  api: DrainApi,
  node: string,
  opts: DrainCheckOptions,
): Promise<PodInfo[]> {
  const unmanaged = await checkDrainable(api, node, opts);
  await api.cordon(node);
  return unmanaged;
}

/**
 * The check of `cordonForDrain` alone (changes nothing): refuses when pods would be deleted
 * for good unless `evictUnmanaged`. Proposals use it, so nobody confirms a drain that would be
 * refused.
 */
export async function checkDrainable(
  api: Pick<DrainApi, 'pods'>,
  node: string,
  opts: DrainCheckOptions,
): Promise<PodInfo[]> {
  const unmanaged = unmanagedOf(await api.pods(node), opts.keep);
  if (unmanaged.length > 0 && !opts.evictUnmanaged) {
    const n = unmanaged.length;
    throw new UnmanagedPodsError(
      `Not draining ${node}: ${plural(n, 'pod has', 'pods have')} no controller that would recreate ${n === 1 ? 'it' : 'them'} elsewhere, so evicting would delete ${n === 1 ? 'it' : 'them'} for good: ${names(unmanaged)}. Nothing was changed: ${node} was not cordoned, no pod was evicted.`,
      unmanagedHint(n),
      unmanaged,
    );
  }
  return unmanaged;
}

/** Both steps: `cordonForDrain`, then `evictCordoned`. */
export async function drainNode(
  api: DrainApi,
  node: string,
  opts: DrainOptions,
): Promise<DrainResult> {
  const started = Date.now();
  await cordonForDrain(api, node, opts);
  return evictCordoned(api, node, {
    ...opts,
    timeoutMs: Math.max(0, opts.timeoutMs - (Date.now() - started)),
  });
}

/**
 * The node is cordoned (by `cordonForDrain`): lists its pods again (some may have come since the
 * check), evicts them, waits until they are gone.
 */
export async function evictCordoned(
  api: DrainApi,
  node: string,
  opts: DrainOptions,
): Promise<DrainResult> {
  const started = Date.now();
  const deadline = started + opts.timeoutMs;
  const pollMs = opts.pollMs ?? 1000;
  const log = api.log.child({ node, op: 'drain' });
  const listed = await api.pods(node);
  const kept = listed.find((p) => isKept(p.info, opts.keep))?.info;
  const all = listed.filter((p) => p.info !== kept);
  const unmanaged = unmanagedOf(all);
  if (unmanaged.length > 0 && !opts.evictUnmanaged) {
    // Only when such pods were scheduled between the check and the cordon.
    throw new UserError(
      `Not evicting pods from ${node}: ${plural(unmanaged.length, 'pod')} without a controller came up after the check: ${names(unmanaged)}. ${node} stays cordoned; no pod was evicted.`,
      `${unmanagedHint(unmanaged.length)} Or uncordon ${node} to give up.`,
    );
  }
  const skipped = all.filter((p) => stays(p.info));
  const toEvict = all.filter((p) => !skipped.includes(p));
  log.info(
    {
      evict: toEvict.length,
      skip: skipped.length,
      keep: kept ? podName(kept) : undefined,
      unmanaged: unmanaged.length,
      emptyDir: toEvict.filter((p) => p.info.emptyDirs.length > 0).length,
    },
    'draining',
  );

  // One failure (not a 429) stops the other pods' retry loops.
  const stop = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;
  const evictOne = async (pod: PodRef): Promise<string | undefined> => {
    for (let attempt = 1; ; attempt++) {
      signal.throwIfAborted();
      const outcome = await api.evict(pod.info);
      if (outcome === 'evicted' || outcome === 'gone') {
        log.info({ pod: podName(pod.info), outcome }, 'evicted');
        opts.onEvicted?.(pod.info);
        return undefined;
      }
      log.info({ pod: podName(pod.info), attempt, reason: outcome.blocked }, 'eviction blocked');
      opts.onBlocked?.(pod.info, attempt, outcome.blocked);
      const left = deadline - Date.now();
      if (left <= 0) return outcome.blocked;
      await sleep(Math.min(pollMs * 2 ** Math.min(attempt - 1, 10), pollMs * 10, left), signal);
    }
  };
  const results = await Promise.allSettled(
    toEvict.map((p) =>
      evictOne(p).catch((err: unknown) => {
        stop.abort(err);
        throw err;
      }),
    ),
  );
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) {
    opts.signal?.throwIfAborted();
    throw (failed as PromiseRejectedResult).reason;
  }
  const blocked = toEvict.filter(
    (_, i) => (results[i] as PromiseFulfilledResult<string | undefined>).value,
  );
  const evicted = toEvict.filter((p) => !blocked.includes(p)).map((p) => p.info);
  if (blocked.length > 0) {
    const first = (results[toEvict.indexOf(blocked[0]!)] as PromiseFulfilledResult<string>).value;
    throw new UserError(
      `Drain of ${node} gave up after ${formatMs(Date.now() - started)}: a PodDisruptionBudget still blocks evicting ${plural(blocked.length, 'pod')}: ${names(blocked.map((p) => p.info))} (${first}). ${node} stays cordoned.`,
      `${plural(evicted.length, 'pod was', 'pods were')} evicted. Give the budget room (scale the workload up, or wait until its other pods are ready) and drain again, or uncordon ${node} to give up.`,
    );
  }

  const uids = new Set(toEvict.map((p) => p.uid));
  const waitUntil = Math.max(deadline, Date.now() + Math.min(opts.timeoutMs, GRACE_MS));
  if (uids.size > 0 && !(await api.waitGone(node, uids, waitUntil, opts.signal))) {
    const left = toEvict.filter((p) => uids.has(p.uid)).map((p) => p.info);
    throw new UserError(
      `Drain of ${node}: ${plural(left.length, 'evicted pod is', 'evicted pods are')} still terminating after ${formatMs(Date.now() - started)}: ${names(left)}. ${node} stays cordoned.`,
      'They may be stuck on a finalizer or a long shutdown. Check them, then drain again.',
    );
  }
  log.info({ evicted: evicted.length, ms: Date.now() - started }, 'drained');
  return { evicted, skipped: skipped.map((p) => p.info), ...(kept ? { kept } : {}) };
}
