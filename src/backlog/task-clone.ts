import { existsSync } from 'node:fs';
import { mkdir, realpath, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { UserError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { Git, GitError, type GitResult } from './git.js';
import {
  clearLockIfStale,
  LOCAL_REMOTE_LOCKS,
  type LockState,
  lockAdvice,
  lockFileIn,
  OWN_CLONE_LOCKS,
} from './git-locks.js';
import { IdHistory } from './id-history.js';
import {
  dropPending,
  keepPending,
  listPending,
  type PendingRef,
  pendingMergedInto,
} from './pending-refs.js';
import { isLocalRepo, normalizeRepo } from './remote-url.js';
import { TaskFiles } from './task-files.js';

/**
 * The bot's own clone of the lab repo: fetch/push, one commit per change, and the pending
 * (acknowledged, unpushed) changes as refs (pending-refs.ts). Setting the clone up is
 * clone-setup.ts, rebuilding pending changes on a newer remote head rebuild-pending.ts.
 * Not safe for concurrent use: TaskStore serializes every call.
 */

export { normalizeRepo } from './remote-url.js';

export interface CloneOptions {
  repo: string;
  branch: string;
  /** Task directory inside the repo: `tasks`. */
  path: string;
  workDir: string;
  author: { name: string; email: string };
  logger: Logger;
  gitTimeoutMs?: number;
}

export type PushOutcome =
  | { ok: true }
  | {
      ok: false;
      reason: 'rejected' | 'unreachable' | 'refused' | 'locked';
      /** For `locked`: the lock file in the remote repo. */
      detail: string;
      /** For `rejected`: the remote's lock file that was in the way, if that was why. */
      lock?: string;
    };

function firstLines(s: string): string {
  return s.trim().split('\n').slice(0, 3).join(' ').slice(0, 300);
}

function isInside(dir: string, file: string): boolean {
  const rel = relative(dir, file);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

export class TaskClone {
  readonly originRef: string;
  /** The remote, normalized (local paths absolute). */
  readonly repo: string;
  readonly gitDir: string;
  private readonly git: Git;
  private readonly ids: IdHistory;

  constructor(readonly opts: CloneOptions) {
    this.repo = normalizeRepo(opts.repo);
    this.git = new Git({ cwd: opts.workDir, timeoutMs: opts.gitTimeoutMs });
    this.gitDir = join(opts.workDir, '.git');
    this.originRef = `refs/remotes/origin/${opts.branch}`;
    this.ids = new IdHistory(
      (args) => this.out(args),
      join(this.gitDir, 'chatops-id-history.json'),
      opts.path,
    );
  }

  get log(): Logger {
    return this.opts.logger;
  }

  /**
   * `git <args>` in the clone. When it fails on a lock file of the clone that no running
   * git holds (left by a killed bot), the lock is removed (with a warning) and the command
   * run once more; when a live git holds it, the error names the file.
   */
  async run(
    args: readonly string[],
    opts: { env?: Record<string, string> } = {},
  ): Promise<GitResult> {
    try {
      return await this.git.run(args, opts);
    } catch (err) {
      const file = err instanceof GitError ? lockFileIn(err.stderr) : undefined;
      if (!file || !(await this.isOwnFile(file))) throw err;
      const state = await clearLockIfStale(file, this.opts.workDir, OWN_CLONE_LOCKS, this.log);
      if (state !== 'removed' && state !== 'gone') {
        throw new UserError(`The task clone is locked: ${lockAdvice(file)}.`);
      }
      return this.git.run(args, opts);
    }
  }

  async out(args: readonly string[]): Promise<string> {
    return (await this.run(args)).stdout.replace(/\n$/, '');
  }

  private async isOwnFile(file: string): Promise<boolean> {
    const abs = resolve(this.opts.workDir, file);
    if (isInside(this.gitDir, abs)) return true;
    const real = await realpath(this.gitDir).catch(() => this.gitDir);
    return isInside(real, abs);
  }

  /** After a successful fetch: be on the configured branch. */
  async ensureBranch(): Promise<void> {
    const current = await this.out(['symbolic-ref', '--quiet', '--short', 'HEAD']).catch(() => '');
    if (current !== this.opts.branch) {
      await this.run(['checkout', '--quiet', '-B', this.opts.branch, this.originRef]);
    }
  }

  async discardUncommitted(): Promise<void> {
    await this.run(['reset', '--quiet', '--hard', 'HEAD']);
    await this.run(['clean', '--quiet', '-fd', '--', this.opts.path]);
  }

  async fetch(): Promise<{ ok: true } | { ok: false; detail: string }> {
    const { branch } = this.opts;
    try {
      await this.run([
        'fetch',
        '--quiet',
        '--no-tags',
        'origin',
        `+refs/heads/${branch}:${this.originRef}`,
      ]);
      return { ok: true };
    } catch (err) {
      if (!(err instanceof GitError)) throw err;
      return { ok: false, detail: firstLines(err.stderr || err.message) };
    }
  }

  async push(retryOnStaleLock = true): Promise<PushOutcome> {
    try {
      await this.run(['push', '--porcelain', 'origin', `HEAD:refs/heads/${this.opts.branch}`]);
      return { ok: true };
    } catch (err) {
      if (!(err instanceof GitError)) throw err;
      const out = `${err.stdout}\n${err.stderr}`;
      const lock = lockFileIn(out);
      if (lock) {
        // A lock in the remote: a push racing ours (retry), or one left by a killed git.
        const state = await this.clearRemoteLock(lock);
        if ((state === 'removed' || state === 'gone') && retryOnStaleLock) return this.push(false);
        if (state === 'held') return { ok: false, reason: 'locked', detail: lock };
        const detail = 'another push updated the branch first';
        return { ok: false, reason: 'rejected', detail, lock };
      }
      // Another push won the race for the ref lock: same as the remote having moved.
      if (/\(failed to update ref\)|cannot lock ref/.test(out)) {
        return { ok: false, reason: 'rejected', detail: 'another push updated the branch first' };
      }
      const refused = /\[remote rejected\] *(\(.*\))?/.exec(out);
      if (refused)
        return { ok: false, reason: 'refused', detail: refused[1] ?? firstLines(err.stderr) };
      if (/\[rejected\]|\(fetch first\)|\(non-fast-forward\)/.test(out)) {
        return { ok: false, reason: 'rejected', detail: 'the remote has newer commits' };
      }
      return { ok: false, reason: 'unreachable', detail: firstLines(err.stderr || err.message) };
    }
  }

  /**
   * A lock file named by the remote: removed when the remote is a bare repo on this
   * machine and the lock is stale (LOCAL_REMOTE_LOCKS); `held` when it is old but cannot
   * be removed (then the message names it), `young` when it may be a push in progress.
   */
  async clearRemoteLock(file: string): Promise<LockState> {
    if (!isLocalRepo(this.repo)) return 'young';
    const bare = existsSync(join(this.repo, 'HEAD')) && !existsSync(join(this.repo, '.git'));
    const real = await realpath(this.repo).catch(() => this.repo);
    if (!bare || !(isInside(this.repo, file) || isInside(real, file))) return 'held';
    return clearLockIfStale(file, this.repo, LOCAL_REMOTE_LOCKS, this.log);
  }

  /** Acknowledged changes not on the remote yet, oldest first. */
  pending(): Promise<PendingRef[]> {
    return listPending((args) => this.out(args));
  }

  /** Records the commit at HEAD as an acknowledged change to push later. */
  async keepPending(commit: string): Promise<void> {
    await keepPending((args) => this.out(args), commit);
  }

  /** After a successful push of HEAD: forgets the pending changes it carried. */
  async forgetPushed(): Promise<void> {
    const pending = await this.pending();
    if (pending.length === 0) return;
    const pushed = await pendingMergedInto((args) => this.out(args), 'HEAD');
    await dropPending(
      (args) => this.out(args),
      pending.filter((p) => pushed.has(p.ref)),
    );
  }

  async head(): Promise<string> {
    return this.out(['rev-parse', 'HEAD']);
  }

  /** Moves the branch and the checkout to `ref` (files only tracked before are removed). */
  async resetTo(ref: string): Promise<void> {
    await this.run(['reset', '--quiet', '--hard', ref]);
  }

  files(): Promise<TaskFiles> {
    return TaskFiles.read(this.opts.workDir, this.opts.path);
  }

  /** The highest task id the remote (as last fetched) ever had in its history. */
  idsTakenOnRemote(): Promise<number> {
    return this.ids.highestOn(this.originRef);
  }

  /**
   * The checkout's task files, ready for a change: ids up to the highest one the remote
   * ever had (or an unpushed commit added) count as taken.
   */
  async filesForChange(): Promise<TaskFiles> {
    const files = await this.files();
    const [remote, local] = [
      await this.ids.highestOn(this.originRef),
      await this.ids.highestBetween(this.originRef, 'HEAD'),
    ];
    files.idFloor = Math.max(remote, local);
    return files;
  }

  /** Writes the files and commits them; undefined when there is nothing to write. */
  async commit(
    changed: ReadonlyMap<string, string>,
    message: string,
    authorDate?: string,
  ): Promise<string | undefined> {
    if (changed.size === 0) return undefined;
    const created: string[] = [];
    for (const [rel, text] of changed) {
      const abs = join(this.opts.workDir, rel);
      if (!existsSync(abs)) created.push(rel);
      await mkdir(dirname(abs), { recursive: true });
      await writeFile(abs, text, 'utf8');
    }
    // Tracked files are staged by the pathspec commit below; only new ones need `add`.
    if (created.length > 0) await this.run(['add', '--', ...created]);
    const { name, email } = this.opts.author;
    const env: Record<string, string> = {
      GIT_AUTHOR_NAME: name,
      GIT_AUTHOR_EMAIL: email,
      GIT_COMMITTER_NAME: name,
      GIT_COMMITTER_EMAIL: email,
    };
    if (authorDate) env.GIT_AUTHOR_DATE = authorDate;
    await this.run(
      [
        '-c',
        'commit.gpgSign=false',
        'commit',
        '--quiet',
        '--no-verify',
        '--cleanup=whitespace',
        '-m',
        message,
        '--',
        ...changed.keys(),
      ],
      { env },
    );
    return this.head();
  }
}
