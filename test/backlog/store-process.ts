import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * A TaskStore in a child process (store-child.mjs, on the built dist/), to be killed.
 * Spawned detached, in a process group of its own, so a test can kill it alone (its git
 * children run on, as after a crash of node) or with its git children (as `kill -9 -pgid`,
 * a container stop, or the OOM killer would).
 */

const CHILD = fileURLToPath(new URL('./store-child.mjs', import.meta.url));
const DIST = fileURLToPath(new URL('../../dist/src/backlog/task-store.js', import.meta.url));

export interface Ack {
  title: string;
  id: string;
  pushed: boolean;
}

export interface StoreProcess {
  proc: ChildProcess;
  /** Every stdout line so far. */
  lines: string[];
  acks: Ack[];
  stderr(): string;
  send(line: string): void;
  /** Resolves with the first stdout line matching `re` (rejects when the process ends first). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL to node only, or to its whole process group (git children too). */
  kill(group?: boolean): void;
}

export function distBuilt(): boolean {
  return existsSync(DIST);
}

export function startStore(repo: string, workDir: string): StoreProcess {
  const proc = spawn(process.execPath, [CHILD, repo, workDir], {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
  });
  const lines: string[] = [];
  const acks: Ack[] = [];
  let err = '';
  let partial = '';
  const waiters = new Set<() => void>();
  proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    partial += chunk;
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      const m = /^ACK (.*)\t(T-\d+)\t(true|false)$/.exec(line);
      if (m) acks.push({ title: m[1]!, id: m[2]!, pushed: m[3] === 'true' });
    }
    for (const w of waiters) w();
  });
  proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  proc.stdin?.on('error', () => undefined); // writing to a killed child
  let ended = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => {
      ended = true;
      for (const w of waiters) w();
      resolve({ code, signal });
    }),
  );
  return {
    proc,
    lines,
    acks,
    stderr: () => err,
    send: (line) => {
      proc.stdin?.write(`${line}\n`);
    },
    waitFor(re, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        let seen = 0;
        const check = () => {
          for (; seen < lines.length; seen++) {
            if (re.test(lines[seen]!)) {
              done();
              resolve(lines[seen]!);
              return;
            }
          }
          if (ended) {
            done();
            reject(new Error(`store process ended before ${re}; stderr:\n${err.slice(-2000)}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${re} within ${timeoutMs} ms; stderr:\n${err.slice(-2000)}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    exited,
    kill(group = false) {
      if (proc.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
      try {
        process.kill(group ? -proc.pid : proc.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    },
  };
}
