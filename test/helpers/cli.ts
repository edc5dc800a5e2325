import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const CLI = path.resolve(import.meta.dirname, '../../dist/src/main.js');

export interface CliResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

export function tempStateDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'chatops-state-'));
}

/** Runs the real CLI with `input` piped to stdin (not a TTY), like `printf … | npm start`. */
export function runCli(
  input: string,
  opts: { args?: string[]; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...(opts.args ?? [])], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, CHATOPS_HTTP_PORT: '0', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ stdout, stderr, code }));
    child.stdin.end(input);
  });
}

/**
 * `runCli` with no config file (the demo config) on a new temporary state dir
 * (`CHATOPS_STATE_DIR`); the result comes with that dir, for the audit log and lab.git in it.
 */
export async function runDemo(input: string): Promise<CliResult & { state: string }> {
  const state = tempStateDir();
  return { ...(await runCli(input, { env: { CHATOPS_STATE_DIR: state } })), state };
}
