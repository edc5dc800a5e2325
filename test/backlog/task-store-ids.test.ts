import { execFileSync } from 'node:child_process';
import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { highestAddedId } from '../../src/backlog/id-history.js';
import { ALICE, BOB, type Lab, makeLab, pushByHand } from './helpers.js';

// tasks/schema.yaml: an id is "taken once over all files, never reused" — also once the
// task is gone from every file. Real git history decides.
let lab: Lab;
afterEach(() => lab?.cleanup());

function task(id: string, title: string): string {
  return `  - id: ${id}
    title: ${title}
    priority: low
    created: "2025-02-01T00:00:00Z"
    created_by: {platform: console, user_id: dave, display_name: Dave}
`;
}

describe('TaskStore: ids are never given out twice', () => {
  it('after dropping the highest id, the next add takes the one above it — also from a fresh clone', async () => {
    lab = await makeLab();
    const store = await lab.open();
    expect((await store.add({ title: 'Short-lived' }, ALICE)).task.id).toBe('T-0005');
    await store.drop('T-0005', ALICE);
    expect((await store.add({ title: 'Next one' }, ALICE)).task.id).toBe('T-0006');
    await store.drop('T-0006', ALICE);
    await store.close();

    const fresh = await lab.open({ workDir: join(lab.dir, 'fresh-clone') });
    expect((await fresh.add({ title: 'From a fresh clone' }, BOB)).task.id).toBe('T-0007');
  });

  it('counts ids added and removed by hand, before the bot ever saw the repo', async () => {
    lab = await makeLab();
    const other = await lab.otherClone();
    const backlog = await readFile(join(other, 'tasks/backlog.yaml'), 'utf8');
    await pushByHand(other, { 'backlog.yaml': backlog + task('T-0009', 'Typed by hand') }, 'add');
    await pushByHand(other, { 'backlog.yaml': backlog }, 'drop T-0009 by hand');
    const store = await lab.open();
    expect((await store.add({ title: 'After the hand edits' }, ALICE)).task.id).toBe('T-0010');
  });

  it('an offline change is renumbered when its id was taken and dropped meanwhile by another bot', async () => {
    lab = await makeLab();
    const b = await lab.open({ workDir: join(lab.dir, 'bot-b') });
    await rename(lab.bare, `${lab.bare}.away`);
    expect((await b.add({ title: 'Saved by B' }, BOB)).task.id).toBe('T-0005');
    await rename(`${lab.bare}.away`, lab.bare);
    const a = await lab.open();
    expect((await a.add({ title: 'Added by A' }, ALICE)).task.id).toBe('T-0005');
    await a.drop('T-0005', ALICE);

    expect(await b.sync()).toBe(0);
    expect((await b.show('T-0006')).title).toBe('Saved by B');
    expect((await b.add({ title: 'Next from B' }, BOB)).task.id).toBe('T-0007');
    const adds = lab.remoteLog('%s').filter((s) => s.startsWith('tasks: add'));
    expect(adds).toEqual([
      'tasks: add T-0007 Next from B',
      'tasks: add T-0006 Saved by B',
      'tasks: add T-0005 Added by A',
    ]);
  });

  it('an add and a drop both saved offline do not free the id either', async () => {
    lab = await makeLab();
    const store = await lab.open();
    await rename(lab.bare, `${lab.bare}.away`);
    expect((await store.add({ title: 'Offline one' }, ALICE)).task.id).toBe('T-0005');
    await store.drop('T-0005', ALICE);
    expect((await store.add({ title: 'Offline two' }, ALICE)).task.id).toBe('T-0006');
    await rename(`${lab.bare}.away`, lab.bare);
    expect(await store.sync()).toBe(0);
    expect(lab.remoteLog('%s').slice(0, 3)).toEqual([
      'tasks: add T-0006 Offline two',
      'tasks: drop T-0005 Offline one',
      'tasks: add T-0005 Offline one',
    ]);
  });

  it('reads ids from added lines of a patch, in block and flow style', () => {
    const patch = [
      '+++ b/tasks/backlog.yaml',
      '+  - id: T-0007',
      "+  - {id: 'T-0012', title: x}",
      '-  - id: T-0099',
      '+    title: mentions T-0500 in passing',
    ].join('\n');
    expect(highestAddedId(patch)).toBe(12);
  });

  it('stays fast with 3,000 commits of history (first add scans it all, later ones only what is new)', async () => {
    lab = await makeLab();
    // 3,000 commits, each adding a task and dropping the one added 10 commits earlier.
    const header = 'tasks:\n';
    let stream = '';
    const kept: string[] = [];
    for (let i = 1; i <= 3000; i++) {
      const id = `T-${String(1000 + i).padStart(4, '0')}`;
      kept.push(task(id, `Generated ${i}`));
      if (kept.length > 10) kept.shift();
      const text = header + kept.join('');
      const msg = `add ${id}`;
      stream += `commit refs/heads/main\ncommitter Gen <gen@lab.example> ${1_700_000_000 + i} +0000\n`;
      stream += `data ${Buffer.byteLength(msg)}\n${msg}\n`;
      if (i === 1) stream += 'from refs/heads/main^0\n';
      stream += `M 100644 inline tasks/backlog.yaml\ndata ${Buffer.byteLength(text)}\n${text}\n`;
    }
    // …and a last one emptying the backlog: only history still knows T-4000.
    const msg = 'drop every generated task';
    stream += `commit refs/heads/main\ncommitter Gen <gen@lab.example> 1700009999 +0000\n`;
    stream += `data ${msg.length}\n${msg}\nM 100644 inline tasks/backlog.yaml\ndata 10\ntasks: []\n\n`;
    execFileSync('git', ['fast-import', '--quiet'], { cwd: lab.bare, input: stream });
    expect(lab.commitCount()).toBe(3002);

    let t = Date.now();
    const store = await lab.open();
    const first = await store.add({ title: 'First after a long history' }, ALICE);
    const firstMs = Date.now() - t;
    t = Date.now();
    const second = await store.add({ title: 'Second' }, ALICE);
    const secondMs = Date.now() - t;
    expect([first.task.id, second.task.id]).toEqual(['T-4001', 'T-4002']);
    console.info(`3,000 commits: clone + first add ${firstMs} ms, next add ${secondMs} ms`);
    expect(secondMs).toBeLessThan(2000);
  });
});
