import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConsoleAdapter } from '../../src/chat/console/console-adapter.js';
import { ConsolePublisher } from '../../src/chat/console/console-publisher.js';
import { terminalSafe } from '../../src/chat/console/terminal-safe.js';
import { defineAction, defineCommand } from '../../src/core/command.js';
import type { ChatUser } from '../../src/core/invocation.js';
import { makeDispatcher } from '../helpers/dispatcher.js';

const ESC = '\u001b';
const RED = `${ESC}[31m`;

/** `/echo` shows a node's output: progress, a step and a reply carrying whatever it printed. */
const echo = defineCommand({
  name: 'echo',
  description: 'Test-only: node output back',
  action: defineAction({
    name: 'echo',
    description: 'Node output back',
    sideEffects: false,
    options: [],
    execute: async ({ progress }) => {
      await progress.update({
        title: `Reading ${RED}pi4-a\nsecond line`,
        progress: { done: 1, total: 2 },
      });
      await progress.step(`fetched\rOVERWRITTEN ${ESC}]8;;https://evil.example\u0007link`);
      return { title: `done ${RED}red\u0007`, code: 'line 1\r\nline 2\u009b2J' };
    },
  }),
});

describe('the console neutralises control characters in what it shows', () => {
  it('makes C0, C1, DEL and bidi overrides visible; keeps newlines and tabs; CRLF is a line end', () => {
    expect(terminalSafe(`a${ESC}[2Jb\u0007c\bd\re\r\nf\tg\u007fh\u0085i\u202ej`)).toBe(
      'a\\x1b[2Jb\\x07c\\x08d\\re\nf\tg\\x7fh\\x85i\\u202ej',
    );
  });

  it('interactive: its own line-clearing still works; nothing from the command is raw', async () => {
    const { dispatcher } = makeDispatcher([echo], {
      access: { readOnly: 'open', roles: {} },
    });
    const input = new PassThrough();
    const output = new PassThrough();
    let shown = '';
    output.on('data', (d) => {
      shown += d;
    });
    const user: ChatUser = { platform: 'console', id: 'ops', displayName: 'ops' };
    const adapter = new ConsoleAdapter({ dispatcher, user, input, output, interactive: true });
    await adapter.start();
    input.end('/echo\n');
    await adapter.finished;
    // The progress line is cleared with the console's own sequence before the next output.
    expect(shown).toContain(
      `… Reading \\x1b[31mpi4-a second line [#####.....] 1/2\r${ESC}[2K  › fetched\\rOVERWRITTEN \\x1b]8;;https://evil.example\\x07link\n`,
    );
    expect(shown).toContain('done \\x1b[31mred\\x07\n    line 1\n    line 2\\x9b2J');
    for (const raw of [RED, `${ESC}]`, '\u0007', '\u009b', '\b']) expect(shown).not.toContain(raw);
    // Every CR is the console's own: clearing the status line, or readline's echo of the input.
    const afterCr = shown.split('\r').slice(1);
    expect(afterCr.filter((a) => !a.startsWith(`${ESC}[2K`) && !a.startsWith('\n'))).toEqual([]);
  });

  it('alert threads: a group name and labels with escapes are shown as text', async () => {
    const lines: string[] = [];
    const p = new ConsolePublisher((t) => lines.push(t));
    const root = await p.post('console', { title: `HighTemp ${ESC}]52;c;ZXZpbA==\u0007` });
    await p.reply(root, { text: `instance=pi4-a${ESC}[8m hidden` }, `alertname=${RED}X`);
    expect(lines).toEqual([
      'HighTemp \\x1b]52;c;ZXZpbA==\\x07',
      '  ┌ alertname=\\x1b[31mX\n  │ instance=pi4-a\\x1b[8m hidden',
    ]);
  });
});
