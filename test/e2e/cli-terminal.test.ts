/**
 * issue #12: the console is a terminal. Text from outside (here a task title typed with escape
 * sequences) is shown with its control characters visible, never acted on; and a reader that
 * closes early (`| head -1`) ends the bot cleanly. The real CLI (dist/src/main.js).
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI, runCli, tempStateDir } from '../helpers/cli.js';

const ESC = '\u001b';
/** OSC 52 (write the clipboard), OSC 8 (a hyperlink), CSI (clear screen), C1 CSI, BEL, backspace. */
const HOSTILE = [
  `${ESC}]52;c;cm0gLXJmIH4=\u0007`,
  `${ESC}]8;;https://evil.example\u0007click${ESC}]8;;\u0007`,
  `${ESC}[2J`,
  '\u009b31m',
  'ok\b\bKO',
].join(' ');

describe('console output is safe for a terminal', () => {
  it('shows the escapes in a task title as text; none reaches the terminal raw', async () => {
    const r = await runCli(`/help ${ESC}[2Jnode\n/task add title:"Fix ${HOSTILE}"\n/task list\n`, {
      env: { CHATOPS_STATE_DIR: tempStateDir() },
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('✖ There is no /\\x1b[2jnode command.');
    expect(r.stdout).toContain(
      'Added T-0005: Fix \\x1b]52;c;cm0gLXJmIH4=\\x07 \\x1b]8;;https://evil.example\\x07click\\x1b]8;;\\x07 \\x1b[2J \\x9b31m ok\\x08\\x08KO',
    );
    expect(r.stdout).toMatch(/T-0005 {2}backlog {6}medium {2}- {6}Fix \\x1b\]52;c;/);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for them
    expect(r.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(r.stderr).toBe('');
  });

  it('ends cleanly when its reader closes early (| head -1): exit 0, no EPIPE trace', async () => {
    // Enough output to fill the pipe: the bot is still writing when the reader goes away.
    const input = '/help node\n'.repeat(300);
    const child = spawn(process.execPath, [CLI], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        CHATOPS_HTTP_PORT: '0',
        CHATOPS_STATE_DIR: tempStateDir(),
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    let first = '';
    child.stdout.once('data', (d) => {
      first = String(d).split('\n')[0]!;
      child.stdout.destroy(); // what head does after its first line
    });
    child.stdin.on('error', () => {}); // the bot may stop reading before all input is written
    child.stdin.end(input);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(first).toBe("/node — Operate the lab's nodes: status, safe reboot, drain, cordon, logs");
    // No crash: no EPIPE, no uncaught-exception trace, no "failed to start".
    expect(stderr).not.toMatch(/EPIPE|Node\.js v|node:internal|failed to start/);
    expect(code).toBe(0);
  }, 30_000);
});
