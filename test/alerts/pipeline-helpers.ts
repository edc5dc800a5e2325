import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { AlertService } from '../../src/alerts/alert-service.js';
import { AlertRoutesSchema } from '../../src/alerts/router.js';
import type { WebhookPayload } from '../../src/alerts/types.js';
import { webhookHandler } from '../../src/alerts/webhook.js';
import type { Logger } from '../../src/core/logger.js';
import { Metrics } from '../../src/http/metrics.js';
import { RecordingPublisher } from '../helpers/recording-publisher.js';

/** Log lines as pino writes them (JSON), kept for assertions. */
export function capturedLog(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { log: pino({ level: 'info' }, sink), lines };
}

export const routes = AlertRoutesSchema.parse({
  routes: [{ match: ['severity="critical"'], to: [{ console: true }], mentions: {} }],
  default: { to: [{ console: true }] },
});

export interface Bot {
  service: AlertService;
  metrics: Metrics;
  chat: RecordingPublisher;
  /** POSTs a body (a string as is, anything else as JSON) to the webhook. */
  post(body: unknown): Promise<Response>;
  port: number;
  close(): Promise<void>;
}

/**
 * The pipeline as the app wires it: AlertService + the webhook route on a real HTTP server,
 * listening before `service.start()` is called (as in App.start: HTTP first, chats, then alerts).
 */
export async function startPipeline(
  stateDir: string,
  opts: {
    chat?: RecordingPublisher;
    log?: Logger;
    maxBacklog?: number;
    maxBodyBytes?: number;
  } = {},
): Promise<Bot> {
  const chat = opts.chat ?? new RecordingPublisher();
  const metrics = new Metrics();
  const log = opts.log ?? pino({ level: 'silent' });
  const service = new AlertService({
    stateDir,
    routes,
    rollupThreshold: 10,
    maxBacklog: opts.maxBacklog,
    publisher: () => chat,
    log,
    settleMs: 0,
    limits: { console: { maxConcurrent: 1, minTime: 0 } },
    onDeadLetter: () => metrics.alertDeadLetters.inc(),
  });
  const server: Server = createServer(
    webhookHandler({
      auth: {},
      maxBodyBytes: opts.maxBodyBytes ?? 1024 * 1024,
      accept: (p, body) => service.accept(p, body),
      backlogFull: () => service.backlogFull(),
      isRepeatBody: (body) => service.isRepeatBody(body),
      log,
      onResult: (status) => metrics.webhookRequests.inc({ status: String(status) }),
    }),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    service,
    metrics,
    chat,
    port,
    post: (body) => postWebhook(port, body),
    close: async () => {
      await service.stop();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** What Alertmanager does: POSTs a notification (JSON, or a raw body) to the bot's webhook. */
export function postWebhook(
  port: number,
  body: unknown,
  opts: { token?: string } = {},
): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}/hooks/alertmanager`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** A version-4 notification of one group; `alerts` are [fingerprint, status, labels, annotations]. */
export function notification(
  groupKey: string,
  status: 'firing' | 'resolved',
  alerts: [string, 'firing' | 'resolved', Record<string, string>, Record<string, string>?][],
  common: { groupLabels?: Record<string, string>; commonLabels?: Record<string, string> } = {},
): WebhookPayload {
  return {
    version: '4',
    receiver: 'chatops',
    status,
    alerts: alerts.map(([fingerprint, s, labels, annotations = {}]) => ({
      status: s,
      labels,
      annotations,
      startsAt: '2026-11-26T06:00:00Z',
      endsAt: s === 'resolved' ? '2026-11-26T07:00:00Z' : '0001-01-01T00:00:00Z',
      generatorURL: '',
      fingerprint,
    })),
    groupLabels: common.groupLabels ?? {},
    commonLabels: common.commonLabels ?? alerts[0]?.[2] ?? {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager.lab:9093',
    groupKey,
    truncatedAlerts: 0,
  };
}

/** A simple group `{}:{alertname="<name>"}` of one alert. */
export const simple = (name: string, status: 'firing' | 'resolved' = 'firing') =>
  notification(
    `{}:{alertname="${name}"}`,
    status,
    [[`${name}-fp`, status, { alertname: name, severity: 'warning', instance: `${name}:9100` }]],
    { groupLabels: { alertname: name } },
  );

/** Writes outbox entries as a previous run would have left them (`000000000000.json`, …). */
export function leaveInOutbox(stateDir: string, entries: string[]): string {
  const dir = path.join(stateDir, 'alerts', 'outbox');
  mkdirSync(dir, { recursive: true });
  entries.forEach((text, i) => {
    writeFileSync(path.join(dir, `${String(i).padStart(12, '0')}.json`), text);
  });
  return dir;
}

/** Everything the chat shows: roots as posted and edited, and thread posts. */
export function everything(chat: RecordingPublisher): string {
  return JSON.stringify([chat.roots, [...chat.threads.values()]]);
}
