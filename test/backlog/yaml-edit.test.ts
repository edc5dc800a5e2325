import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  appendTask,
  insertTaskText,
  newTaskFileText,
  parseTaskFile,
  removeTask,
  updateTask,
} from '../../src/backlog/yaml-edit.js';
import { UserError } from '../../src/core/errors.js';
import { HAND_EDITED_BACKLOG as SRC, TASK_5 } from './fixtures.js';
import { lineDiff } from './helpers.js';

const FILE = 'tasks/backlog.yaml';

function tasksOf(text: string): Array<Record<string, unknown>> {
  return (parse(text) as { tasks: Array<Record<string, unknown>> }).tasks;
}

function userError(fn: () => unknown): UserError {
  try {
    fn();
  } catch (err) {
    if (err instanceof UserError) return err;
    throw err;
  }
  throw new Error('expected a UserError');
}

describe('edits of a hand-edited backlog touch only their own lines', () => {
  it('appending adds the item after the last one, blank-line separated like the others', () => {
    const out = appendTask(SRC, FILE, TASK_5);
    const item = [
      '  - id: T-0005',
      '    title: Rotate the age key for SOPS',
      '    priority: medium',
      '    tags: [secrets]',
      '    created: "2025-02-01T09:00:00Z"',
      '    created_by:',
      '      platform: discord',
      '      user_id: "1234"',
      '      display_name: alice',
      '',
    ].join('\n');
    const at = SRC.indexOf('\n# New tasks go above this line.');
    expect(out).toBe(`${SRC.slice(0, at)}\n${item}${SRC.slice(at)}`);
    expect(tasksOf(out).map((t) => t.id)).toEqual(['T-0001', 'T-0002', 'T-0004', 'T-0005']);
  });

  it('changing a field replaces that line only and keeps its trailing comment', () => {
    const out = updateTask(SRC, FILE, 'T-0001', { title: 'Replace SD card on pi4-b with an SSD' });
    expect(lineDiff(SRC, out)).toEqual({
      removed: ['    title: Replace SD card on pi4-b   # it is flaky since December'],
      added: ['    title: Replace SD card on pi4-b with an SSD   # it is flaky since December'],
    });
  });

  it('changing several fields of one task, one of them nested in a block map', () => {
    const out = updateTask(SRC, FILE, 'T-0002', {
      priority: 'critical',
      tags: ['longhorn'],
      created_by: { platform: 'matrix', user_id: '@bob:lab.example.org', display_name: 'Bobby' },
    });
    expect(lineDiff(SRC, out)).toEqual({
      removed: [
        '    priority: medium',
        '    tags:',
        '      - longhorn',
        '      - backup',
        "        user_id: '@bob:lab.example.org'",
        '        display_name: Bob',
      ],
      added: [
        '    priority: critical',
        '    tags: [longhorn]',
        '        user_id: "@bob:lab.example.org"',
        '        display_name: Bobby',
      ],
    });
  });

  it('a new field goes after the field before it in the usual order', () => {
    const out = updateTask(SRC, FILE, 'T-0002', { started: '2025-02-02T08:00:00Z', phase: 4 });
    expect(lineDiff(SRC, out)).toEqual({
      removed: [],
      added: ['    phase: 4', '    started: "2025-02-02T08:00:00Z"'],
    });
    const lines = out.split('\n');
    expect(lines[lines.indexOf('    phase: 4') - 1]).toBe('    priority: medium');
    // after created_by's nested lines, before the comment that closes the item
    expect(lines[lines.indexOf('    started: "2025-02-02T08:00:00Z"') + 1]).toBe(
      '    # ask Bob about the NFS export first',
    );
  });

  it('removing a field removes all of its lines (a folded block here)', () => {
    const out = updateTask(SRC, FILE, 'T-0001', { description: undefined });
    expect(lineDiff(SRC, out)).toEqual({
      removed: [
        '    description: >',
        '      The card throws I/O errors in dmesg; swap it for a USB SSD',
        '      and boot from that.',
      ],
      added: [],
    });
  });

  it('removing a task removes its lines, its own comment and one separating blank line', () => {
    const { text, itemText, raw } = removeTask(SRC, FILE, 'T-0002');
    const start = SRC.indexOf('\n  - id: T-0002');
    const end = SRC.indexOf('# ask Bob about the NFS export first\n') + 37;
    expect(text).toBe(SRC.slice(0, start) + SRC.slice(end));
    expect(lineDiff(SRC, text).added).toEqual([]);
    expect(lineDiff(SRC, text).removed).toHaveLength(13);
    expect(text).toContain('# ---- storage ----');
    expect(text).toContain('# ---- network ----');
    expect(itemText.startsWith("- id: T-0002        # the big one\n  title: 'Move Longhorn")).toBe(
      true,
    );
    expect(raw.title).toBe('Move Longhorn backups to pi3');
  });

  it('a moved item keeps its own lines and comments in the other file', () => {
    const { itemText, raw } = removeTask(SRC, FILE, 'T-0002');
    const inProgress = newTaskFileText('In progress.');
    const moved = insertTaskText(inProgress, 'tasks/in-progress.yaml', itemText, raw);
    const out = updateTask(moved, 'tasks/in-progress.yaml', 'T-0002', {
      started: '2025-02-02T08:00:00Z',
    });
    expect(out).toBe(
      [
        '# In progress.',
        '',
        'tasks:',
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
        '    started: "2025-02-02T08:00:00Z"',
        '    # ask Bob about the NFS export first',
        '',
      ].join('\n'),
    );
  });

  it('removing the last task leaves `tasks: []` and the comments', () => {
    let text = SRC;
    for (const id of ['T-0001', 'T-0002', 'T-0004']) text = removeTask(text, FILE, id).text;
    expect(tasksOf(text)).toEqual([]);
    expect(text).toContain('tasks: []\n');
    expect(text.startsWith('# Lab backlog — edited by hand and by the bot.\n')).toBe(true);
    expect(text).toContain('# ---- storage ----');
    expect(text.endsWith('# New tasks go above this line.\n')).toBe(true);
  });
});

describe('appending to files without items', () => {
  const raw = { ...TASK_5, tags: [] };
  const expectItem = (out: string) => expect(tasksOf(out)).toEqual([raw]);

  it('`tasks: []` with a comment after it', () => {
    const out = appendTask('# header\ntasks: []   # empty for now\n', FILE, raw);
    expect(out.startsWith('# header\ntasks:   # empty for now\n  - id: T-0005\n')).toBe(true);
    expectItem(out);
  });

  it('`tasks:` with nothing, `tasks: ~`, a comment-only file, an empty file', () => {
    for (const src of ['tasks:\n', 'tasks: ~\n', 'tasks:', '# only a comment\n', '']) {
      const out = appendTask(src, FILE, raw);
      expectItem(out);
      if (src.startsWith('#')) expect(out.startsWith('# only a comment\n')).toBe(true);
    }
  });

  it('a file whose list has no indentation keeps that style', () => {
    const src =
      'tasks:\n- id: T-0001\n  title: a\n  priority: low\n  created: "2025-01-01T00:00:00Z"\n  created_by: {platform: x, user_id: "1", display_name: y}\n';
    const out = appendTask(src, FILE, raw);
    expect(out.startsWith(src)).toBe(true);
    expect(out.slice(src.length).startsWith('- id: T-0005\n  title: Rotate')).toBe(true);
  });

  it('a file with Windows line endings stays CRLF', () => {
    const src = SRC.replace(/\n/g, '\r\n');
    const out = appendTask(src, FILE, raw);
    expect(out.replace(/\r\n/g, '')).not.toContain('\n');
    expect(tasksOf(out).at(-1)).toEqual(raw);
  });

  it('a flow-style list still gets the right data (re-rendered through the Document API)', () => {
    const src =
      '# mine\ntasks: [{id: T-0001, title: a, priority: low, created: "2025-01-01T00:00:00Z", created_by: {platform: x, user_id: "1", display_name: y}}]\n';
    const out = appendTask(src, FILE, raw);
    expect(out.startsWith('# mine\n')).toBe(true);
    expect(tasksOf(out).map((t) => t.id)).toEqual(['T-0001', 'T-0005']);
  });
});

describe('files that cannot be read are reported with file and line', () => {
  it('YAML syntax errors', () => {
    const bad = SRC.replace(
      "title: 'Move Longhorn backups to pi3'",
      "title: 'Move Longhorn backups",
    );
    const err = userError(() => parseTaskFile(bad, FILE));
    expect(err.message).toMatch(
      /^tasks\/backlog\.yaml:\d+:\d+: tasks\/backlog\.yaml is not valid YAML/,
    );
    expect(err.hint).toContain('Fix the file');
  });

  it('a task failing the schema names the task, the field and its line', () => {
    const bad = SRC.replace('    priority: medium', '    priority: urgent');
    const line = bad.split('\n').indexOf('    priority: urgent') + 1;
    const err = userError(() => parseTaskFile(bad, FILE));
    expect(err.message).toContain(`tasks/backlog.yaml:${line}: task T-0002: field "priority"`);
    expect(err.message).toMatch(/low.*medium.*high.*critical/);
  });

  it('a missing field, an unknown field, a nested field, a duplicate id', () => {
    const missing = userError(() =>
      parseTaskFile(SRC.replace('    title: Set up Tailscale ACLs\n', ''), FILE),
    );
    expect(missing.message).toMatch(
      /tasks\/backlog\.yaml:\d+: task T-0004: field "title" is missing/,
    );
    const unknown = userError(() =>
      parseTaskFile(SRC.replace('    node: pi4-b', '    nodes: pi4-b'), FILE),
    );
    expect(unknown.message).toMatch(/task T-0001: field "nodes"/);
    const nested = userError(() =>
      parseTaskFile(SRC.replace("user_id: '@bob", "user_id: 7\n        x: '@bob"), FILE),
    );
    expect(nested.message).toMatch(/task T-0002: field "created_by/);
    const dup = SRC.replace('id: T-0004', 'id: T-0001');
    const line = dup.split('\n').indexOf('  - id: T-0001', 10) + 1;
    expect(userError(() => parseTaskFile(dup, FILE)).message).toContain(
      `tasks/backlog.yaml:${line}: task T-0001 appears twice`,
    );
  });

  it('the wrong shape', () => {
    expect(userError(() => parseTaskFile('- a\n- b\n', FILE)).message).toContain(
      'expected a mapping',
    );
    expect(userError(() => parseTaskFile('tasks: 3\n', FILE)).message).toContain('must be a list');
    expect(userError(() => parseTaskFile('a: 1\n---\nb: 2\n', FILE)).message).toMatch(
      /^tasks\/backlog\.yaml:2:1:/,
    );
  });

  it('edits refuse such a file instead of rewriting it', () => {
    const bad = SRC.replace('    priority: medium', '    priority: urgent');
    expect(() => appendTask(bad, FILE, TASK_5)).toThrow(UserError);
    expect(() => updateTask(bad, FILE, 'T-0001', { title: 'x' })).toThrow(UserError);
  });
});
