/**
 * Test harness around the real Alertmanager binary (Debian's `prometheus-alertmanager` 0.25;
 * `ALERTMANAGER_BIN` overrides the path). Each `startAlertmanager()` runs its own process on a
 * free loopback port with its own temp storage dir and one webhook receiver.
 *
 * Command line: `prometheus-alertmanager --config.file <tmp>/alertmanager.yml
 *   --storage.path <tmp>/data --web.listen-address 127.0.0.1:<port>
 *   --web.external-url http://127.0.0.1:<port> --cluster.listen-address=`
 * (an empty `--cluster.listen-address=` turns clustering/HA off: status shows
 * `cluster.status: "disabled"`; without it 0.25 binds 0.0.0.0:9094). Ready when `GET /-/ready`
 * answers 200 (≈ 50–100 ms after spawn). On SIGTERM it exits in ~0.1–1.5 s (it writes the
 * `nflog` and `silences` snapshots into the storage dir first).
 *
 * Timings measured with group_wait 1s, group_interval 2s:
 * - A new group's first notification is sent group_wait after its first alert arrives
 *   (pushed at 0.12 s → webhook at 1.10 s).
 * - Every later change of the group (new alerts, resolved alerts) is sent at the next
 *   group_interval tick, counted from the first flush (ticks at 1.1, 3.1, 5.1 s): a resolve
 *   pushed at 4.13 s arrived at 5.10 s, one pushed at 2.31 s at 3.09 s — so a resolved
 *   notification comes 0…group_interval after `resolve()`. An unchanged group is sent again
 *   only after repeat_interval.
 * - Alerts pushed without endsAt get endsAt = now + resolve_timeout (5m by default) in the API;
 *   the webhook shows `0001-01-01T00:00:00Z` for them while firing.
 *
 * Retries (webhook receiver, verified in test/alerts/alertmanager-client.test.ts):
 * - 5xx and network errors are retried within the same flush with exponential backoff (gaps of
 *   ≈ 0.35, 0.6, 1.2, 2.4 s … with jitter) until the flush's deadline, max(group_interval, 10 s);
 *   log: "Notify attempt failed, will retry later".
 * - 4xx (and 429) is not retried within the flush: one attempt, then "notify retry canceled due
 *   to unrecoverable error after 1 attempts". BUT a failed notification is not recorded in the
 *   notification log, so the whole group is sent again at the next group_interval tick (and every
 *   tick after it) while it has alerts — a 4xx does not drop the notification for good, it only
 *   postpones it by group_interval.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import {
  AlertmanagerClient,
  type ApiAlert,
  type ApiSilence,
} from '../../src/alerts/alertmanager-client.js';

export interface AlertmanagerOptions {
  /** Where the single webhook receiver posts, e.g. `http://127.0.0.1:PORT/hooks/alertmanager`. */
  webhookUrl: string;
  /** Sent by Alertmanager as `Authorization: Bearer <token>` (`http_config.authorization`). */
  token?: string;
  /** Default '1s'. */
  groupWait?: string;
  /** Default '2s'. */
  groupInterval?: string;
  /** Default '1h'. */
  repeatInterval?: string;
  /** Default ['alertname', 'namespace']; `['...']` groups by all labels, `[]` puts all in one group. */
  groupBy?: string[];
  /** The receiver's `max_alerts` (the rest are counted in `truncatedAlerts`). */
  maxAlerts?: number;
  /** `global.resolve_timeout` (default 5m). */
  resolveTimeout?: string;
}

export interface PushAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt?: string | Date;
  endsAt?: string | Date;
  generatorURL?: string;
}

export interface RunningAlertmanager {
  /** `http://127.0.0.1:<port>` (also the `--web.external-url`, so the webhook's `externalURL`). */
  url: string;
  port: number;
  /** The API client under test, pointed at this Alertmanager. */
  client: AlertmanagerClient;
  configFile: string;
  /** POST /api/v2/alerts. */
  push(alerts: PushAlert[]): Promise<void>;
  /** Pushes the same labels with endsAt = now: resolved notifications follow (send_resolved). */
  resolve(alerts: { labels: Record<string, string> }[]): Promise<void>;
  silences(): Promise<ApiSilence[]>;
  alerts(): Promise<ApiAlert[]>;
  /** What the process wrote to stderr so far (its log). */
  log(): string;
  /** SIGTERM, wait for exit (SIGKILL after 5 s), remove the temp dir. Idempotent. */
  stop(): Promise<void>;
}

const BIN = process.env.ALERTMANAGER_BIN ?? 'prometheus-alertmanager';
const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

/** Children still running and their temp dirs: killed and removed when the test process ends. */
const running = new Map<ChildProcess, string>();
let hooksInstalled = false;

function killAll(): void {
  for (const [child, dir] of running) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
  }
  running.clear();
}

/**
 * Makes sure no Alertmanager outlives the test process: on 'exit', and on SIGTERM/SIGINT (vitest
 * ends its fork workers with SIGTERM, then SIGKILL after 500 ms — 'exit' does not fire then), the
 * signal re-raised after cleaning up. Against SIGKILL, the child is started through
 * `setpriv --pdeathsig SIGKILL` (util-linux) so the kernel kills it with its parent.
 */
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

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

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

export function alertmanagerConfig(opts: AlertmanagerOptions): Record<string, unknown> {
  const webhook: Record<string, unknown> = { url: opts.webhookUrl, send_resolved: true };
  if (opts.token) {
    webhook.http_config = { authorization: { type: 'Bearer', credentials: opts.token } };
  }
  if (opts.maxAlerts !== undefined) webhook.max_alerts = opts.maxAlerts;
  const config: Record<string, unknown> = {
    route: {
      receiver: 'bot',
      group_by: opts.groupBy ?? ['alertname', 'namespace'],
      group_wait: opts.groupWait ?? '1s',
      group_interval: opts.groupInterval ?? '2s',
      repeat_interval: opts.repeatInterval ?? '1h',
    },
    receivers: [{ name: 'bot', webhook_configs: [webhook] }],
  };
  if (opts.resolveTimeout) config.global = { resolve_timeout: opts.resolveTimeout };
  return config;
}

export async function startAlertmanager(opts: AlertmanagerOptions): Promise<RunningAlertmanager> {
  installHooks();
  const dir = mkdtempSync(path.join(tmpdir(), 'chatops-alertmanager-'));
  const configFile = path.join(dir, 'alertmanager.yml');
  writeFileSync(configFile, stringify(alertmanagerConfig(opts)));
  // The port may be taken between freePort() and the bind: try a few times.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      return await launch(dir, configFile, port);
    } catch (err) {
      lastError = err;
      if (!/address already in use/i.test(String((err as Error).message))) break;
    }
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError;
}

async function launch(dir: string, configFile: string, port: number): Promise<RunningAlertmanager> {
  const url = `http://127.0.0.1:${port}`;
  const storage = path.join(dir, `data-${port}`);
  const args = [
    `--config.file=${configFile}`,
    `--storage.path=${storage}`,
    `--web.listen-address=127.0.0.1:${port}`,
    `--web.external-url=${url}`,
    '--cluster.listen-address=',
  ];
  const child = SETPRIV
    ? spawn(SETPRIV, ['--pdeathsig', 'SIGKILL', '--', BIN, ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
      })
    : spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.set(child, dir);
  let stderr = '';
  const keep = (d: Buffer) => {
    stderr += d.toString();
    if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
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
      `Alertmanager (${BIN} ${args.join(' ')}) ${why}\n--- its stderr ---\n${stderr.trim() || '(empty)'}`,
    );
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (spawnError) {
      running.delete(child);
      throw fail(`could not be started: ${spawnError.message} (install prometheus-alertmanager)`);
    }
    if (exited) {
      running.delete(child);
      throw fail(
        `exited before it was ready (code ${exited.code}, signal ${exited.signal})${exited.code === 127 ? '; is prometheus-alertmanager installed?' : ''}`,
      );
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exit;
      running.delete(child);
      throw fail(`was not ready within ${READY_TIMEOUT_MS} ms`);
    }
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    await sleep(30);
  }

  const client = new AlertmanagerClient({ url, timeoutMs: 5000 });
  const push = async (alerts: PushAlert[]) => {
    const body = alerts.map((a) => ({
      labels: a.labels,
      annotations: a.annotations ?? {},
      ...(a.startsAt ? { startsAt: iso(a.startsAt) } : {}),
      ...(a.endsAt ? { endsAt: iso(a.endsAt) } : {}),
      ...(a.generatorURL ? { generatorURL: a.generatorURL } : {}),
    }));
    const res = await fetch(`${url}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`pushing alerts to ${url}: ${res.status} ${text}`);
  };
  let stopping: Promise<void> | undefined;
  return {
    url,
    port,
    client,
    configFile,
    push,
    resolve: (alerts) => {
      const now = new Date();
      return push(alerts.map((a) => ({ labels: a.labels, endsAt: now })));
    },
    silences: () => client.silences(),
    alerts: () => client.alerts(),
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
        rmSync(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

function iso(d: string | Date): string {
  return typeof d === 'string' ? d : d.toISOString();
}
