import { symlink, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { git, type Lab, makeLab } from './helpers.js';
import { type Ack, distBuilt, type StoreProcess, startStore } from './store-process.js';

// Three bots on one bare remote, each adding tasks in bursts, SIGKILLed at random moments
// (node alone — its git children run on — or its whole process group), sometimes cut off
// from the remote, and restarted, round after round. In the end every task a bot answered
// for is on the remote exactly once, and no id was ever given to two tasks.
// KILL_LOOP_SEED=<n> replays a run.
const BOTS = 3;
const ROUNDS = 6;
const BURST = 10;

let lab: Lab;
const running = new Set<StoreProcess>();
afterEach(async () => {
  for (const p of running) p.kill(true);
  running.clear();
  await lab?.cleanup();
});
beforeAll(() => {
  if (!distBuilt()) throw new Error('dist/ is not built: run `npx tsc -p tsconfig.build.json`');
});

/** mulberry32: a small seeded PRNG, so a failing run can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function runUntilKilled(
  remote: string,
  workDir: string,
  prefix: string,
  killAfterMs: number,
  group: boolean,
): Promise<Ack[]> {
  const p = startStore(remote, workDir);
  running.add(p);
  const timer = setTimeout(() => p.kill(group), killAfterMs);
  p.waitFor(/^READY/, 30_000).then(
    () => p.send(`burst ${prefix} ${BURST}`),
    () => undefined,
  );
  await p.exited;
  clearTimeout(timer);
  running.delete(p);
  return p.acks;
}

async function drain(remote: string, workDir: string): Promise<void> {
  const p = startStore(remote, workDir);
  running.add(p);
  await p.waitFor(/^READY/, 30_000);
  // A remote lock left by a killed push is only removed once it is 5 s old.
  for (let i = 0; i < 40; i++) {
    p.send('sync');
    const line = await p.waitFor(/^SYNCED/, 30_000);
    p.lines.length = 0;
    if (line === 'SYNCED 0') break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  p.proc.stdin?.end();
  await p.exited;
  running.delete(p);
}

function remoteTasks(clone: string): Array<{ id: string; title: string }> {
  const files = git(clone, 'ls-files', 'tasks').split('\n');
  const out: Array<{ id: string; title: string }> = [];
  for (const f of files.filter((f) =>
    /^tasks\/(backlog|in-progress|completed\/.*)\.yaml$/.test(f),
  )) {
    const doc = parse(git(clone, 'show', `HEAD:${f}`)) as {
      tasks?: Array<{ id: string; title: string }>;
    };
    out.push(...(doc?.tasks ?? []));
  }
  return out;
}

describe('TaskStore under a kill loop', () => {
  it('loses no answered task and never repeats one or an id', { timeout: 120_000 }, async () => {
    const seed = Number(process.env.KILL_LOOP_SEED ?? Date.now() % 1_000_000);
    console.info(`kill loop seed: ${seed} (KILL_LOOP_SEED=${seed} replays it)`);
    const rand = random(seed);
    lab = await makeLab();
    const remotes = Array.from({ length: BOTS }, (_, i) => join(lab.dir, `remote-${i}`));
    const clones = Array.from({ length: BOTS }, (_, i) => join(lab.dir, `bot-${i}`));
    for (const r of remotes) await symlink(lab.bare, r);
    const acks: Ack[] = [];
    let kills = 0;
    const started = Date.now();

    for (let round = 1; round <= ROUNDS; round++) {
      const offline = remotes.map(() => rand() < 0.25);
      for (const [i, r] of remotes.entries()) {
        await unlink(r);
        await symlink(offline[i] ? join(lab.dir, 'nowhere.git') : lab.bare, r);
      }
      const runs = remotes.map((r, i) =>
        runUntilKilled(
          r,
          clones[i]!,
          `b${i}r${round}`,
          200 + Math.floor(rand() * 2300),
          rand() < 0.5,
        ),
      );
      for (const got of await Promise.all(runs)) acks.push(...got);
      kills += BOTS;
    }
    for (const r of remotes) {
      await unlink(r);
      await symlink(lab.bare, r);
    }
    for (const [i, r] of remotes.entries()) await drain(r, clones[i]!);
    console.info(
      `kill loop: ${kills} kills, ${acks.length} answered adds (${acks.filter((a) => !a.pushed).length} saved locally) in ${Date.now() - started} ms`,
    );

    const check = await lab.otherClone();
    const tasks = remoteTasks(check);
    const where = `(seed ${seed})`;
    const ids = tasks.map((t) => t.id);
    expect(new Set(ids).size, `duplicate ids ${where}`).toBe(ids.length);
    const titles = tasks.map((t) => t.title);
    expect(new Set(titles).size, `a task is on the remote twice ${where}`).toBe(titles.length);
    const missing = acks.filter((a) => !titles.includes(a.title)).map((a) => a.title);
    expect(missing, `answered but not on the remote ${where}`).toEqual([]);
    const added = git(check, 'log', '--format=%s')
      .split('\n')
      .filter((s) => s.startsWith('tasks: add '))
      .map((s) => s.split(' ')[2]);
    expect(new Set(added).size, `an id was given out twice ${where}`).toBe(added.length);
    for (const c of clones) expect(git(c, 'for-each-ref', 'refs/chatops/pending/')).toBe('');
    expect(acks.length).toBeGreaterThan(0);
  });
});
