import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/core/errors.js';
import { rejection } from '../helpers/rejection.js';
import { HAND_EDITED_BACKLOG, NASTY_STRINGS } from './fixtures.js';
import { ALICE, BOB, git, type Lab, lineDiff, makeLab, pushByHand } from './helpers.js';

let lab: Lab;
afterEach(() => lab?.cleanup());

describe('TaskStore: one commit per change, pushed', () => {
  it('add takes the next id over all files, commits with the trailer and the bot as author', async () => {
    lab = await makeLab();
    const store = await lab.open();
    const before = lab.commitCount();
    const r = await store.add(
      { title: 'Replace SD card', priority: 'high', phase: 2, tags: ['hardware'], node: 'pi4-b' },
      { ...ALICE, source: 'https://discord.com/channels/1/2/3' },
    );
    // The seed holds T-0001, T-0002, T-0004 (backlog) and T-0003 (in progress).
    expect(r).toMatchObject({ status: 'backlog', file: 'tasks/backlog.yaml', pushed: true });
    expect(r.message).toBeUndefined();
    expect(r.task).toMatchObject({
      id: 'T-0005',
      title: 'Replace SD card',
      priority: 'high',
      phase: 2,
      tags: ['hardware'],
      node: 'pi4-b',
      created: '2025-02-03T10:01:00Z',
      created_by: { platform: 'discord', user_id: '1234', display_name: 'alice' },
      source: 'https://discord.com/channels/1/2/3',
    });
    expect(lab.commitCount()).toBe(before + 1);
    expect(lab.remoteLog()[0]).toBe(
      'tasks: add T-0005 Replace SD card on pi4-b\n\nRequested-by: discord:1234 (alice)\nSource: https://discord.com/channels/1/2/3',
    );
    expect(lab.remoteLog('%an <%ae>|%cn <%ce>')[0]).toBe(
      'Lab Bot <bot@lab.example>|Lab Bot <bot@lab.example>',
    );
    expect(git(lab.bare, 'rev-parse', 'main').trim()).toBe(r.commit);
    const remote = await lab.remoteTasks('backlog.yaml');
    expect(remote.map((t) => t.id)).toEqual(['T-0001', 'T-0002', 'T-0004', 'T-0005']);
    expect(await store.pendingPushes()).toBe(0);
  });

  it('start, done, drop and edit move tasks between files, one commit each', async () => {
    lab = await makeLab();
    const store = await lab.open();
    const start = await store.start('T-0002', BOB);
    expect(start).toMatchObject({
      status: 'in-progress',
      file: 'tasks/in-progress.yaml',
      pushed: true,
    });
    expect(start.task.started).toBe('2025-02-03T10:01:00Z');

    const done = await store.done('t-3', ALICE); // T-0003 was in progress in the seed
    expect(done).toMatchObject({ status: 'done', file: 'tasks/completed/2025-02.yaml' });
    expect(done.task.completed).toBe('2025-02-03T10:02:00Z');

    const dropped = await store.drop('4', ALICE);
    expect(dropped).toMatchObject({ status: 'dropped', file: 'tasks/backlog.yaml' });
    expect(dropped.task.title).toBe('Set up Tailscale ACLs');

    const edit = await store.edit(
      'T-0001',
      { priority: 'critical', description: null, node: 'pi4-a' },
      BOB,
    );
    expect(edit.task).toMatchObject({ priority: 'critical', node: 'pi4-a' });
    expect(edit.task.description).toBeUndefined();

    expect(lab.remoteLog().slice(0, 4)).toEqual([
      'tasks: edit T-0001 Replace SD card on pi4-b on pi4-a\n\nChanged: description, priority, node.\n\nRequested-by: matrix:@bob:lab.example.org (Bob)',
      'tasks: drop T-0004 Set up Tailscale ACLs\n\nRequested-by: discord:1234 (alice)',
      'tasks: done T-0003 Pin Argo CD to v2.13 and enable auto-sync for apps/ on x86\n\nRequested-by: discord:1234 (alice)',
      'tasks: start T-0002 Move Longhorn backups to pi3\n\nRequested-by: matrix:@bob:lab.example.org (Bob)',
    ]);
    expect((await lab.remoteTasks('backlog.yaml')).map((t) => t.id)).toEqual(['T-0001']);
    expect((await lab.remoteTasks('in-progress.yaml')).map((t) => t.id)).toEqual(['T-0002']);
    const month = await lab.remoteFile('completed/2025-02.yaml');
    expect(month.startsWith('# Tasks completed in 2025-02')).toBe(true);
    expect(
      (await lab.remoteTasks('completed/2025-02.yaml')).map((t) => [t.id, t.completed]),
    ).toEqual([['T-0003', '2025-02-03T10:02:00Z']]);
    // each change touched only its files
    expect(git(lab.bare, 'show', '--name-only', '--format=', 'main~2').trim().split('\n')).toEqual([
      'tasks/completed/2025-02.yaml',
      'tasks/in-progress.yaml',
    ]);

    expect((await store.list()).map((t) => `${t.id}:${t.status}`)).toEqual([
      'T-0001:backlog',
      'T-0002:in-progress',
      'T-0003:done',
    ]);
    expect((await store.list({ status: 'in-progress' })).map((t) => t.id)).toEqual(['T-0002']);
    expect((await store.list({ tag: 'LONGHORN' })).map((t) => t.id)).toEqual(['T-0002']);
    expect((await store.list({ node: 'pi4-a' })).map((t) => t.id)).toEqual(['T-0001']);
    expect(await store.show('2')).toMatchObject({
      id: 'T-0002',
      status: 'in-progress',
      file: 'tasks/in-progress.yaml',
    });
    expect(await store.ids('T-000')).toEqual(['T-0001', 'T-0002', 'T-0003']);
    expect(await store.ids('2')).toEqual(['T-0002']);
    expect(await store.ids('', ['backlog', 'in-progress'])).toEqual(['T-0001', 'T-0002']);
  });

  it('refuses unknown ids (suggesting close ones), invalid moves and bad input, without committing', async () => {
    lab = await makeLab();
    const store = await lab.open();
    const before = lab.commitCount();
    const unknown = await rejection(store.start('T-0009', ALICE));
    expect(unknown).toBeInstanceOf(UserError);
    expect(unknown.message).toBe('No task T-0009. Did you mean T-0004, T-0003 or T-0002?');
    expect((await rejection(store.show('T-0040'))).message).toContain('Did you mean T-0004');
    expect((await rejection(store.done('banana', ALICE))).message).toBe(
      '"banana" is not a task id.',
    );
    expect((await rejection(store.start('T-0003', ALICE))).message).toBe(
      'T-0003 is already in progress (2025-01-11).',
    );
    await store.done('T-0003', ALICE);
    expect((await rejection(store.done('T-0003', ALICE))).message).toBe(
      'T-0003 is already done (2025-02-03).',
    );
    expect((await rejection(store.start('T-0003', ALICE))).message).toMatch(/already done/);
    expect((await rejection(store.drop('T-0003', ALICE))).message).toMatch(/completed tasks stay/);
    const long = await rejection(store.add({ title: 'x'.repeat(201) }, ALICE));
    expect(long).toBeInstanceOf(UserError);
    expect(long.message).toBe('The title is 201 characters long; the limit is 200.');
    expect(
      (await rejection(store.add({ title: 'ok', description: 'd'.repeat(4001) }, ALICE))).message,
    ).toBe('The description is 4001 characters long; the limit is 4000.');
    expect((await rejection(store.add({ title: '   ' }, ALICE))).message).toBe(
      'The title is empty.',
    );
    expect((await rejection(store.add({ title: 'ok', phase: 9 }, ALICE))).message).toBe(
      'Unknown phase "9".',
    );
    expect(
      (await rejection(store.add({ title: 'ok', tags: ['two words'] }, ALICE))).message,
    ).toContain('not a valid tag');
    expect((await rejection(store.edit('T-0001', {}, ALICE))).message).toBe('Nothing to change.');
    expect((await rejection(store.edit('T-0001', { priority: 'high' }, ALICE))).message).toBe(
      'T-0001 already has those values; nothing to change.',
    );
    expect(lab.commitCount()).toBe(before + 1); // only the one done
    expect(git(lab.workDir, 'status', '--porcelain')).toBe('');
  });
});

describe('TaskStore: hand-edited and broken files', () => {
  it('a commented, hand-edited backlog keeps everything but the lines a change touches', async () => {
    lab = await makeLab({ 'backlog.yaml': HAND_EDITED_BACKLOG });
    const store = await lab.open();
    await store.edit('T-0002', { priority: 'high' }, ALICE);
    expect(lineDiff(HAND_EDITED_BACKLOG, await lab.remoteFile('backlog.yaml'))).toEqual({
      removed: ['    priority: medium'],
      added: ['    priority: high'],
    });
    await store.start('T-0002', ALICE);
    const after = await lab.remoteFile('backlog.yaml');
    const diff = lineDiff(HAND_EDITED_BACKLOG, after);
    expect(diff.added).toEqual([]);
    expect(diff.removed.filter((l) => l.trim() !== '')).toEqual([
      '  - id: T-0002        # the big one',
      "    title: 'Move Longhorn backups to pi3'",
      '    priority: medium',
      '    tags:',
      '      - longhorn',
      '      - backup',
      "    created: '2025-01-04T10:00:00Z'",
      '    created_by:',
      '        platform: matrix',
      "        user_id: '@bob:lab.example.org'",
      '        display_name: Bob',
      '    # ask Bob about the NFS export first',
    ]);
    const inProgress = await lab.remoteFile('in-progress.yaml');
    expect(inProgress).toContain(
      "  - id: T-0002        # the big one\n    title: 'Move Longhorn backups to pi3'\n",
    );
    expect(inProgress).toContain(
      '    started: "2025-02-03T10:02:00Z"\n    # ask Bob about the NFS export first\n',
    );
  });

  it('a backlog that does not parse is reported with file and line and never overwritten', async () => {
    lab = await makeLab();
    const other = await lab.otherClone();
    const broken = (await readFile(join(other, 'tasks/backlog.yaml'), 'utf8')).replace(
      'title: Move Longhorn backups to pi3',
      'title: "Move Longhorn backups to pi3',
    );
    await pushByHand(other, { 'backlog.yaml': broken }, 'oops');
    const store = await lab.open();
    const before = lab.commitCount();
    const err = await rejection(store.add({ title: 'anything' }, ALICE));
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toMatch(
      /^tasks\/backlog\.yaml:\d+:\d+: tasks\/backlog\.yaml is not valid YAML/,
    );
    expect((await rejection(store.done('T-0003', ALICE))).message).toMatch(
      /^tasks\/backlog\.yaml:\d+/,
    );
    expect((await rejection(store.list())).message).toMatch(/^tasks\/backlog\.yaml:\d+/);
    expect(await readFile(join(lab.workDir, 'tasks/backlog.yaml'), 'utf8')).toBe(broken);
    expect(lab.commitCount()).toBe(before);
    expect(await store.pendingPushes()).toBe(0);
  });

  it('a task failing the schema is named with its field and line; fixing the file makes it work again', async () => {
    lab = await makeLab();
    const other = await lab.otherClone();
    const good = await readFile(join(other, 'tasks/in-progress.yaml'), 'utf8');
    const bad = good.replace('priority: high', 'priority: urgent');
    await pushByHand(other, { 'in-progress.yaml': bad }, 'oops');
    const store = await lab.open();
    const line = bad.split('\n').indexOf('    priority: urgent') + 1;
    const err = await rejection(store.add({ title: 'anything' }, ALICE));
    expect(err.message).toContain(`tasks/in-progress.yaml:${line}: task T-0003: field "priority"`);
    expect(await readFile(join(lab.workDir, 'tasks/in-progress.yaml'), 'utf8')).toBe(bad);
    await pushByHand(other, { 'in-progress.yaml': good }, 'fix');
    await store.sync();
    expect((await store.add({ title: 'anything' }, ALICE)).task.id).toBe('T-0005');
  });
});

describe('TaskStore: text from chat is stored verbatim', () => {
  it('nasty titles and descriptions read back identically from a fresh clone', async () => {
    lab = await makeLab();
    const store = await lab.open();
    // A spread of the nasty strings (all of them, and random ones, go through yaml-edit's tests).
    const samples = NASTY_STRINGS.filter(
      (s, i) =>
        i % 4 === 0 || s.includes('\n') || s.includes('🚀') || s.includes('\0') || s.includes("'"),
    );
    const ids: string[] = [];
    for (const [i, s] of samples.entries()) {
      const title = s.trim() === '' || s.length > 200 ? `title ${i}` : s;
      ids.push(
        (await store.add({ title, description: s }, { ...ALICE, displayName: s || 'x' })).task.id,
      );
    }
    const remote = await lab.remoteTasks('backlog.yaml');
    for (const [i, s] of samples.entries()) {
      const t = remote.find((r) => r.id === ids[i])!;
      const title = s.trim() === '' || s.length > 200 ? `title ${i}` : s;
      expect([
        t.title,
        t.description,
        (t.created_by as { display_name: string }).display_name,
      ]).toEqual([title, s === '' ? undefined : s, s || 'x']);
    }
    // …and the commit subjects stay on one line
    for (const subject of lab.remoteLog('%s').slice(0, samples.length))
      expect(subject).not.toContain('\n');
  });
});
