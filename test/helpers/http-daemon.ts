/**
 * A real HTTP daemon of the lab (Alertmanager, Prometheus) as a child of the test process on a
 * free loopback port. Started through `setpriv --pdeathsig SIGKILL` (util-linux) so the kernel
 * ends it with its parent however that ends; on 'exit', SIGTERM and SIGINT (vitest ends its fork
 * workers with SIGTERM, then SIGKILL after 500 ms — 'exit' does not fire then) the children still
 * running are killed and their temp dirs removed, the signal re-raised after.
 *
 * Ready when `GET <readyPath>` answers 2xx (polled every 30 ms); SIGKILLed if it is not by
 * `readyTimeoutMs`. A port taken between `freePort()` and the daemon's bind ("address already in
 * use") is tried again on another, three times in all. `stop()`: SIGTERM, SIGKILL after 5 s,
 * then the temp dir is removed.
 */
import { type ChildProcess, type StdioOptions, spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface HttpDaemonOptions {
  /** Named in errors, e.g. 'Alertmanager'. */
  name: string;
  bin: string;
  /** Its command line to listen on 127.0.0.1:`port`. */
  args(port: number): string[];
  /** Answers 2xx once it serves, e.g. '/-/ready'. */
  readyPath: string;
  readyTimeoutMs: number;
  /** Said when `bin` cannot be run, e.g. 'install the Debian package prometheus'. */
  installHint: string;
  /** The daemon's temp dir: removed on stop, on a failed start and when the test process ends. */
  dir?: string;
}

export interface RunningHttpDaemon {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  port: number;
  /** What it wrote to stderr (its log) so far, the last 100–200 kB. */
  log(): string;
  /** SIGTERM, wait for exit (SIGKILL after 5 s), remove the temp dir. Idempotent. */
  stop(): Promise<void>;
}

const STOP_TIMEOUT_MS = 5_000;
const POLL_MS = 30;
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

/** Children still running and their temp dirs. */
const running = new Map<ChildProcess, string | undefined>();
let hooksInstalled = false;

function killAll(): void {
  for (const [child, dir] of running) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
  running.clear();
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', killAll);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const onSignal = () => {
      killAll();
      process.off(signal, onSignal);
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

/** A free loopback port: bind port 0, read it, close. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export async function startHttpDaemon(opts: HttpDaemonOptions): Promise<RunningHttpDaemon> {
  installHooks();
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await launch(opts, await freePort());
    } catch (err) {
      lastError = err;
      if (!/address already in use/i.test(String((err as Error).message))) break;
    }
  }
  if (opts.dir) rmSync(opts.dir, { recursive: true, force: true });
  throw lastError;
}

async function launch(opts: HttpDaemonOptions, port: number): Promise<RunningHttpDaemon> {
  const url = `http://127.0.0.1:${port}`;
  const args = opts.args(port);
  // Both log to stderr (promlog); stdout stays empty.
  const stdio: StdioOptions = ['ignore', 'ignore', 'pipe'];
  const child: ChildProcess = SETPRIV
    ? spawn(SETPRIV, ['--pdeathsig', 'SIGKILL', '--', opts.bin, ...args], { stdio })
    : spawn(opts.bin, args, { stdio });
  running.set(child, opts.dir);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
  });
  let exited: { code: number | null; signal: string | null } | undefined;
  let spawnError: Error | undefined;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
    child.once('error', (err) => {
      spawnError = err;
      resolve();
    });
  });

  const fail = (why: string) =>
    new Error(
      `${opts.name} (${opts.bin} ${args.join(' ')}) ${why}\n--- its stderr ---\n${stderr.trim() || '(empty)'}`,
    );
  const deadline = Date.now() + opts.readyTimeoutMs;
  for (;;) {
    if (spawnError) {
      running.delete(child);
      throw fail(`could not be started: ${spawnError.message} (${opts.installHint})`);
    }
    if (exited) {
      running.delete(child);
      throw fail(
        `exited before it was ready (code ${exited.code}, signal ${exited.signal})${exited.code === 127 ? `; ${opts.installHint}` : ''}`,
      );
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exit;
      running.delete(child);
      throw fail(`was not ready within ${opts.readyTimeoutMs} ms`);
    }
    try {
      const res = await fetch(`${url}${opts.readyPath}`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    await sleep(POLL_MS);
  }

  let stopping: Promise<void> | undefined;
  return {
    url,
    port,
    log: () => stderr,
    stop: () => {
      stopping ??= (async () => {
        if (!exited && !spawnError) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
          await exit;
          clearTimeout(timer);
        }
        running.delete(child);
        if (opts.dir) rmSync(opts.dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}
