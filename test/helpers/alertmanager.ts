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
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import {
  AlertmanagerClient,
  type ApiAlert,
  type ApiSilence,
} from '../../src/alerts/alertmanager-client.js';
import { type RunningHttpDaemon, startHttpDaemon } from './http-daemon.js';

export { freePort } from './http-daemon.js';

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

/**
 * The Alertmanager process alone, on `configFile`, its storage and temp files in `dir` (removed
 * on stop); `--web.external-url` is its own URL.
 */
export function runAlertmanager(configFile: string, dir: string): Promise<RunningHttpDaemon> {
  return startHttpDaemon({
    name: 'Alertmanager',
    bin: BIN,
    args: (port) => [
      `--config.file=${configFile}`,
      `--storage.path=${path.join(dir, `data-${port}`)}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--web.external-url=http://127.0.0.1:${port}`,
      '--cluster.listen-address=',
    ],
    readyPath: '/-/ready',
    readyTimeoutMs: 10_000,
    installHint: 'install prometheus-alertmanager',
    dir,
  });
}

export async function startAlertmanager(opts: AlertmanagerOptions): Promise<RunningAlertmanager> {
  const dir = mkdtempSync(path.join(tmpdir(), 'chatops-alertmanager-'));
  const configFile = path.join(dir, 'alertmanager.yml');
  writeFileSync(configFile, stringify(alertmanagerConfig(opts)));
  const daemon = await runAlertmanager(configFile, dir);
  const { url } = daemon;
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
  return {
    url,
    port: daemon.port,
    client,
    configFile,
    push,
    resolve: (alerts) => {
      const now = new Date();
      return push(alerts.map((a) => ({ labels: a.labels, endsAt: now })));
    },
    silences: () => client.silences(),
    alerts: () => client.alerts(),
    log: daemon.log,
    stop: daemon.stop,
  };
}

function iso(d: string | Date): string {
  return typeof d === 'string' ? d : d.toISOString();
}
