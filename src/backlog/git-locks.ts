import { readdir, readFile, readlink, realpath, stat, unlink } from 'node:fs/promises';
import { join, normalize, relative } from 'node:path';
import type { Logger } from '../core/logger.js';

/**
 * Git's `*.lock` files left behind by a git process that was killed (`index.lock`,
 * `refs/heads/main.lock`, `packed-refs.lock`, …). Git never removes them itself, so a bot
 * killed at the wrong moment would fail every later command ("Unable to create
 * '…/index.lock': File exists").
 *
 * A lock is stale when no git process on this machine works in that repo (Linux: the
 * process's cwd, from /proc — `git push` to a local path runs `git-receive-pack` there)
 * and it is at least `minAgeMs` old, or when it is older than `maxAgeMs` whatever /proc
 * says (or when /proc cannot tell). Nothing else waits that long for a lock: git takes a
 * ref lock for milliseconds and gives up after `core.filesRefLockTimeout` (100 ms).
 */

export interface LockPolicy {
  /** Never remove a lock younger than this. */
  minAgeMs: number;
  /** Older than this, a lock is stale even with a git process in the repo. */
  maxAgeMs: number;
}

/**
 * The bot's own clone: the store runs one git command at a time, so when it starts one (at
 * start-up, or after one failed on a lock) nothing of this bot holds a lock there.
 */
export const OWN_CLONE_LOCKS: LockPolicy = { minAgeMs: 0, maxAgeMs: 10 * 60_000 };
/** A bare repo on this machine used as the remote: other bots or people may push to it. */
export const LOCAL_REMOTE_LOCKS: LockPolicy = { minAgeMs: 5_000, maxAgeMs: 10 * 60_000 };

export type LockState = 'removed' | 'gone' | 'young' | 'held';

const LOCK_MESSAGE = /Unable to create '([^']+\.lock)': File exists/;

/** The lock file a git error message names, normalized (`/r.git/./refs/…` → `/r.git/refs/…`). */
export function lockFileIn(message: string): string | undefined {
  const m = LOCK_MESSAGE.exec(message);
  return m ? normalize(m[1]!) : undefined;
}

/** `*.lock` files at the top of a git dir and under `refs/` (where git puts them). */
export async function findLocks(gitDir: string): Promise<string[]> {
  const found: string[] = [];
  const top = await readdir(gitDir, { withFileTypes: true }).catch(() => []);
  for (const e of top) if (e.isFile() && e.name.endsWith('.lock')) found.push(join(gitDir, e.name));
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name.endsWith('.lock')) found.push(p);
    }
  };
  await walk(join(gitDir, 'refs'));
  return found;
}

/**
 * Pids of git processes whose working directory is `dir` or inside it; undefined when this
 * cannot be known (no /proc).
 */
export async function gitProcessesIn(dir: string): Promise<number[] | undefined> {
  let entries: string[];
  try {
    await readlink('/proc/self/cwd');
    entries = await readdir('/proc');
  } catch {
    return undefined;
  }
  const root = await realpath(dir).catch(() => dir);
  const pids: number[] = [];
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const [comm, cwd] = await Promise.all([
      readFile(`/proc/${name}/comm`, 'utf8').catch(() => ''),
      readlink(`/proc/${name}/cwd`).catch(() => ''),
    ]);
    if (!comm.startsWith('git') || !cwd) continue;
    const rel = relative(root, cwd);
    if (rel === '' || (!rel.startsWith('..') && !rel.startsWith('/'))) pids.push(Number(name));
  }
  return pids;
}

/** Removes `file` if it is a stale lock of the repo at `repoDir` (see the policy). */
export async function clearLockIfStale(
  file: string,
  repoDir: string,
  policy: LockPolicy,
  log: Logger,
): Promise<LockState> {
  const before = await stat(file).catch(() => undefined);
  if (!before) return 'gone';
  const age = Date.now() - before.mtimeMs;
  if (age < policy.minAgeMs) return 'young';
  if (age < policy.maxAgeMs) {
    const procs = await gitProcessesIn(repoDir);
    if (procs === undefined || procs.length > 0) return 'held';
  }
  const now = await stat(file).catch(() => undefined);
  if (!now) return 'gone';
  if (now.ino !== before.ino || now.mtimeMs !== before.mtimeMs) return 'young'; // taken again
  await unlink(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  log.warn(
    { file, ageSeconds: Math.round(age / 1000) },
    `removed stale git lock ${file} (left by a git process that was killed)`,
  );
  return 'removed';
}

/**
 * Clears every stale lock of a repo; waits up to `waitMs` for locks a running git process
 * holds (e.g. one the previous, killed bot left running). Returns the locks still there.
 */
export async function clearStaleLocks(
  repoDir: string,
  gitDir: string,
  policy: LockPolicy,
  log: Logger,
  waitMs = 0,
): Promise<string[]> {
  const until = Date.now() + waitMs;
  for (;;) {
    const left: string[] = [];
    for (const file of await findLocks(gitDir)) {
      const state = await clearLockIfStale(file, repoDir, policy, log);
      if (state === 'young' || state === 'held') left.push(file);
    }
    if (left.length === 0 || Date.now() >= until) return left;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** What to tell a person when a lock is in the way. */
export function lockAdvice(file: string): string {
  return `${file} exists: a git process is using the repo, or one was killed while it did; if no git process is running there, remove ${file}`;
}
