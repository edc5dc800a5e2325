import { chmod, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Git, GitError, runGit } from '../../src/backlog/git.js';
import { ensureSeededBareRepo } from '../../src/backlog/task-store.js';
import { ALICE, AUTHOR, git, type Lab, makeLab, SEED_DIR, tempDir } from './helpers.js';

let dir: string | undefined;
let lab: Lab | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  await lab?.cleanup();
  dir = undefined;
  lab = undefined;
});

async function gitError(p: Promise<unknown>): Promise<GitError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof GitError) return err;
    throw err;
  }
  throw new Error('expected a GitError');
}

describe('git wrapper', () => {
  it('passes arguments as they are (no shell) and returns stdout', async () => {
    dir = await tempDir();
    const g = new Git({ cwd: dir });
    await g.run(['init', '--quiet', '-b', 'main']);
    const odd = 'tasks; rm -rf / $(whoami) `id` "quoted"';
    await g.run(['config', 'user.name', odd]);
    expect(await g.out(['config', 'user.name'])).toBe(odd);
  });

  it('runs without terminal prompts and in English', async () => {
    dir = await tempDir();
    const out = await runGit(['-c', 'alias.penv=!printenv GIT_TERMINAL_PROMPT LC_ALL', 'penv'], {
      cwd: dir,
    });
    expect(out.stdout).toBe('0\nC\n');
  });

  it("failures carry git's stderr and the exit code", async () => {
    dir = await tempDir();
    const err = await gitError(runGit(['rev-parse', 'HEAD'], { cwd: dir }));
    expect(err.exitCode).toBe(128);
    expect(err.stderr).toContain('not a git repository');
    expect(err.message).toMatch(
      /^git rev-parse HEAD failed \(exit 128\): fatal: not a git repository/,
    );
  });

  it('a command that takes too long is killed and says so', async () => {
    dir = await tempDir();
    const err = await gitError(
      runGit(['-c', 'alias.slow=!sleep 3', 'slow'], { cwd: dir, timeoutMs: 200 }),
    );
    expect(err.timedOut).toBe(true);
    expect(err.message).toMatch(/^git -c alias.slow=!sleep 3 slow timed out after 200 ms/);
  });
});

describe('ensureSeededBareRepo', () => {
  it("creates a bare repo with this repo's tasks/ under tasks/ in one commit, once", async () => {
    dir = await tempDir();
    const bare = join(dir, 'state', 'lab.git');
    expect(await ensureSeededBareRepo(bare, SEED_DIR, 'main', AUTHOR)).toBe(true);
    expect(git(bare, 'rev-parse', '--is-bare-repository').trim()).toBe('true');
    expect(git(bare, 'log', '--format=%s|%an <%ae>', 'main').trim()).toBe(
      'tasks: seed the task backlog|Lab Bot <bot@lab.example>',
    );
    expect(git(bare, 'ls-tree', '-r', '--name-only', 'main').trim().split('\n')).toEqual([
      'tasks/backlog.yaml',
      'tasks/completed/README.md',
      'tasks/in-progress.yaml',
      'tasks/schema.yaml',
    ]);
    expect(git(bare, 'show', 'main:tasks/backlog.yaml')).toBe(
      await readFile(join(SEED_DIR, 'backlog.yaml'), 'utf8'),
    );
    // second start: left alone
    const head = git(bare, 'rev-parse', 'main');
    expect(await ensureSeededBareRepo(bare, SEED_DIR, 'main', AUTHOR)).toBe(false);
    expect(git(bare, 'rev-parse', 'main')).toBe(head);
    // built next to it and renamed into place: no temporary directory left behind
    expect(await readdir(join(dir, 'state'))).toEqual(['lab.git']);
  });
});

describe('TaskStore against a remote that refuses pushes', () => {
  it('keeps the commit and reports the refusal (pre-receive hook)', async () => {
    lab = await makeLab();
    const store = lab.store();
    await store.init();
    const hook = join(lab.bare, 'hooks', 'pre-receive');
    await mkdir(join(lab.bare, 'hooks'), { recursive: true });
    await writeFile(hook, '#!/bin/sh\necho "main is protected" >&2\nexit 1\n');
    await chmod(hook, 0o755);
    const before = lab.commitCount();
    const r = await store.add({ title: 'Refused' }, ALICE);
    expect(r.pushed).toBe(false);
    expect(r.message).toMatch(/refused the push \(pre-receive hook declined\)/);
    expect(await store.pendingPushes()).toBe(1);
    expect(lab.commitCount()).toBe(before);
    await rm(hook);
    expect(await store.sync()).toBe(0);
    expect(lab.remoteLog('%s')[0]).toBe('tasks: add T-0005 Refused');
    await store.close();
  });

  it('close() waits for the change in flight and refuses new ones', async () => {
    lab = await makeLab();
    const store = lab.store();
    await store.init();
    const pending = store.add({ title: 'In flight' }, ALICE);
    await store.close();
    expect((await pending).pushed).toBe(true);
    await expect(store.add({ title: 'Too late' }, ALICE)).rejects.toThrow(
      'the task store is closed',
    );
  });
});
