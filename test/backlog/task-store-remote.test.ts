import { readdirSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sameRemote } from '../../src/backlog/remote-url.js';
import { TaskStore } from '../../src/backlog/task-store.js';
import { rejection } from '../helpers/rejection.js';
import { ALICE, AUTHOR, captureLogger, git, type Lab, makeLab } from './helpers.js';

// A clone belongs to the remote it was cloned from: after `tasks.repo` changes, commits
// saved for the old remote must not be pushed into the new one.
const labs: Lab[] = [];
afterEach(async () => {
  for (const lab of labs.splice(0)) await lab.cleanup();
});
async function newLab(): Promise<Lab> {
  const lab = await makeLab();
  labs.push(lab);
  return lab;
}

describe('TaskStore: tasks.repo changed, same state dir', () => {
  it('moves the old clone aside with its pending commit, says so, and pushes nothing of it', async () => {
    const oldLab = await newLab();
    const store = await oldLab.open();
    await rename(oldLab.bare, `${oldLab.bare}.away`);
    expect((await store.add({ title: 'For the old repo' }, ALICE)).pushed).toBe(false);
    await store.close();
    await rename(`${oldLab.bare}.away`, oldLab.bare);

    const newRepo = await newLab();
    const log = captureLogger();
    const moved = await oldLab.open({ repo: newRepo.bare, logger: log.logger });
    expect(await moved.pendingPushes()).toBe(0);
    const r = await moved.add({ title: 'For the new repo' }, ALICE);
    expect([r.pushed, r.task.id]).toEqual([true, 'T-0005']);
    expect(newRepo.remoteLog('%s')).toEqual([
      'tasks: add T-0005 For the new repo',
      newRepo.remoteLog('%s').at(-1),
    ]);
    expect(oldLab.commitCount()).toBe(1); // the old remote did not get it either

    const kept = readdirSync(dirname(oldLab.workDir)).filter((n) =>
      n.startsWith('tasks-clone.old-'),
    );
    expect(kept).toHaveLength(1);
    const keptDir = join(dirname(oldLab.workDir), kept[0]!);
    expect(kept[0]).toMatch(/^tasks-clone\.old-\d{8}T\d{6}Z$/);
    expect(git(keptDir, 'log', '-1', '--format=%s', 'refs/chatops/pending/000001').trim()).toBe(
      'tasks: add T-0005 For the old repo',
    );
    expect(log.messages()).toContain(
      `the task repo changed from ${oldLab.bare} to ${newRepo.bare}: 1 pending commit(s) for the old remote were kept in ${keptDir} and not pushed; cloning the new remote`,
    );
  });

  it('keeps the clone (and pushes its pending commit) when the same remote is spelled differently', async () => {
    const lab = await newLab();
    const store = await lab.open();
    await rename(lab.bare, `${lab.bare}.away`);
    expect((await store.add({ title: 'Still the same repo' }, ALICE)).pushed).toBe(false);
    await store.close();
    await rename(`${lab.bare}.away`, lab.bare);
    const again = await lab.open({ repo: `${lab.bare}/` });
    expect(await again.pendingPushes()).toBe(0);
    expect(lab.remoteLog('%s')[0]).toBe('tasks: add T-0005 Still the same repo');
    expect(readdirSync(dirname(lab.workDir)).filter((n) => n.includes('.old-'))).toEqual([]);
  });

  it('never shows a credential from tasks.repo in an error or a log line', async () => {
    const lab = await newLab();
    const log = captureLogger();
    const store = new TaskStore({
      repo: 'https://bot:s3cr3t-t0ken@127.0.0.1:9/lab.git',
      branch: 'main',
      workDir: join(lab.dir, 'cred-clone'),
      author: AUTHOR,
      logger: log.logger,
      retryPushMs: 0,
    });
    const err = await rejection(store.init());
    expect(err.message).toContain(
      'while cloning the task repo https://bot:[redacted]@127.0.0.1:9/lab.git',
    );
    expect(err.message).not.toContain('s3cr3t');
    expect(JSON.stringify(err)).not.toContain('s3cr3t');
    expect(log.text()).not.toContain('s3cr3t');
  });
});

describe('remote-url', () => {
  it('treats a rotated token, case of the host, a trailing / or .git as the same remote', () => {
    expect(
      sameRemote('https://u:old@Git.Example/lab/tasks.git', 'https://u:new@git.example/lab/tasks'),
    ).toBe(true);
    expect(sameRemote('https://git.example/lab/tasks/', 'https://git.example/lab/other')).toBe(
      false,
    );
    expect(sameRemote('git@git.example:lab/tasks.git', 'deploy@git.example:lab/tasks')).toBe(true);
    expect(sameRemote('/srv/git/lab.git', '/srv/git/lab.git/')).toBe(true);
    expect(sameRemote('/srv/git/lab.git', '/srv/git/lab2.git')).toBe(false);
  });
});
