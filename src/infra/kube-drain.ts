/**
 * Draining a node: cordon, evict every pod that a controller will put elsewhere (not DaemonSet
 * pods, not static pods' mirrors, not pods that already finished) through the Eviction
 * subresource, retry the ones a PodDisruptionBudget blocks (429) with backoff, then wait until
 * the evicted pods are gone. The node stays cordoned whatever happens.
 */
import { UserError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { formatMs, isFinished, type PodInfo, podName } from './kube-objects.js';
import { sleep } from './kube-watch.js';

export interface DrainOptions {
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
  evicted: PodInfo[];
  /** DaemonSet pods, mirror pods and finished pods: left where they are. */
  skipped: PodInfo[];
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

export async function drainNode(
  api: DrainApi,
  node: string,
  opts: DrainOptions,
): Promise<DrainResult> {
  const started = Date.now();
  const deadline = started + opts.timeoutMs;
  const pollMs = opts.pollMs ?? 1000;
  const log = api.log.child({ node, op: 'drain' });
  await api.cordon(node);
  const all = await api.pods(node);
  const skipped = all.filter((p) => p.info.daemonSet || p.info.mirror || isFinished(p.info));
  const toEvict = all.filter((p) => !skipped.includes(p));
  log.info({ evict: toEvict.length, skip: skipped.length }, 'draining');

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
  return { evicted, skipped: skipped.map((p) => p.info) };
}
