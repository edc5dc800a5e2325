import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AlertService, BacklogFullError } from '../../src/alerts/alert-service.js';
import { AlertRoutesSchema } from '../../src/alerts/router.js';
import type { WebhookPayload } from '../../src/alerts/types.js';
import { webhookHandler } from '../../src/alerts/webhook.js';
import { silentLogger } from '../../src/core/logger.js';
import { tempStateDir } from '../helpers/cli.js';
import { RecordingPublisher } from '../helpers/recording-publisher.js';

const fixture = (name: string): WebhookPayload =>
  JSON.parse(
    readFileSync(
      path.resolve(import.meta.dirname, '../fixtures/alertmanager', `${name}.json`),
      'utf8',
    ),
  );

const routes = AlertRoutesSchema.parse({ default: { to: [{ console: true }] } });

function service(
  stateDir: string,
  publisher: RecordingPublisher,
  rollupThreshold = 10,
  minTime = 0,
  maxBacklog?: number,
) {
  return new AlertService({
    stateDir,
    maxBacklog,
    routes,
    rollupThreshold,
    publisher: () => publisher,
    log: silentLogger(),
    limits: { console: { maxConcurrent: 1, minTime } },
  });
}

/** A group of `n` alerts named `name`, as Alertmanager would send it. */
function group(name: string, n: number, status: 'firing' | 'resolved' = 'firing'): WebhookPayload {
  const alerts = Array.from({ length: n }, (_, i) => ({
    status,
    labels: { alertname: name, namespace: 'lab', severity: 'warning', instance: `node-${i}:9100` },
    annotations: { summary: `${name} on node-${i}` },
    startsAt: '2026-11-26T06:00:00Z',
    endsAt: status === 'resolved' ? '2026-11-26T07:00:00Z' : '0001-01-01T00:00:00Z',
    generatorURL: '',
    fingerprint: `${name}-${i}`.padEnd(16, '0'),
  }));
  return {
    version: '4',
    receiver: 'bot',
    status,
    alerts,
    groupLabels: { alertname: name, namespace: 'lab' },
    commonLabels: { alertname: name, namespace: 'lab', severity: 'warning' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager.lab:9093',
    groupKey: `{}:{alertname="${name}", namespace="lab"}`,
    truncatedAlerts: 0,
  };
}

describe('alert service (outbox → state → delivery)', () => {
  it('posts one root per group; retries and repeats add nothing; resolve edits the root and tells the thread', async () => {
    const chat = new RecordingPublisher();
    const s = service(tempStateDir(), chat);
    await s.start();
    await s.accept(fixture('firing-single'));
    await s.accept(fixture('firing-single')); // Alertmanager retry
    await s.settled();
    expect(chat.roots).toHaveLength(1);
    expect(chat.roots[0]!.reply.title).toBe('[FIRING:1] KubePodCrashLooping (home-assistant)');
    await s.accept(fixture('resolved'));
    await s.settled();
    expect(chat.roots).toHaveLength(1);
    expect(chat.current('1').title).toBe('[RESOLVED] KubePodCrashLooping (home-assistant)');
    expect(chat.thread('1').map((r) => r.title ?? r.text)).toEqual([
      expect.stringMatching(/^✅ Group resolved after/),
    ]);
    await s.stop();
  });

  it('delivers exactly once when restarted between receipt and delivery', async () => {
    const dir = tempStateDir();
    const first = new RecordingPublisher();
    const s1 = service(dir, first);
    // Accepted (durably) but never started: the process "dies" before delivery.
    await s1.accept(fixture('firing-critical'));
    await s1.stop();
    expect(first.roots).toHaveLength(0);

    const second = new RecordingPublisher();
    const s2 = service(dir, second);
    await s2.start();
    await s2.settled();
    expect(second.roots.map((r) => r.reply.title)).toEqual([
      '[FIRING:1] NodeFilesystemSpaceFillingUp (monitoring)',
    ]);
    await s2.stop();

    const third = new RecordingPublisher();
    const s3 = service(dir, third);
    await s3.start();
    await s3.accept(fixture('firing-critical')); // the repeat after restart
    await s3.settled();
    expect(third.calls).toBe(0);
    await s3.stop();
  });

  it('keeps trying when the chat is down, and delivers once it is back', async () => {
    const chat = new RecordingPublisher();
    chat.failWith = new Error('503 from Discord');
    const s = service(tempStateDir(), chat);
    await s.start();
    await s.accept(fixture('firing-truncated-group'));
    await s.settled();
    expect(chat.roots).toHaveLength(0);
    chat.failWith = undefined;
    await new Promise((r) => setTimeout(r, 2500)); // first retry after 2 s
    await s.settled();
    expect(chat.roots).toHaveLength(1);
    expect(chat.roots[0]!.reply.text).toContain('+1 more');
    await s.stop();
  });

  it('rolls a storm up into one message whose thread lists every alert, and one post when it recovers', async () => {
    const chat = new RecordingPublisher();
    // Paced like a real chat (updates pile up while a post waits its turn).
    const s = service(tempStateDir(), chat, 10, 300);
    for (let i = 0; i < 40; i++) await s.accept(group(`Storm${i}`, 10));
    await s.start();
    await s.settled();
    expect(chat.roots).toHaveLength(1);
    const rollup = chat.roots[0]!;
    expect(rollup.reply.title).toMatch(/40/);
    const details = chat.thread(rollup.id)[0]!.code!;
    for (let i = 0; i < 40; i++)
      for (let j = 0; j < 10; j++) expect(details).toContain(`Storm${i} node-${j}:9100`);

    for (let i = 0; i < 40; i++) await s.accept(group(`Storm${i}`, 10, 'resolved'));
    await s.settled();
    expect(chat.roots).toHaveLength(1);
    const updates = chat.thread(rollup.id).slice(1);
    expect(updates.length).toBeLessThanOrEqual(3);
    expect(
      updates
        .map((u) => u.code)
        .join('\n')
        .match(/resolved/gi)?.length,
    ).toBeGreaterThanOrEqual(40);
    expect(chat.current(rollup.id)).not.toEqual(rollup.reply);
    await s.stop();
  });
});

describe('back-pressure', () => {
  it('refuses notifications beyond maxBacklog until the waiting ones are applied; none is lost', async () => {
    const chat = new RecordingPublisher();
    const s = service(tempStateDir(), chat, 10, 0, 3);
    await s.start();
    const results = await Promise.allSettled(
      ['A', 'B', 'C', 'D', 'E'].map((name) => s.accept(group(name, 1))),
    );
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'rejected',
      'rejected',
    ]);
    expect((results[3] as PromiseRejectedResult).reason).toBeInstanceOf(BacklogFullError);
    await s.settled();
    expect(s.waiting()).toBe(0);
    // Alertmanager sends the refused ones again later: now they are taken.
    await s.accept(group('D', 1));
    await s.accept(group('E', 1));
    await s.settled();
    expect(chat.roots.map((r) => r.reply.title).sort()).toEqual(
      ['A', 'B', 'C', 'D', 'E'].map((n) => `[FIRING:1] ${n} (lab)`),
    );
    await s.stop();
  });

  it('the webhook answers 503 with Retry-After while the backlog is full, without parsing the body', async () => {
    let full: number | undefined = 2000;
    const accepted: string[] = [];
    const server = createServer(
      webhookHandler({
        auth: { token: 't' },
        maxBodyBytes: 1 << 20,
        backlogFull: () => full,
        accept: async (p) => {
          accepted.push(p.groupKey);
          // Filled up between the check and the store: the same answer.
          if (accepted.length === 2) throw new BacklogFullError(2001);
        },
        log: silentLogger(),
      }),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const post = () =>
      fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, {
        method: 'POST',
        headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
        body: JSON.stringify(group('Busy', 1)),
      });
    try {
      const res = await post();
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('30');
      expect(await res.json()).toEqual({
        error: 'busy: 2000 notifications are waiting to be applied; retry later',
      });
      expect(accepted).toEqual([]);
      full = undefined;
      expect((await post()).status).toBe(200);
      const raced = await post();
      expect(raced.status).toBe(503);
      expect(((await raced.json()) as { error: string }).error).toBe(
        'busy: 2001 notifications are waiting to be applied; retry later',
      );
      // Unauthenticated requests are still refused first.
      full = 5;
      const anon = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, {
        method: 'POST',
        body: '{}',
      });
      expect(anon.status).toBe(401);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
