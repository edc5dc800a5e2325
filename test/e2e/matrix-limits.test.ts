/**
 * Matrix's real limits against the bot (matrix-spec client-server-api): events over 65,536
 * bytes are refused (413 M_TOO_LARGE), so long answers and a 1000-alert storm must arrive
 * split or as a file; 429s say when to retry in a Retry-After header (v1.10+); encrypted
 * rooms deliver only m.room.encrypted, which this bot cannot read — it must say so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { notification, postWebhook } from '../alerts/pipeline-helpers.js';
import { FakeHomeserver, type VisibleMessage } from '../fakes/matrix/fake-homeserver.js';
import { freePort } from '../helpers/alertmanager.js';
import { matrixChat, startApp, testConfig } from '../helpers/app-fixture.js';
import { labCommand } from '../helpers/long-command.js';

const BOT = '@chatops:lab.test';
const ALICE = '@alice:lab.test';
const OPS = '!ops:lab.test';
const ALERTS = '!alerts:lab.test';
const SECRET = '!secret:lab.test';
const LATER = '!later:lab.test';
const TOKEN = 'hook-token';

let hs: FakeHomeserver;
let app: App;
let port: number;

beforeAll(async () => {
  port = await freePort();
  hs = await FakeHomeserver.start({
    botUserId: BOT,
    accessToken: 'tok',
    rooms: [
      { roomId: OPS, members: [ALICE] },
      { roomId: ALERTS, members: [ALICE] },
      { roomId: SECRET, members: [ALICE], encrypted: true },
      { roomId: LATER, members: [ALICE] },
    ],
  });
  const config = testConfig({
    http: { enabled: true, port },
    chat: { matrix: matrixChat(hs, [OPS, ALERTS, SECRET, LATER]) },
    access: { roles: { ops: { members: [`matrix:${ALICE}`], allow: ['*'] } } },
    alerts: { enabled: true, webhook: { token: TOKEN }, default: { to: [{ matrix: ALERTS }] } },
  });
  app = await startApp(config, { extraCommands: [labCommand] });
}, 30_000);

afterAll(async () => {
  await app?.stop();
  await hs?.stop();
});

/** Every message with its thread, flattened. */
function all(room: string): VisibleMessage[] {
  return hs.visible(room).flatMap((m) => [m, ...m.thread]);
}

/** A file the bot uploaded, downloaded as a client does (authenticated media, v1.11). */
async function download(mxc: string): Promise<string> {
  const [server, id] = mxc.replace('mxc://', '').split('/');
  const res = await fetch(`${hs.url}/_matrix/client/v1/media/download/${server}/${id}`, {
    headers: { authorization: 'Bearer tok' },
  });
  expect(res.status).toBe(200);
  return res.text();
}

/** What a user can read in the room: every message and every attached text file. */
async function readable(room: string): Promise<string> {
  const msgs = all(room);
  const files = await Promise.all(msgs.filter((m) => m.file).map((m) => download(m.file!.url)));
  return [...msgs.map((m) => m.body), ...files].join('\n');
}

const answerTo = (eventId: string) =>
  hs.visible(OPS).find((m) => m.sender === BOT && m.replyTo === eventId);

describe('the 64 KiB event limit', () => {
  it('a storm of 1000 alerts in 100 groups lands fully in Matrix (no 413, nothing lost)', async () => {
    const instances: string[] = [];
    const posts = Array.from({ length: 100 }, (_, g) => {
      const alerts = Array.from({ length: 10 }, (_, i) => {
        instances.push(`host-${g}-${i}.storm.lab:9100`);
        return [
          `fp-${g}-${i}`,
          'firing',
          { alertname: `Storm${g}`, severity: 'warning', instance: instances.at(-1)! },
          { summary: `disk ${g}/${i} is filling up on a very long named volume /srv/data` },
        ] as [string, 'firing', Record<string, string>, Record<string, string>];
      });
      const body = notification(`{}:{alertname="Storm${g}"}`, 'firing', alerts, {
        groupLabels: { alertname: `Storm${g}` },
        commonLabels: { alertname: `Storm${g}`, severity: 'warning' },
      });
      return postWebhook(port, body, { token: TOKEN });
    });
    expect((await Promise.all(posts)).map((r) => r.status)).toEqual(Array(100).fill(200));
    const text = await hs.waitFor(
      async () => {
        const t = await readable(ALERTS);
        return instances.every((i) => t.includes(i)) ? t : undefined;
      },
      30_000,
      'every alert to be readable in the alerts room',
    );
    for (let g = 0; g < 100; g++) expect(text).toContain(`Storm${g}`);
    expect(hs.tooLarge).toEqual([]);
    // However the 100 notifications fell into settle windows (a loaded machine spreads them),
    // they rolled up; a roll-up's alert list too big for one event came in numbered parts.
    const rollups = hs
      .visible(ALERTS)
      .filter((m) => m.sender === BOT && /^⚠️ Alert storm: \d+ groups/.test(m.body));
    expect(rollups.length).toBeGreaterThan(0);
    const biggest = rollups
      .map((r) => ({ r, n: Number(/^⚠️ Alert storm: (\d+) groups/.exec(r.body)![1]) }))
      .sort((a, b) => b.n - a.n)[0]!;
    const details = biggest.r.thread.filter((m) =>
      m.body.startsWith(`Every alert of these ${biggest.n} groups`),
    );
    if (biggest.n >= 60) expect(details.length).toBeGreaterThan(1);
    if (details.length > 1)
      expect(details.map((m) => m.body.split('\n')[0])).toEqual(
        details.map(
          (_, i) => `Every alert of these ${biggest.n} groups (part ${i + 1} of ${details.length})`,
        ),
      );
  }, 60_000);

  it('a long result that cannot be an edit is pointed to, and follows split in parts', async () => {
    const ev = hs.sendMessage(OPS, ALICE, '!lab work steps:1 lines:400');
    const main = await hs.waitFor(() => {
      const m = answerTo(ev);
      return m && /too long to show here/.test(m.body) ? m : undefined;
    }, 10_000);
    const parts = await hs.waitFor(() => {
      const p = hs
        .visible(OPS)
        .filter((m) => m.replyTo === main.eventId || /\(part \d of/.test(m.body));
      return p.some((m) => m.body.includes('output line 400 ')) ? p : undefined;
    });
    const text = parts.map((p) => p.body).join('\n');
    for (let i = 1; i <= 400; i++) expect(text).toContain(`output line ${i} `);
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.length).toBeLessThanOrEqual(4);
    expect(hs.tooLarge).toEqual([]);
  }, 20_000);

  it('text too long to split reasonably arrives as a file with a notice saying what it is', async () => {
    const ev = hs.sendMessage(OPS, ALICE, '!lab work steps:1 lines:3000');
    const file = await hs.waitFor(
      () => hs.visible(OPS).find((m) => m.file && m.sender === BOT),
      15_000,
    );
    expect(file.msgtype).toBe('m.file');
    expect(file.body).toMatch(
      /\d+ lines \(\d+ KB\): too long for a Matrix message, so the full text is in the attached file [a-z0-9-]+\.txt/,
    );
    expect(file.file).toMatchObject({
      mimetype: 'text/plain',
      url: expect.stringMatching(/^mxc:\/\//),
    });
    const text = await download(file.file!.url);
    for (const i of [1, 1500, 3000]) expect(text).toContain(`output line ${i} `);
    expect(text.split('\n').filter((l) => l.startsWith('output line'))).toHaveLength(3000);
    expect(answerTo(ev)!.body).toMatch(/too long to show here/);
    expect(hs.tooLarge).toEqual([]);
  }, 30_000);
});

describe('429 with Retry-After', () => {
  it('waits as long as the Retry-After header says (no retry_after_ms), and delivers every message', async () => {
    hs.setSendRateLimit({ burst: 1, windowMs: 2500, retryAfter: 'header' });
    const from = hs.requests.length;
    try {
      const ev = hs.sendMessage(OPS, ALICE, '!lab work steps:3');
      const m = await hs.waitFor(() => {
        const a = answerTo(ev);
        return a && /Worked through 3 steps/.test(a.body) && a.thread.length === 3 ? a : undefined;
      }, 30_000);
      expect(m.thread.map((t) => t.body)).toEqual([1, 2, 3].map((n) => `› step ${n} of 3 done`));
    } finally {
      hs.setSendRateLimit(null);
    }
    const sends = hs.requests
      .slice(from)
      .filter((r) => r.method === 'PUT' && /\/send\//.test(r.path));
    const limited = sends.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    for (const r of limited) {
      expect(r.retryAfter).toMatch(/^[123]$/);
      const next = sends[sends.indexOf(r) + 1]!;
      // The next try came no sooner than the header said (the SDK's own clock, a little slack).
      expect(next.at! - r.at!).toBeGreaterThanOrEqual(Number(r.retryAfter) * 1000 - 50);
      // …and was let through: waiting that long is enough.
      expect(next.status).toBe(200);
    }
  }, 40_000);
});

describe('encrypted rooms', () => {
  it('says once, in the room, that it cannot read it; logs and counts every encrypted event', async () => {
    const first = hs.sendMessage(SECRET, ALICE, '!node list');
    const notice = await hs.waitFor(() =>
      hs.visible(SECRET).find((m) => m.sender === BOT && m.replyTo === first),
    );
    expect(notice.msgtype).toBe('m.notice');
    expect(notice.body).toContain(
      'This room is end-to-end encrypted, and this bot cannot read encrypted messages',
    );
    expect(notice.body).toContain('Use an unencrypted room such as');
    hs.sendMessage(SECRET, ALICE, '!help');
    const metric = async () =>
      app.metrics.registry.getSingleMetricAsString('chatops_matrix_encrypted_events_total');
    await hs.waitFor(async () => (await metric()).includes(`room="${SECRET}"} 2`));
    // Once per room: the second message got no second notice (and no answer).
    expect(hs.visible(SECRET).filter((m) => m.sender === BOT)).toHaveLength(1);
    // What the room's members read: Alice's two messages, the bot's one notice.
    expect(hs.visible(SECRET).map((m) => m.body.split('\n')[0])).toEqual([
      '!node list',
      '⚠️ This bot cannot read this room',
      '!help',
    ]);
  });

  it('notices when encryption is turned on in a room it serves', async () => {
    hs.enableEncryption(LATER, ALICE);
    const notice = await hs.waitFor(() => hs.visible(LATER).find((m) => m.sender === BOT));
    expect(notice.body).toContain('cannot read encrypted messages');
  });

  it('/help in Matrix says that encrypted rooms are out of reach', async () => {
    const ev = hs.sendMessage(OPS, ALICE, '!help');
    const m = await hs.waitFor(() => {
      const a = answerTo(ev);
      return a && /Commands/.test(a.body) ? a : undefined;
    });
    expect(m.body).toContain(
      'Matrix: end-to-end encryption is not available to this bot, so it cannot read encrypted rooms',
    );
  });
});
