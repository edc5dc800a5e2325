import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { UserError, wrapError } from '../core/errors.js';
import { redactUrlCredentials } from '../core/redact.js';
import { Git } from './git.js';
import { clearStaleLocks, LOCAL_REMOTE_LOCKS, lockAdvice, OWN_CLONE_LOCKS } from './git-locks.js';
import { keepPending, listPending } from './pending-refs.js';
import { isLocalRepo, sameRemote } from './remote-url.js';
import type { TaskClone } from './task-clone.js';

/**
 * Making the bot's clone ready at start-up, whatever state the last run left it in:
 *
 * - no clone: clone into `<workDir>.cloning` and rename it into place (a kill mid-clone
 *   leaves no half clone);
 * - lock files of a killed git in the clone (or in a bare repo on this machine used as the
 *   remote): removed when stale (git-locks.ts), with a warning naming each;
 * - a clone of another remote (`tasks.repo` changed): its pending commits belong to that
 *   remote and are never pushed elsewhere — the clone is moved aside to
 *   `<workDir>.old-<UTC timestamp>` (kept, with a warning saying how many) and the new
 *   remote is cloned. The same remote spelled differently (a rotated token) is kept;
 * - a clone made before pending refs: its unpushed commits become pending refs;
 * - `core.fsync=committed`, so commits and refs the bot has answered for survive a power cut.
 */

const WAIT_FOR_RUNNING_GIT_MS = 10_000;

export async function prepareClone(clone: TaskClone): Promise<void> {
  const { workDir } = clone.opts;
  await clearRemoteLocks(clone);
  if (existsSync(join(workDir, '.git'))) {
    const left = await clearStaleLocks(
      workDir,
      clone.gitDir,
      OWN_CLONE_LOCKS,
      clone.log,
      WAIT_FOR_RUNNING_GIT_MS,
    );
    // Shown as is: the person running the bot has to remove the file.
    if (left[0]) throw new UserError(`The task clone is locked: ${lockAdvice(left[0])}.`);
    const url = await clone.out(['remote', 'get-url', 'origin']).catch(() => '');
    if (url && sameRemote(url, clone.repo)) {
      if (url !== clone.repo) await clone.run(['remote', 'set-url', 'origin', clone.repo]);
      await configure(clone);
      await clone.discardUncommitted();
      return;
    }
    await moveAside(clone, url);
  }
  await cloneFresh(clone);
}

async function cloneFresh(clone: TaskClone): Promise<void> {
  const { workDir, branch } = clone.opts;
  const tmp = `${workDir}.cloning`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(dirname(workDir), { recursive: true });
  const git = new Git({ cwd: dirname(workDir), timeoutMs: clone.opts.gitTimeoutMs });
  try {
    await git.run([
      'clone',
      '--quiet',
      '--no-tags',
      '--branch',
      branch,
      '--origin',
      'origin',
      '--',
      clone.repo,
      tmp,
    ]);
    await git.run(['config', 'core.fsync', 'committed'], { cwd: tmp });
    await git.run(['config', 'chatops.pendingRefs', 'true'], { cwd: tmp });
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    const repo = redactUrlCredentials(clone.repo);
    throw wrapError(`while cloning the task repo ${repo} (branch ${branch})`, err);
  }
  await rename(tmp, workDir);
}

async function configure(clone: TaskClone): Promise<void> {
  const config = await clone
    .out(['config', '--get-regexp', '^(core\\.fsync|chatops\\.pendingrefs)$'])
    .catch(() => '');
  if (!/^core\.fsync /m.test(config)) await clone.run(['config', 'core.fsync', 'committed']);
  if (/^chatops\.pendingrefs /m.test(config)) return;
  // Made by a bot that kept unpushed commits only on the branch: keep them as pending refs.
  const legacy = await legacyCommits(clone);
  for (const sha of legacy) await keepPending((args) => clone.out(args), sha);
  if (legacy.length > 0) {
    clone.log.info({ commits: legacy.length }, 'unpushed task commits now kept as pending refs');
  }
  await clone.run(['config', 'chatops.pendingRefs', 'true']);
}

async function legacyCommits(clone: TaskClone): Promise<string[]> {
  const out = await clone
    .out(['rev-list', '--reverse', `${clone.originRef}..HEAD`])
    .catch(() => '');
  return out ? out.split('\n') : [];
}

async function moveAside(clone: TaskClone, oldUrl: string): Promise<void> {
  const { workDir } = clone.opts;
  const config = await clone.out(['config', '--get', 'chatops.pendingRefs']).catch(() => '');
  const pending =
    (await listPending((args) => clone.out(args)).catch(() => [])).length +
    (config ? 0 : (await legacyCommits(clone)).length);
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  let target = `${workDir}.old-${stamp}`;
  for (let i = 2; existsSync(target); i++) target = `${workDir}.old-${stamp}-${i}`;
  await rename(workDir, target);
  const from = oldUrl ? redactUrlCredentials(oldUrl) : '(no remote)';
  const to = redactUrlCredentials(clone.repo);
  clone.log.warn(
    { kept: target, pending, oldRemote: from, remote: to },
    `the task repo changed from ${from} to ${to}: ${pending} pending commit(s) for the old remote were kept in ${target} and not pushed; cloning the new remote`,
  );
}

/** Stale locks in the remote, when it is a bare repo on this machine (e.g. the demo's lab.git). */
async function clearRemoteLocks(clone: TaskClone): Promise<void> {
  const repo = clone.repo;
  if (!isLocalRepo(repo) || !existsSync(join(repo, 'HEAD')) || existsSync(join(repo, '.git'))) {
    return;
  }
  // Locks still there may be pushes in progress; a push that meets one says which file.
  await clearStaleLocks(repo, repo, LOCAL_REMOTE_LOCKS, clone.log);
}
