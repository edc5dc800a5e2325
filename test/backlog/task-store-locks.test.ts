import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/core/errors.js';
import { rejection } from '../helpers/rejection.js';
import { ALICE, captureLogger, type Lab, makeLab } from './helpers.js';

// Lock files a killed git leaves behind (git never removes them itself) used to break
// /task for good. Real git, real lock files, real processes holding them.
let lab: Lab;
const procs: Array<() => void> = [];
afterEach(async () => {
  for (const stop of procs.splice(0)) stop();
  await lab?.cleanup();
});

async function touchLock(file: string, ageMs = 0): Promise<void> {
  await writeFile(file, '');
  const t = new Date(Date.now() - ageMs);
  await utimes(file, t, t);
}

/** A live git process working in `dir` (as a push or commit in progress would be). */
function gitRunningIn(dir: string): () => void {
  const p = spawn('git', ['cat-file', '--batch'], {
    cwd: dir,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  const stop = () => p.stdin.end();
  procs.push(stop);
  return stop;
}

describe('TaskStore: lock files left by a killed git in its own clone', () => {
  it('removes index.lock and a branch lock at start, warns naming each, and works', async () => {
    lab = await makeLab();
    await (await lab.open()).close();
    const index = join(lab.workDir, '.git', 'index.lock');
    const branch = join(lab.workDir, '.git', 'refs', 'heads', 'main.lock');
    await touchLock(index);
    await touchLock(branch);
    const log = captureLogger();
    const store = await lab.open({ logger: log.logger });
    expect((await store.add({ title: 'After the crash' }, ALICE)).pushed).toBe(true);
    expect([existsSync(index), existsSync(branch)]).toEqual([false, false]);
    expect(log.messages()).toEqual(
      expect.arrayContaining([
        `removed stale git lock ${index} (left by a git process that was killed)`,
        `removed stale git lock ${branch} (left by a git process that was killed)`,
      ]),
    );
  });

  it('removes a lock that shows up while running and runs the command again', async () => {
    lab = await makeLab();
    const log = captureLogger();
    const store = await lab.open({ logger: log.logger });
    const index = join(lab.workDir, '.git', 'index.lock');
    await touchLock(index);
    const r = await store.add({ title: 'Despite the lock' }, ALICE);
    expect(r.pushed).toBe(true);
    expect(lab.remoteLog('%s')[0]).toBe('tasks: add T-0005 Despite the lock');
    expect(log.messages()).toContain(
      `removed stale git lock ${index} (left by a git process that was killed)`,
    );
  });

  it('leaves a lock alone while a git process works in the clone, and says which file it is', async () => {
    lab = await makeLab();
    const store = await lab.open();
    const index = join(lab.workDir, '.git', 'index.lock');
    await touchLock(index);
    const stop = gitRunningIn(lab.workDir);
    const err = await rejection(store.add({ title: 'Blocked' }, ALICE));
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toBe(
      `The task clone is locked: ${index} exists: a git process is using the repo, or one was killed while it did; if no git process is running there, remove ${index}.`,
    );
    expect(existsSync(index)).toBe(true);
    stop();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await store.add({ title: 'Unblocked' }, ALICE)).task.id).toBe('T-0005');
    // Nothing of the refused change was left in the checkout to ride along.
    expect((await lab.remoteTasks('backlog.yaml')).map((t) => t.title)).not.toContain('Blocked');
  });

  it('waits at start for a git the killed bot left running, then clears its lock', async () => {
    lab = await makeLab();
    await (await lab.open()).close();
    const index = join(lab.workDir, '.git', 'index.lock');
    await touchLock(index);
    const stop = gitRunningIn(lab.workDir);
    const started = Date.now();
    setTimeout(stop, 800);
    const store = await lab.open();
    expect(Date.now() - started).toBeGreaterThanOrEqual(700);
    expect(existsSync(index)).toBe(false);
    expect((await store.add({ title: 'After waiting' }, ALICE)).pushed).toBe(true);
  });
});

describe('TaskStore: lock files in a bare repo on this machine used as the remote', () => {
  it('removes a stale branch lock at start and when a push meets one, with a warning', async () => {
    lab = await makeLab();
    const lock = join(lab.bare, 'refs', 'heads', 'main.lock');
    await touchLock(lock, 60_000);
    const log = captureLogger();
    const store = await lab.open({ logger: log.logger });
    expect(existsSync(lock)).toBe(false);
    await touchLock(lock, 60_000);
    expect((await store.add({ title: 'Pushed anyway' }, ALICE)).pushed).toBe(true);
    expect(lab.remoteLog('%s')[0]).toBe('tasks: add T-0005 Pushed anyway');
    const removed = log.messages().filter((m) => m.startsWith('removed stale git lock'));
    expect(removed).toEqual([
      `removed stale git lock ${lock} (left by a git process that was killed)`,
      `removed stale git lock ${lock} (left by a git process that was killed)`,
    ]);
  });

  it('leaves a fresh lock alone (a push in progress), says which file, pushes once it is stale', async () => {
    lab = await makeLab();
    const store = await lab.open();
    const lock = join(lab.bare, 'refs', 'heads', 'main.lock');
    await touchLock(lock);
    const r = await store.add({ title: 'Behind a fresh lock' }, ALICE);
    expect(r.pushed).toBe(false);
    expect(r.message).toContain(`stayed locked by ${lock}`);
    expect(existsSync(lock)).toBe(true);
    await touchLock(lock, 60_000);
    expect(await store.sync()).toBe(0);
    expect(lab.remoteLog('%s')[0]).toBe('tasks: add T-0005 Behind a fresh lock');
  });

  it('does not remove a lock while a git process works in the remote: the answer names the file', async () => {
    lab = await makeLab();
    const store = await lab.open();
    const lock = join(lab.bare, 'refs', 'heads', 'main.lock');
    await touchLock(lock, 60_000);
    const stop = gitRunningIn(lab.bare);
    const r = await store.add({ title: 'Behind a held lock' }, ALICE);
    expect(r.pushed).toBe(false);
    expect(r.message).toBe(
      `The task repo is locked: ${lock} exists: a git process is using the repo, or one was killed while it did; if no git process is running there, remove ${lock}. The change is saved locally and will be pushed once the lock is gone.`,
    );
    expect(existsSync(lock)).toBe(true);
    stop();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await store.sync()).toBe(0);
    expect(lab.remoteLog('%s')[0]).toBe('tasks: add T-0005 Behind a held lock');
  });

  it('never touches a lock in a remote given as a URL', async () => {
    lab = await makeLab();
    const store = await lab.open({ repo: `file://${lab.bare}` });
    const lock = join(lab.bare, 'refs', 'heads', 'main.lock');
    await touchLock(lock, 3_600_000);
    const r = await store.add({ title: 'Over file://' }, ALICE);
    expect(r.pushed).toBe(false);
    expect(r.message).toContain(`stayed locked by ${lock}`);
    expect(existsSync(lock)).toBe(true);
  });
});
