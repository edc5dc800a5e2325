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
import { NASTY_STRINGS, HAND_EDITED_BACKLOG as SRC, TASK_5 } from './fixtures.js';

const FILE = 'tasks/backlog.yaml';
type Raw = Record<string, unknown>;

function tasksOf(text: string): Raw[] {
  return (parse(text) as { tasks: Raw[] }).tasks;
}

const original = tasksOf(SRC);

/** Parses `out` independently and checks the edited task and that the others are untouched. */
function expectOnly(out: string, id: string, fields: Raw): void {
  expect(() => parseTaskFile(out, FILE)).not.toThrow();
  for (const t of tasksOf(out)) {
    if (t.id === id) {
      for (const [k, v] of Object.entries(fields)) expect(t[k], `${k} of ${id}`).toBe(v);
    } else {
      expect(t).toEqual(original.find((o) => o.id === t.id));
    }
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: looking for them
const UNPRINTABLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\ufeff]/;

describe('strings round-trip verbatim', () => {
  it.each(NASTY_STRINGS.map((s) => [JSON.stringify(s).slice(0, 60), s]))('%s', (_, s) => {
    const title = s.length <= 200 && s !== '' ? s : 'long one';
    const task = {
      ...TASK_5,
      title,
      description: s,
      source: s,
      created_by: { ...TASK_5.created_by, display_name: s },
    };
    // a new task
    const added = appendTask(SRC, FILE, task);
    expectOnly(added, 'T-0005', { title, description: s, source: s });
    expect((tasksOf(added).at(-1)!.created_by as Raw).display_name).toBe(s);
    // readable where possible: no \u escapes unless the string holds unprintable characters
    if (!UNPRINTABLE.test(s)) expect(added).not.toMatch(/\\u[0-9a-f]{4}/i);
    // a field replaced in place, and a field added to a hand-written task
    const edited = updateTask(SRC, FILE, 'T-0002', { title, description: s });
    expectOnly(edited, 'T-0002', { title, description: s });
    // a task moved to another file and edited there
    const { itemText, raw } = removeTask(added, FILE, 'T-0005');
    const moved = insertTaskText(
      newTaskFileText('In progress.'),
      'tasks/in-progress.yaml',
      itemText,
      raw,
    );
    const again = updateTask(moved, 'tasks/in-progress.yaml', 'T-0005', { source: `${s}!` });
    expect(tasksOf(again)).toEqual([{ ...task, source: `${s}!` }]);
  });

  it('multi-line text is written as a literal block, timestamps and ids as people expect', () => {
    const out = appendTask(newTaskFileText('x'), FILE, {
      ...TASK_5,
      description: 'line one\nline two: yes\n# not a comment',
    });
    expect(out).toContain(
      [
        '    description: |-',
        '      line one',
        '      line two: yes',
        '      # not a comment',
      ].join('\n'),
    );
    expect(out).toContain('  - id: T-0005\n');
    expect(out).toContain('    created: "2025-02-01T09:00:00Z"\n');
    expect(out).toContain('    title: Rotate the age key for SOPS\n');
  });

  it('property: random strings from nasty pieces survive add, edit and move', () => {
    const pieces = [
      ...NASTY_STRINGS.filter((s) => s.length < 50),
      ' ',
      '  ',
      '\n',
      '\n\n',
      '\t',
      '\r',
      '#',
      ': ',
      ':',
      '- ',
      '-',
      '"',
      "'",
      '\\',
      '|',
      '>',
      '&',
      '*',
      '!',
      '%',
      '@',
      '`',
      '{',
      '}',
      '[',
      ']',
      ',',
      '?',
      '---',
      '...',
      '😀',
      '👩‍👩‍👧',
      'é',
      '\u0000',
      '\u0085',
      '\u2028',
      '\ufeff',
      'a',
      'b c',
    ];
    let seed = 0x5eed;
    const random = () => {
      // mulberry32
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const pick = () => pieces[Math.floor(random() * pieces.length)]!;
    for (let i = 0; i < 300; i++) {
      const parts = Array.from({ length: 1 + Math.floor(random() * 8) }, pick);
      const s = parts.join('');
      const title = s.slice(0, 200) || 'x';
      const description = s.slice(0, 4000);
      const added = appendTask(SRC, FILE, { ...TASK_5, title, description });
      const last = tasksOf(added).at(-1)!;
      expect([last.title, last.description], JSON.stringify(s)).toEqual([title, description]);
      const edited = updateTask(SRC, FILE, 'T-0001', { title, description });
      expectOnly(edited, 'T-0001', { title, description });
      const { itemText, raw } = removeTask(edited, FILE, 'T-0001');
      const moved = insertTaskText(
        newTaskFileText('Done.'),
        'tasks/completed/2025-02.yaml',
        itemText,
        raw,
      );
      expect(tasksOf(moved)[0], JSON.stringify(s)).toEqual(raw);
    }
  });
});
