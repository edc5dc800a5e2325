import { execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { parse } from 'yaml';
import {
  ensureSeededBareRepo,
  TaskStore,
  type TaskStoreOptions,
} from '../../src/backlog/task-store.js';
import { type Logger, silentLogger } from '../../src/core/logger.js';

/** This repo's own tasks/ directory: the starting files of a task repo. */
export const SEED_DIR = fileURLToPath(new URL('../../tasks', import.meta.url));

export const AUTHOR = { name: 'Lab Bot', email: 'bot@lab.example' };
export const ALICE = { platform: 'discord', userId: '1234', displayName: 'alice' };
export const BOB = { platform: 'matrix', userId: '@bob:lab.example.org', displayName: 'Bob' };

export async function tempDir(prefix = 'backlog-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_TERMINAL_PROMPT: '0',
      GIT_AUTHOR_NAME: 'Someone Else',
      GIT_AUTHOR_EMAIL: 'else@lab.example',
      GIT_COMMITTER_NAME: 'Someone Else',
      GIT_COMMITTER_EMAIL: 'else@lab.example',
    },
  });
}

export interface Lab {
  dir: string;
  bare: string;
  workDir: string;
  /** A TaskStore on the lab's bare repo (retryPushMs 0 unless given); not initialised. */
  store(extra?: Partial<TaskStoreOptions>): TaskStore;
  /** `store(extra)`, initialised; closed by `cleanup()`. */
  open(extra?: Partial<TaskStoreOptions>): Promise<TaskStore>;
  /** A second, plain clone (someone working by hand). */
  otherClone(): Promise<string>;
  /** Files of `tasks/` as they are on the remote now, from a fresh clone. */
  remoteFile(rel: string): Promise<string>;
  remoteTasks(rel: string): Promise<Array<Record<string, unknown>>>;
  /** `git log` on the remote: subject + body of each commit, newest first. */
  remoteLog(format?: string): string[];
  commitCount(): number;
  /** Closes the stores `open()` made, then removes the lab's directory. */
  cleanup(): Promise<void>;
}

/**
 * A bare "lab repo" seeded from `seed` (default: this repo's tasks/), with helpers. With
 * `files`, those files replace/extend the seed (paths relative to tasks/).
 */
export async function makeLab(files: Record<string, string> = {}): Promise<Lab> {
  const dir = await tempDir();
  const seed = join(dir, 'seed');
  await cp(SEED_DIR, seed, { recursive: true });
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(join(seed, rel, '..'), { recursive: true });
    await writeFile(join(seed, rel), text);
  }
  const bare = join(dir, 'lab.git');
  await ensureSeededBareRepo(bare, seed, 'main', AUTHOR);
  const workDir = join(dir, 'state', 'tasks-clone');
  let clones = 0;
  let clock = Date.parse('2025-02-03T10:00:00Z');
  const opened: TaskStore[] = [];
  const lab: Lab = {
    dir,
    bare,
    workDir,
    store: (extra = {}) =>
      new TaskStore({
        repo: bare,
        branch: 'main',
        path: 'tasks',
        workDir,
        author: AUTHOR,
        logger: silentLogger(),
        now: () => {
          clock += 60_000;
          return new Date(clock);
        },
        retryPushMs: 0,
        gitTimeoutMs: 10_000,
        ...extra,
      }),
    async open(extra = {}) {
      const store = lab.store(extra);
      opened.push(store);
      await store.init();
      return store;
    },
    async otherClone() {
      const target = join(dir, `other-${++clones}`);
      git(dir, 'clone', '--quiet', bare, target);
      return target;
    },
    async remoteFile(rel) {
      const target = join(dir, `check-${++clones}`);
      git(dir, 'clone', '--quiet', bare, target);
      try {
        return await readFile(join(target, 'tasks', rel), 'utf8');
      } finally {
        await rm(target, { recursive: true, force: true });
      }
    },
    async remoteTasks(rel) {
      const doc = parse(await lab.remoteFile(rel)) as {
        tasks?: Array<Record<string, unknown>>;
      } | null;
      return doc?.tasks ?? [];
    },
    remoteLog(format = '%B') {
      return git(bare, 'log', `--format=${format}%x00`, 'main')
        .split('\0')
        .map((s) => s.trim())
        .filter((s) => s !== '');
    },
    commitCount() {
      return Number(git(bare, 'rev-list', '--count', 'main').trim());
    },
    async cleanup() {
      for (const store of opened.splice(0)) await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return lab;
}

/** A logger keeping its JSON lines, to assert on warnings. */
export function captureLogger(): { logger: Logger; text: () => string; messages: () => string[] } {
  const out: string[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => out.push(s) });
  return {
    logger,
    text: () => out.join(''),
    messages: () => out.map((l) => String((JSON.parse(l) as { msg?: unknown }).msg ?? '')),
  };
}

/** Commits `files` (relative to tasks/) in a plain clone and pushes them. */
export async function pushByHand(clone: string, files: Record<string, string>, message: string) {
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(join(clone, 'tasks', rel, '..'), { recursive: true });
    await writeFile(join(clone, 'tasks', rel), text);
  }
  git(clone, 'add', '-A');
  git(clone, 'commit', '--quiet', '-m', message);
  git(clone, 'push', '--quiet', 'origin', 'HEAD:main');
}

/** Lines removed and added between two texts (longest-common-subsequence diff). */
export function lineDiff(before: string, after: string): { removed: string[]; added: string[] } {
  const a = before.split('\n');
  const b = after.split('\n');
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () =>
    new Array(b.length + 1).fill(0),
  );
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i]![j] =
        a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const removed: string[] = [];
  const added: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      i++;
      j++;
    } else if (j < b.length && (i >= a.length || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) {
      added.push(b[j++]!);
    } else {
      removed.push(a[i++]!);
    }
  }
  return { removed, added };
}
