/**
 * List-then-watch until a condition holds, the way informers do it, with client-node 1.x's
 * `Watch`:
 *
 *   const ctrl = await new Watch(kc).watch(path, { fieldSelector, resourceVersion,
 *     allowWatchBookmarks: true }, (type, obj) => …, (err) => …);   // ctrl.abort() stops it
 *
 * `type` is ADDED | MODIFIED | DELETED | BOOKMARK | ERROR; objects are plain JSON (not the typed
 * classes). `done(null)` means the server ended the stream (it does so every few minutes, or
 * when it restarts): resume from the last resourceVersion seen. `done(err)` is a network error
 * or a non-200 answer (`err.statusCode`). An ERROR event with a 410 Status means that version is
 * too old to resume from: list again. The Watch never rejects; its promise resolves once the
 * answer's headers arrive (node-fetch gives up after 30 s without them).
 */

import { type KubeConfig, Watch } from '@kubernetes/client-node';
import { beforeDeadline, sleep } from '../core/deadline.js';
import type { Logger } from '../core/logger.js';
import { isTransient, kubeStatus } from './kube-api.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface WithVersion {
  metadata?: { resourceVersion?: string };
}

export interface FollowOptions<T> {
  kc: KubeConfig;
  log: Logger;
  /** Collection path: `/api/v1/nodes`, `/api/v1/pods`, `/apis/argoproj.io/v1alpha1/namespaces/argocd/applications`. */
  path: string;
  fieldSelector?: string;
  labelSelector?: string;
  /** The current state and the list's resourceVersion (called at first and after a 410). */
  list: () => Promise<{ items: T[]; resourceVersion: string }>;
  /** Sees every (re)list; true when the wait is over. */
  onList: (items: T[]) => boolean;
  /** Sees every watch event; true when the wait is over. */
  onEvent: (type: WatchEventType, obj: T) => boolean;
  /** Epoch ms: give up then. */
  deadline: number;
  signal?: AbortSignal;
}

type Outcome =
  | { kind: 'done' }
  | { kind: 'deadline' }
  | { kind: 'ended'; events: number }
  | { kind: 'expired' }
  | { kind: 'error'; err: unknown };

const MIN_BACKOFF = 250;
const MAX_BACKOFF = 5000;

/**
 * Resolves true when `onList`/`onEvent` said so, false at the deadline; rejects with the signal's
 * reason when aborted, or with the error of a call that will not get better by trying again
 * (a 4xx other than 410/429). Dropped watches resume; network errors and 5xx back off and retry.
 */
export async function follow<T extends WithVersion>(opts: FollowOptions<T>): Promise<boolean> {
  let rv: string | undefined;
  let backoff = MIN_BACKOFF;
  let resumes = 0;
  let quickEnds = 0;
  const pause = async () => {
    await sleep(Math.min(backoff, Math.max(0, opts.deadline - Date.now())), opts.signal);
    backoff = Math.min(backoff * 2, MAX_BACKOFF);
  };
  for (;;) {
    opts.signal?.throwIfAborted();
    if (Date.now() >= opts.deadline) return false;
    if (rv === undefined) {
      let listed: { items: T[]; resourceVersion: string } | 'deadline';
      try {
        listed = await beforeDeadline(opts.list(), opts.deadline, opts.signal);
      } catch (err) {
        if (!isTransient(err)) throw err;
        opts.log.debug({ err, path: opts.path }, 'kube list failed; retrying');
        await pause();
        continue;
      }
      if (listed === 'deadline') return false;
      if (opts.onList(listed.items)) return true;
      rv = listed.resourceVersion;
    }
    const started = Date.now();
    const outcome = await watchOnce(opts, rv, (v) => {
      rv = v;
    });
    switch (outcome.kind) {
      case 'done':
        return true;
      case 'deadline':
        return false;
      case 'expired':
        opts.log.debug(
          { path: opts.path, rv },
          'kube watch: resourceVersion expired; listing again',
        );
        rv = undefined;
        break;
      case 'ended':
        resumes += 1;
        opts.log.debug({ path: opts.path, rv, resumes }, 'kube watch ended; resuming');
        // A stream that ends at once with nothing in it, again and again, must not spin.
        quickEnds = outcome.events === 0 && Date.now() - started < 1000 ? quickEnds + 1 : 0;
        if (quickEnds > 1) await pause();
        else backoff = MIN_BACKOFF;
        break;
      case 'error':
        if (!isTransient(outcome.err) && kubeStatus(outcome.err)) throw outcome.err;
        opts.log.debug({ err: outcome.err, path: opts.path }, 'kube watch failed; retrying');
        await pause();
        break;
    }
  }
}

function watchOnce<T extends WithVersion>(
  opts: FollowOptions<T>,
  rv: string,
  seen: (rv: string) => void,
): Promise<Outcome> {
  return new Promise<Outcome>((resolve, reject) => {
    let finished = false;
    let controller: AbortController | undefined;
    let events = 0;
    const finish = (outcome: Outcome | Error) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      controller?.abort();
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    const timer = setTimeout(
      () => finish({ kind: 'deadline' }),
      Math.max(0, opts.deadline - Date.now()),
    );
    const onAbort = () => finish(opts.signal?.reason ?? new Error('aborted'));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const onEvent = (type: string, obj: T & { code?: number }) => {
      if (finished) return;
      if (type === 'ERROR') {
        finish(
          obj?.code === 410
            ? { kind: 'expired' }
            : { kind: 'error', err: { statusCode: obj?.code ?? 500, body: obj } },
        );
        return;
      }
      const version = obj?.metadata?.resourceVersion;
      if (version) seen(version);
      if (type === 'BOOKMARK') return;
      events += 1;
      if (opts.onEvent(type as WatchEventType, obj)) finish({ kind: 'done' });
    };
    const query = {
      resourceVersion: rv,
      allowWatchBookmarks: true,
      ...(opts.fieldSelector ? { fieldSelector: opts.fieldSelector } : {}),
      ...(opts.labelSelector ? { labelSelector: opts.labelSelector } : {}),
    };
    new Watch(opts.kc)
      .watch(opts.path, query, onEvent, (err: unknown) =>
        finish(err ? { kind: 'error', err } : { kind: 'ended', events }),
      )
      .then(
        (c) => {
          controller = c;
          if (finished) c.abort();
        },
        (err: unknown) => finish({ kind: 'error', err }),
      );
  });
}
