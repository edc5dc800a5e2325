// A TaskStore from the built dist/ in a process of its own, for tests that SIGKILL it.
// Usage: node store-child.mjs <repo> <workDir>; commands on stdin, one a line:
//   add <title>        → "ACK <title>\t<id>\t<pushed>" once the store answered
//   burst <prefix> <n> → n adds titled <prefix>-1 … <prefix>-n, one ACK each
//   sync               → "SYNCED <pending>"
// "READY <pending>" once init() is done; log lines (JSON) go to stderr.
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { TaskStore } from '../../dist/src/backlog/task-store.js';

const [repo, workDir] = process.argv.slice(2);
const store = new TaskStore({
  repo,
  branch: 'main',
  path: 'tasks',
  workDir,
  author: { name: 'Lab Bot', email: 'bot@lab.example' },
  logger: pino({ level: 'info' }, pino.destination({ dest: 2, sync: true })),
  retryPushMs: 0,
  gitTimeoutMs: 20_000,
});
const who = { platform: 'console', userId: 'kill-test', displayName: 'Kill Test' };
const say = (line) => process.stdout.write(`${line}\n`);

const add = async (title) => {
  const r = await store.add({ title }, who);
  say(`ACK ${title}\t${r.task.id}\t${r.pushed}`);
};

await store.init();
say(`READY ${await store.pendingPushes()}`);
for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, ...rest] = line.trim().split(' ');
  if (cmd === 'add') await add(rest.join(' '));
  else if (cmd === 'burst') {
    for (let i = 1; i <= Number(rest[1]); i++) await add(`${rest[0]}-${i}`);
  } else if (cmd === 'sync') say(`SYNCED ${await store.sync()}`);
}
await store.close();
