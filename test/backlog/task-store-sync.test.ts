import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { rejection } from '../helpers/rejection.js';
import { ALICE, BOB, type Lab, makeLab, pushByHand } from './helpers.js';

// Rebasing on a moved remote, concurrency, an unreachable remote and restarts — all with real git.
let lab: Lab;
afterEach(() => lab?.cleanup());

describe('TaskStore: concurrent writers', () => {
  it('rebuilds the change on the new head when another clone pushed first (id taken → next id)', async () => {
    lab = await makeLab();
    const store = await lab.open();
    const other = await lab.otherClone();
    const backlog = await readFile(join(other, 'tasks/backlog.yaml'), 'utf8');
    const byHand = `${backlog}
  - id: T-0005
    title: Added by hand
    priority: low
    created: "2025-02-01T00:00:00Z"
    created_by: {platform: console, user_id: dave, display_name: Dave}
`;
    await pushByHand(other, { 'backlog.yaml': byHand }, 'add T-0005 by hand');
    const before = lab.commitCount();

    const r = await store.add({ title: 'Added from chat' }, ALICE);
    expect(r.pushed).toBe(true);
    expect(r.task.id).toBe('T-0006');
    expect(lab.commitCount()).toBe(before + 1);
    expect(lab.remoteLog('%s').slice(0, 2)).toEqual([
      'tasks: add T-0006 Added from chat',
      'add T-0005 by hand',
    ]);
    const tasks = await lab.remoteTasks('backlog.yaml');
    expect(tasks.map((t) => `${t.id} ${t.title}`).slice(-2)).toEqual([
      'T-0005 Added by hand',
      'T-0006 Added from chat',
    ]);
  });

  it('re-checks the change on the new head: starting a task someone else started is refused', async () => {
    lab = await makeLab();
    const store = await lab.open();
    const first = await lab.open({ workDir: join(lab.dir, 'second-bot') });
    await first.start('T-0001', BOB);
    const err = await rejection(store.start('T-0001', ALICE));
    expect(err.message).toMatch(/^T-0001 is already in progress/);
    expect(await store.pendingPushes()).toBe(0);
    expect((await store.show('T-0001')).status).toBe('in-progress');
  });

  it('10 concurrent adds get 10 distinct ids and 10 commits', async () => {
    lab = await makeLab();
    const store = await lab.open();
    const before = lab.commitCount();
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => store.add({ title: `Task ${i}` }, ALICE)),
    );
    const ids = results.map((r) => r.task.id);
    expect(new Set(ids).size).toBe(10);
    expect(results.every((r) => r.pushed)).toBe(true);
    expect(lab.commitCount()).toBe(before + 10);
    const remote = (await lab.remoteTasks('backlog.yaml')).map((t) => t.id);
    expect(remote.slice(3)).toEqual([
      'T-0005',
      'T-0006',
      'T-0007',
      'T-0008',
      'T-0009',
      'T-0010',
      'T-0011',
      'T-0012',
      'T-0013',
      'T-0014',
    ]);
    expect(ids.sort()).toEqual(remote.slice(3));
  });

  it('two stores on two clones adding at the same time lose nothing', async () => {
    lab = await makeLab();
    const a = await lab.open();
    const b = await lab.open({ workDir: join(lab.dir, 'second-bot') });
    const results = await Promise.all([
      ...Array.from({ length: 4 }, (_, i) => a.add({ title: `A${i}` }, ALICE)),
      ...Array.from({ length: 4 }, (_, i) => b.add({ title: `B${i}` }, BOB)),
    ]);
    expect(results).toHaveLength(8);
    // A change that lost the race 5 times in a row stays pending; a sync pushes it.
    expect([await a.sync(), await b.sync()]).toEqual([0, 0]);
    const remote = await lab.remoteTasks('backlog.yaml');
    const titles = remote.map((t) => t.title).filter((t) => /^[AB]\d$/.test(String(t)));
    expect(titles.sort()).toEqual(['A0', 'A1', 'A2', 'A3', 'B0', 'B1', 'B2', 'B3']);
    expect(new Set(remote.map((t) => t.id)).size).toBe(remote.length);
  });
});

describe('TaskStore: remote unreachable', () => {
  it('keeps the commit, says so, and the background timer pushes it when the remote is back', async () => {
    lab = await makeLab();
    const store = await lab.open({ retryPushMs: 50 });
    const { rename } = await import('node:fs/promises');
    await rename(lab.bare, `${lab.bare}.away`);
    const r = await store.add({ title: 'Written while offline' }, ALICE);
    expect(r.pushed).toBe(false);
    expect(r.message).toMatch(/saved locally and will be pushed when the remote is reachable/);
    expect(r.task.id).toBe('T-0005');
    expect(await store.pendingPushes()).toBe(1);
    expect((await store.show('T-0005')).title).toBe('Written while offline');
    await rename(`${lab.bare}.away`, lab.bare);
    await expect.poll(() => store.pendingPushes(), { timeout: 5000, interval: 50 }).toBe(0);
    expect(lab.remoteLog('%s')[0]).toBe('tasks: add T-0005 Written while offline');
  });

  it('the next change pushes the pending one too', async () => {
    lab = await makeLab();
    const store = await lab.open();
    const { rename } = await import('node:fs/promises');
    await rename(lab.bare, `${lab.bare}.away`);
    expect((await store.add({ title: 'first' }, ALICE)).pushed).toBe(false);
    await rename(`${lab.bare}.away`, lab.bare);
    const second = await store.add({ title: 'second' }, ALICE);
    expect(second.pushed).toBe(true);
    expect(await store.pendingPushes()).toBe(0);
    expect(lab.remoteLog('%s').slice(0, 2)).toEqual([
      'tasks: add T-0006 second',
      'tasks: add T-0005 first',
    ]);
  });

  it('after a restart, init() pushes what was saved, rebuilt on top of changes made meanwhile', async () => {
    lab = await makeLab();
    const store = await lab.open();
    const { rename } = await import('node:fs/promises');
    await rename(lab.bare, `${lab.bare}.away`);
    const offline = await store.add({ title: 'Saved offline', node: 'pi3' }, ALICE);
    const started = await store.start('T-0001', ALICE);
    expect([offline.pushed, started.pushed, offline.task.id]).toEqual([false, false, 'T-0005']);
    await store.close();
    await rename(`${lab.bare}.away`, lab.bare);

    // Meanwhile someone takes T-0005 and edits T-0001 by hand.
    const other = await lab.otherClone();
    const backlog = await readFile(join(other, 'tasks/backlog.yaml'), 'utf8');
    await pushByHand(
      other,
      {
        'backlog.yaml': `${backlog.replace('priority: high', 'priority: critical')}
  - id: T-0005
    title: Taken meanwhile
    priority: low
    created: "2025-02-01T00:00:00Z"
    created_by: {platform: console, user_id: dave, display_name: Dave}
`,
      },
      'by hand: T-0005, T-0001 critical',
    );

    const restarted = await lab.open(); // same workDir
    expect(await restarted.pendingPushes()).toBe(0);
    expect(lab.remoteLog('%s').slice(0, 3)).toEqual([
      'tasks: start T-0001 Replace SD card on pi4-b',
      'tasks: add T-0006 Saved offline on pi3',
      'by hand: T-0005, T-0001 critical',
    ]);
    const backlogNow = await lab.remoteTasks('backlog.yaml');
    expect(backlogNow.map((t) => `${t.id} ${t.title}`)).toEqual([
      'T-0002 Move Longhorn backups to pi3',
      'T-0004 Set up Tailscale ACLs',
      'T-0005 Taken meanwhile',
      'T-0006 Saved offline',
    ]);
    const inProgress = await lab.remoteTasks('in-progress.yaml');
    expect(inProgress.map((t) => [t.id, t.priority, t.started])).toEqual([
      ['T-0003', 'high', '2025-01-11T09:05:00Z'],
      ['T-0001', 'critical', '2025-02-03T10:02:00Z'], // the hand edit survived the move
    ]);
    expect(lab.remoteLog('%B')[1]).toContain('Requested-by: discord:1234 (alice)');
  });
});

describe('TaskStore: restart while the remote is still away', () => {
  it('starts offline from its clone, keeps the pending commit, pushes it once the remote is back', async () => {
    lab = await makeLab();
    const store = await lab.open();
    const { rename } = await import('node:fs/promises');
    await rename(lab.bare, `${lab.bare}.away`);
    expect((await store.add({ title: 'Before the restart' }, ALICE)).pushed).toBe(false);
    await store.close();

    const restarted = await lab.open({ retryPushMs: 50 });
    expect(await restarted.pendingPushes()).toBe(1);
    expect((await restarted.show('T-0005')).title).toBe('Before the restart');
    const second = await restarted.add({ title: 'After the restart' }, BOB);
    expect([second.pushed, second.task.id]).toEqual([false, 'T-0006']);
    await rename(`${lab.bare}.away`, lab.bare);
    await expect.poll(() => restarted.pendingPushes(), { timeout: 5000, interval: 50 }).toBe(0);
    expect(lab.remoteLog('%s').slice(0, 2)).toEqual([
      'tasks: add T-0006 After the restart',
      'tasks: add T-0005 Before the restart',
    ]);
  });
});
