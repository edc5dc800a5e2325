import type { Logger } from '../core/logger.js';
import { lockAdvice } from './git-locks.js';
import { rebuildOnRemote } from './rebuild-pending.js';
import type { PushOutcome, TaskClone } from './task-clone.js';
import type { TaskFiles } from './task-files.js';
import type { Change } from './task-ops.js';

/**
 * Getting commits onto the remote: push at once; when the remote moved, fetch, rebuild on
 * the new head and push again (bounded); when it cannot be reached, keep the commit as a
 * pending change (pending-refs.ts) before saying so. Every push is preceded by a rebuild
 * from the pending refs, so what is pushed is always exactly the acknowledged changes
 * (plus the one in flight). Used by TaskStore inside its queue, never concurrently.
 */

export interface Published<C extends Change> {
  change: C;
  commit: string;
  pushed: boolean;
  /** Why it was not pushed, and that it will be later. */
  message?: string;
}

export class Publisher {
  constructor(
    private readonly clone: TaskClone,
    private readonly log: Logger,
    private readonly maxAttempts: number,
  ) {}

  /**
   * Applies a change to the current checkout, commits and pushes it. When the push is
   * rejected because the remote moved, the commit is dropped, pending changes are rebuilt
   * on the new head, and the change is applied again there (it may now fail with a
   * UserError, or take another id). A change that is not pushed is kept as pending before
   * this returns.
   */
  async commitAndPush<C extends Change>(
    apply: (files: TaskFiles) => C,
    message: (change: C) => string,
  ): Promise<Published<C>> {
    await this.rebuild();
    for (let attempt = 1; ; attempt++) {
      const files = await this.clone.filesForChange();
      const change = apply(files);
      const commit = await this.clone.commit(files.changed(), message(change));
      if (!commit) throw new Error(`${change.verb} ${change.id} changed no file`);
      const push = await this.clone.push();
      const log = { verb: change.verb, id: change.id, commit, attempt };
      if (push.ok) {
        await this.clone.forgetPushed();
        this.log.info(log, 'task change pushed');
        return { change, commit, pushed: true };
      }
      if (push.reason === 'rejected' && attempt < this.maxAttempts) {
        const fetched = await this.clone.fetch();
        if (!fetched.ok) {
          await this.clone.keepPending(commit);
          const unreachable: PushOutcome = {
            ok: false,
            reason: 'unreachable',
            detail: fetched.detail,
          };
          return { change, commit, pushed: false, message: notPushed(unreachable) };
        }
        this.log.info(log, 'remote moved; rebuilding the change on the new head');
        await backoff(attempt);
        await this.rebuild(); // drops this commit: it has no pending ref
        continue;
      }
      await this.clone.keepPending(commit);
      this.log.warn({ ...log, reason: push.reason, detail: push.detail }, 'task change not pushed');
      return { change, commit, pushed: false, message: notPushed(push) };
    }
  }

  /** After a fetch: push what is pending (rebuilding it if the remote moved), or catch up. */
  async syncWithRemote(why: string): Promise<void> {
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      await this.rebuild();
      const pending = (await this.clone.pending()).length;
      if (pending === 0) return;
      const push = await this.clone.push();
      if (push.ok) {
        await this.clone.forgetPushed();
        this.log.info(
          { pushed: pending, why },
          'pushed task commits saved while the remote was unreachable',
        );
        return;
      }
      if (push.reason !== 'rejected' || !(await this.clone.fetch()).ok) {
        const detail = push.reason === 'rejected' ? 'fetch failed' : push.detail;
        this.log.warn(
          { pending, why, reason: push.reason, detail },
          'task commits still not pushed',
        );
        return;
      }
      await backoff(attempt);
    }
  }

  /** Puts pending changes on the fetched remote head (see rebuild-pending.ts). */
  async rebuild(): Promise<void> {
    for (const r of await rebuildOnRemote(this.clone)) {
      if (r.renumbered.size > 0 || r.skipped.length > 0) {
        const renumbered = Object.fromEntries(r.renumbered);
        this.log.warn(
          { subject: r.subject, renumbered, skipped: r.skipped },
          're-applied an unpushed task commit',
        );
      }
    }
  }
}

/** A short random pause before retrying a push, so racing writers stop colliding. */
function backoff(attempt: number): Promise<void> {
  const ms = Math.floor(Math.random() * 25 * attempt);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function notPushed(push: PushOutcome): string {
  if (push.ok) return '';
  const later = 'it is saved locally and will be pushed when the remote is reachable';
  switch (push.reason) {
    case 'unreachable':
      return `The task repo could not be reached (${push.detail}); ${later}.`;
    case 'refused':
      return `The task repo refused the push ${push.detail}; it is saved locally and the push will be retried.`;
    case 'locked':
      return `The task repo is locked: ${lockAdvice(push.detail)}. The change is saved locally and will be pushed once the lock is gone.`;
    case 'rejected':
      return push.lock
        ? `The task repo's branch stayed locked by ${push.lock} while pushing (if that lasts, a git process there was killed: remove that file); it is saved locally and will be pushed in the background.`
        : 'The task repo kept changing while pushing; it is saved locally and will be pushed in the background.';
  }
}
