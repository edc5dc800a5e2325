import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { wrapError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { renumberMessage } from './commit-message.js';
import { Git, GitError } from './git.js';
import { type ReplayResult, replayChange } from './replay.js';
import { TaskFiles } from './task-files.js';

/**
 * The bot's own clone of the lab repo: clone/fetch/push, one commit per change, and
 * rebuilding unpushed commits on a newer remote head (see replay.ts). Not safe for
 * concurrent use: TaskStore serializes every call.
 */

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
  | { ok: false; reason: 'rejected' | 'unreachable' | 'refused'; detail: string };

export interface ReplayedCommit extends ReplayResult {
  original: string;
  commit: string | undefined;
  subject: string;
}

/** Local paths are made absolute; URLs and `user@host:path` are kept as they are. */
export function normalizeRepo(repo: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(repo) || /^[^/\\]+@[^/\\]+:/.test(repo)
    ? repo
    : resolve(repo);
}

function firstLines(s: string): string {
  return s.trim().split('\n').slice(0, 3).join(' ').slice(0, 300);
}

export class TaskClone {
  readonly git: Git;
  readonly originRef: string;
  private readonly repo: string;

  constructor(private readonly opts: CloneOptions) {
    this.repo = normalizeRepo(opts.repo);
    this.git = new Git({ cwd: opts.workDir, timeoutMs: opts.gitTimeoutMs });
    this.originRef = `refs/remotes/origin/${opts.branch}`;
  }

  /** Clones when the work dir has no clone yet; otherwise drops uncommitted leftovers. */
  async ensureClone(): Promise<void> {
    const { workDir, branch } = this.opts;
    if (!existsSync(join(workDir, '.git'))) {
      await mkdir(dirname(workDir), { recursive: true });
      try {
        await this.git.run(
          [
            'clone',
            '--quiet',
            '--no-tags',
            '--branch',
            branch,
            '--origin',
            'origin',
            '--',
            this.repo,
            workDir,
          ],
          { cwd: dirname(workDir) },
        );
      } catch (err) {
        throw wrapError(`while cloning the task repo ${this.repo} (branch ${branch})`, err);
      }
      return;
    }
    const url = await this.git.out(['remote', 'get-url', 'origin']).catch(() => '');
    if (url !== this.repo) {
      await this.git.run(
        url ? ['remote', 'set-url', 'origin', this.repo] : ['remote', 'add', 'origin', this.repo],
      );
    }
    await this.discardUncommitted();
  }

  /** After a successful fetch: be on the configured branch. */
  async ensureBranch(): Promise<void> {
    const current = await this.git
      .out(['symbolic-ref', '--quiet', '--short', 'HEAD'])
      .catch(() => '');
    if (current !== this.opts.branch) {
      await this.git.run(['checkout', '--quiet', '-B', this.opts.branch, this.originRef]);
    }
  }

  async discardUncommitted(): Promise<void> {
    await this.git.run(['reset', '--quiet', '--hard', 'HEAD']);
    await this.git.run(['clean', '--quiet', '-fd', '--', this.opts.path]);
  }

  async fetch(): Promise<{ ok: true } | { ok: false; detail: string }> {
    const { branch } = this.opts;
    try {
      await this.git.run([
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

  async push(): Promise<PushOutcome> {
    try {
      await this.git.run(['push', '--porcelain', 'origin', `HEAD:refs/heads/${this.opts.branch}`]);
      return { ok: true };
    } catch (err) {
      if (!(err instanceof GitError)) throw err;
      const out = `${err.stdout}\n${err.stderr}`;
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

  /** Commits not on the remote branch yet, oldest first. */
  async localCommits(): Promise<string[]> {
    const out = await this.git.out(['rev-list', '--reverse', `${this.originRef}..HEAD`]);
    return out ? out.split('\n') : [];
  }

  async head(): Promise<string> {
    return this.git.out(['rev-parse', 'HEAD']);
  }

  /** Moves the branch and the checkout to `ref` (files only tracked before are removed). */
  async resetTo(ref: string): Promise<void> {
    await this.git.run(['reset', '--quiet', '--hard', ref]);
  }

  files(): Promise<TaskFiles> {
    return TaskFiles.read(this.opts.workDir, this.opts.path);
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
    if (created.length > 0) await this.git.run(['add', '--', ...created]);
    const { name, email } = this.opts.author;
    const env: Record<string, string> = {
      GIT_AUTHOR_NAME: name,
      GIT_AUTHOR_EMAIL: email,
      GIT_COMMITTER_NAME: name,
      GIT_COMMITTER_EMAIL: email,
    };
    if (authorDate) env.GIT_AUTHOR_DATE = authorDate;
    await this.git.run(
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

  /**
   * Rebuilds the local commits on the fetched remote head, one by one, from what each
   * did to the task files. On any failure the branch is put back as it was.
   */
  async replayLocalCommits(): Promise<ReplayedCommit[]> {
    const commits = await this.localCommits();
    const isAncestor = await this.git
      .run(['merge-base', '--is-ancestor', this.originRef, 'HEAD'])
      .then(
        () => true,
        () => false,
      );
    if (isAncestor) return [];
    if (commits.length === 0) {
      await this.resetTo(this.originRef);
      return [];
    }
    const plans = [];
    for (const sha of commits) plans.push(await this.describeCommit(sha));
    const oldHead = await this.head();
    const done: ReplayedCommit[] = [];
    try {
      await this.resetTo(this.originRef);
      for (const plan of plans) {
        const files = await this.files();
        const result = replayChange(files, plan.before, plan.after);
        const message = renumberMessage(plan.message, result.renumbered);
        const commit = await this.commit(files.changed(), message, plan.authorDate);
        done.push({ ...result, original: plan.sha, commit, subject: message.split('\n')[0] ?? '' });
      }
    } catch (err) {
      await this.resetTo(oldHead);
      throw wrapError('while re-applying unpushed task commits on the new remote head', err);
    }
    return done;
  }

  private async describeCommit(sha: string) {
    const changed = (
      await this.git.out(['diff-tree', '--no-commit-id', '--name-only', '-r', '-z', sha])
    )
      .split('\0')
      .filter((p) => p !== '');
    const probe = new TaskFiles(this.opts.path, new Map());
    const paths = changed.filter((p) => probe.statusOf(p) !== undefined);
    const [message, authorDate] = await Promise.all([
      this.git.out(['log', '-1', '--format=%B', sha]),
      this.git.out(['log', '-1', '--format=%aI', sha]),
    ]);
    return {
      sha,
      message,
      authorDate,
      before: await this.filesAt(`${sha}^`, paths),
      after: await this.filesAt(sha, paths),
    };
  }

  private async filesAt(rev: string, paths: string[]): Promise<TaskFiles> {
    const texts = new Map<string, string | null>();
    for (const rel of paths) {
      const text = await this.git.run(['cat-file', '-p', `${rev}:${rel}`]).then(
        (r) => r.stdout,
        () => null,
      );
      texts.set(rel, text);
    }
    return new TaskFiles(this.opts.path, texts);
  }
}
