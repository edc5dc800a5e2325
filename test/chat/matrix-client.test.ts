/**
 * The bot's own Matrix client (src/chat/matrix/matrix-client.ts) against the fake homeserver,
 * below the adapter: the sync loop (token kept across restarts, back-off after a failed /sync,
 * stop() ending the pending long-poll at once), what it emits, and its errors.
 * The fake itself is checked against matrix-bot-sdk in test/fakes/matrix.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  MatrixClient,
  MatrixConnectionError,
  MatrixError,
} from '../../src/chat/matrix/matrix-client.js';
import { silentLogger } from '../../src/core/logger.js';
import type { FakeHomeserver } from '../fakes/matrix/fake-homeserver.js';
import { ALICE, BOT, OPS, resetHarness, startHs, TOKEN, tempDir } from '../fakes/matrix/harness.js';

// biome-ignore lint/suspicious/noExplicitAny: raw events as emitted
type Ev = any;

const clients: MatrixClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.stop();
  await resetHarness();
});

function client(hs: FakeHomeserver, dir: string, opts: { backoff?: [number, number] } = {}) {
  const c = new MatrixClient(hs.url, TOKEN, {
    syncTokenFile: path.join(dir, 'matrix-sync.json'),
    log: silentLogger(),
    syncTimeoutMs: 5000,
    ...(opts.backoff ? { syncBackoffMs: opts.backoff } : {}),
  });
  clients.push(c);
  const seen = {
    messages: [] as [string, Ev][],
    events: [] as [string, Ev][],
    invites: [] as string[],
  };
  c.on('room.message', (room: string, ev: Ev) => seen.messages.push([room, ev]));
  c.on('room.event', (room: string, ev: Ev) => seen.events.push([room, ev]));
  c.on('room.invite', (room: string) => seen.invites.push(room));
  return { c, seen };
}

describe('the bot’s Matrix client', () => {
  it('syncs, emits messages and invites, sends, and resumes from its saved token after a restart', async () => {
    const hs = await startHs();
    const dir = tempDir();
    const first = client(hs, dir);
    expect(await first.c.getUserId()).toBe(BOT);
    await first.c.start();
    const id = hs.sendMessage(OPS, ALICE, 'hello');
    await hs.waitFor(() => first.seen.messages.find(([, e]) => e.event_id === id));
    expect(first.seen.events.some(([r, e]) => r === OPS && e.event_id === id)).toBe(true);

    const sent = await first.c.sendEvent(OPS, 'm.room.message', {
      msgtype: 'm.notice',
      body: 'hi',
    });
    expect(hs.sent(OPS).map((e) => e.eventId)).toContain(sent);

    hs.invite('!new:lab.test', ALICE, { name: 'New' });
    await hs.waitFor(() => first.seen.invites.includes('!new:lab.test'));

    const saved = JSON.parse(readFileSync(path.join(dir, 'matrix-sync.json'), 'utf8'));
    expect(saved.syncToken).toMatch(/^s/);
    first.c.stop();

    // A message while it is down, then a restart: the saved token resumes — nothing seen twice.
    const whileDown = hs.sendMessage(OPS, ALICE, 'while down');
    const token = JSON.parse(readFileSync(path.join(dir, 'matrix-sync.json'), 'utf8')).syncToken;
    const second = client(hs, dir);
    const syncsBefore = hs.syncRequests.length;
    await second.c.start();
    await hs.waitFor(() => second.seen.messages.find(([, e]) => e.event_id === whileDown));
    expect(hs.syncRequests[syncsBefore]?.since).toBe(token);
    expect(second.seen.messages.map(([, e]) => e.event_id)).not.toContain(id);
  });

  it('backs off after a failed /sync and carries on; stop() ends the pending long-poll at once', async () => {
    const hs = await startHs();
    const { c, seen } = client(hs, tempDir(), { backoff: [50, 200] });
    await c.start();
    await hs.waitFor(() => hs.pendingSyncCount > 0);
    hs.dropNextSyncWith(502, 2);
    const id = hs.sendMessage(OPS, ALICE, 'after the outage');
    await hs.waitFor(() => seen.messages.find(([, e]) => e.event_id === id));
    expect(hs.syncRequests.filter((s) => s.status === 502).length).toBeGreaterThanOrEqual(1);

    await hs.waitFor(() => hs.pendingSyncCount > 0);
    const requestsBefore = hs.syncRequests.length;
    c.stop();
    const late = hs.sendMessage(OPS, ALICE, 'after stop');
    await new Promise((r) => setTimeout(r, 300));
    expect(seen.messages.map(([, e]) => e.event_id)).not.toContain(late);
    expect(hs.syncRequests.length).toBe(requestsBefore);
  });

  it('starts from scratch when its token file is unreadable (old events are filtered by the adapter)', async () => {
    const hs = await startHs();
    const dir = tempDir();
    writeFileSync(path.join(dir, 'matrix-sync.json'), '{ not json');
    const { c } = client(hs, dir);
    await c.start();
    await hs.waitFor(() => hs.syncRequests.some((s) => s.status === 200));
    expect(hs.syncRequests[0]?.since ?? undefined).toBeUndefined();
  });

  it('throws MatrixError with the errcode, and a connection error naming the homeserver', async () => {
    const hs = await startHs();
    const wrong = new MatrixClient(hs.url, 'not-the-token', {
      syncTokenFile: path.join(tempDir(), 'x.json'),
      log: silentLogger(),
    });
    const err = await wrong.getUserId().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MatrixError);
    expect(err).toMatchObject({ statusCode: 401, errcode: 'M_UNKNOWN_TOKEN' });

    // A port nothing listens on: the fake's, once it is stopped.
    const url = hs.url;
    await hs.stop();
    const gone = new MatrixClient(url, TOKEN, {
      syncTokenFile: path.join(tempDir(), 'y.json'),
      log: silentLogger(),
    });
    const down = await gone.getUserId().catch((e: unknown) => e);
    expect(down).toBeInstanceOf(MatrixConnectionError);
    expect((down as Error).message).toBe(
      `cannot reach the Matrix homeserver at ${url}: ECONNREFUSED`,
    );
  });

  it('reads a 429’s wait from Retry-After before the deprecated retry_after_ms', async () => {
    const hs = await startHs();
    const { c } = client(hs, tempDir());
    hs.setSendRateLimit({ burst: 1, windowMs: 60_000, retryAfter: 'header' });
    await c.sendEvent(OPS, 'm.room.message', { msgtype: 'm.notice', body: '1' });
    const limited = await c
      .sendEvent(OPS, 'm.room.message', { msgtype: 'm.notice', body: '2' })
      .catch((e: unknown) => e);
    hs.setSendRateLimit(null);
    expect(limited).toMatchObject({ statusCode: 429, errcode: 'M_LIMIT_EXCEEDED' });
    expect((limited as MatrixError).retryAfterMs).toBeGreaterThan(0);
  });
});
