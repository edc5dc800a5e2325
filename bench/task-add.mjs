// Latency of TaskStore.add against a local bare remote (commit + push per add), and 20
// concurrent adds (serialized by the store: distinct ids, one commit each).
// Uses the built store: run `npx tsc -p tsconfig.build.json` first (npm run bench does).
// Prints a summary and one JSON line.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';

const dist = path.resolve(import.meta.dirname, '../dist/src');
const { TaskStore, ensureSeededBareRepo } = await import(`${dist}/backlog/task-store.js`);
const { silentLogger } = await import(`${dist}/core/logger.js`);

const SEQUENTIAL = Number(process.env.BENCH_ADDS ?? 30);
const CONCURRENT = 20;
const author = { name: 'Bench Bot', email: 'bench@lab.example' };
const who = { platform: 'console', userId: 'bench', displayName: 'bench' };
const seed = path.resolve(import.meta.dirname, '../tasks');

const git = (cwd, ...args) => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();
const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
};

const dir = mkdtempSync(path.join(tmpdir(), 'bench-task-add-'));
try {
  const bare = path.join(dir, 'lab.git');
  await ensureSeededBareRepo(bare, seed, 'main', author);
  const store = new TaskStore({
    repo: bare,
    branch: 'main',
    path: 'tasks',
    workDir: path.join(dir, 'tasks-clone'),
    author,
    logger: silentLogger(),
    retryPushMs: 0,
  });
  await store.init();

  const latencies = [];
  for (let i = 0; i < SEQUENTIAL; i++) {
    const t0 = process.hrtime.bigint();
    const r = await store.add({ title: `Sequential task ${i}`, tags: ['bench'] }, who);
    latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (!r.pushed) throw new Error(`add ${i} was not pushed: ${r.message}`);
  }

  const commitsBefore = Number(git(bare, 'rev-list', '--count', 'main'));
  const t0 = process.hrtime.bigint();
  const results = await Promise.all(
    Array.from({ length: CONCURRENT }, (_, i) => store.add({ title: `Concurrent task ${i}` }, who)),
  );
  const concurrentMs = Number(process.hrtime.bigint() - t0) / 1e6;
  await store.close();

  const ids = new Set(results.map((r) => r.task.id));
  const commits = Number(git(bare, 'rev-list', '--count', 'main')) - commitsBefore;
  const check = path.join(dir, 'check');
  git(dir, 'clone', '--quiet', bare, check);
  const remote = parse(git(check, 'show', 'HEAD:tasks/backlog.yaml')).tasks;
  const onRemote = remote.filter((t) => String(t.title).startsWith('Concurrent task ')).length;
  const ok = ids.size === CONCURRENT && commits === CONCURRENT && onRemote === CONCURRENT;

  const result = {
    bench: 'task-add',
    adds: SEQUENTIAL,
    medianMs: Math.round(quantile(latencies, 0.5) * 10) / 10,
    p95Ms: Math.round(quantile(latencies, 0.95) * 10) / 10,
    concurrent: CONCURRENT,
    concurrentTotalMs: Math.round(concurrentMs),
    distinctIds: ids.size,
    remoteCommits: commits,
    tasksOnRemote: onRemote,
    ok,
    git: git(dir, '--version'),
  };
  console.log(
    `task add against a local bare remote (commit + push each): median ${result.medianMs} ms, ` +
      `p95 ${result.p95Ms} ms over ${SEQUENTIAL} adds`,
  );
  console.log(
    `${CONCURRENT} concurrent adds: ${result.concurrentTotalMs} ms in all, ${ids.size} distinct ids, ` +
      `${commits} commits and ${onRemote} tasks on the remote — ${ok ? 'OK' : 'MISMATCH'}`,
  );
  console.log(JSON.stringify(result));
  if (!ok) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
