import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { ConfigInput } from '../../src/config/schema.js';
import type { OperationRecord } from '../../src/ops/journal.js';
import { CLI } from './cli.js';

/**
 * The real bot as a child process on a config file and a state dir that outlive it: started,
 * SIGKILLed at a chosen moment, started again — what a crash, an OOM kill or a reboot of the
 * bot's own node does to it.
 */
export class BotProcess {
  private child?: ChildProcess;
  stderr = '';
  starts = 0;
  readonly configFile: string;

  constructor(
    readonly stateDir: string,
    config: ConfigInput,
  ) {
    this.configFile = path.join(stateDir, 'config.yaml');
    writeFileSync(this.configFile, stringify({ ...config, state: { dir: stateDir } }));
  }

  /** The running child's pid (for /proc/<pid>/status), undefined when it is not running. */
  get pid(): number | undefined {
    return this.running ? this.child!.pid : undefined;
  }

  get running(): boolean {
    return (
      this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
    );
  }

  /**
   * Starts it and resolves once it logged `ready` (its chats connected, its operations picked up).
   * Its environment is PATH, HOME and CHATOPS_LOG_LEVEL only, plus NODE_OPTIONS =
   * `$CHATOPS_TEST_BOT_NODE_OPTIONS` when that is set (e.g. the Deployment's heap flags, for a
   * benchmark); this process's own NODE_OPTIONS is never passed on.
   */
  async start(timeoutMs = 20_000): Promise<void> {
    const before = this.stderr.length;
    this.starts += 1;
    const nodeOptions = process.env.CHATOPS_TEST_BOT_NODE_OPTIONS;
    const child = spawn(process.execPath, [CLI, '--config', this.configFile], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        CHATOPS_LOG_LEVEL: 'info',
        ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child = child;
    child.stderr!.on('data', (d) => {
      this.stderr += d;
    });
    const end = Date.now() + timeoutMs;
    while (!this.stderr.slice(before).includes('"msg":"ready"')) {
      if (child.exitCode !== null)
        throw new Error(`the bot exited (${child.exitCode}):\n${this.stderr.slice(before)}`);
      if (Date.now() > end)
        throw new Error(`the bot did not get ready:\n${this.stderr.slice(before)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** SIGKILL: nothing runs after it, no cleanup, no flush. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }

  /** The operation records on disk (what a kill leaves). */
  operations(): OperationRecord[] {
    const dir = path.join(this.stateDir, 'operations');
    try {
      return readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .flatMap((f) => {
          try {
            return [JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as OperationRecord];
          } catch {
            return [];
          }
        });
    } catch {
      return [];
    }
  }
}
