/**
 * issue #13 on Matrix: a room where the bot may not post (its power level is below the room's
 * events_default) answers every send 403 M_FORBIDDEN. The alert is not marked shown, the refusal
 * is counted and logged once with Matrix's code, the room is retried with back-off, and the
 * alert shows up once the bot is given the power to post. Real MatrixClient against the fake
 * homeserver; the notification posted to the webhook as Alertmanager posts it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { capturedLog, notification, postWebhook } from '../alerts/pipeline-helpers.js';
import { FakeHomeserver } from '../fakes/matrix/fake-homeserver.js';
import { freePort } from '../helpers/alertmanager.js';
import { matrixChat, startApp, testConfig } from '../helpers/app-fixture.js';

const BOT = '@chatops:lab.test';
const ALICE = '@alice:lab.test';
const ROOM = '!alerts:lab.test';

let hs: FakeHomeserver;
let app: App;
let port: number;
const { log, lines } = capturedLog();

beforeAll(async () => {
  port = await freePort();
  hs = await FakeHomeserver.start({
    botUserId: BOT,
    accessToken: 'tok',
    // An announcements-style room: only moderators (50) may post.
    rooms: [{ roomId: ROOM, members: [ALICE], powerLevels: { events_default: 50 } }],
  });
  const config = testConfig({
    http: { enabled: true, port },
    chat: { matrix: matrixChat(hs, [ROOM]) },
    alerts: { enabled: true, default: { to: [{ matrix: ROOM }] } },
  });
  app = await startApp(config, { log });
}, 60_000);

afterAll(async () => {
  await app?.stop();
  await hs?.stop();
}, 60_000);

async function refusals(): Promise<number> {
  const metric = app.metrics.registry.getSingleMetric('chatops_alert_deliveries_failed_total');
  const values = (await metric?.get())?.values ?? [];
  return values
    .filter(
      (v) =>
        v.labels.platform === 'matrix' &&
        v.labels.reason === 'M_FORBIDDEN' &&
        v.labels.outcome === 'retrying',
    )
    .reduce((n, v) => n + v.value, 0);
}

describe('alert posts Matrix refuses for good', () => {
  it('a room the bot may not post in (403 M_FORBIDDEN) is retried with back-off, logged once, and shown once it may', async () => {
    const answer = await postWebhook(
      port,
      notification(
        '{}:{alertname="NodeDown"}',
        'firing',
        [['nd-1', 'firing', { alertname: 'NodeDown', severity: 'critical', instance: 'pi3' }]],
        { groupLabels: { alertname: 'NodeDown' } },
      ),
    );
    expect(answer.status).toBe(200);

    const forbidden = () =>
      hs.requests.filter((r) => r.method === 'PUT' && r.path.includes('/send/') && r.status === 403)
        .length;
    // Tried, then again after a back-off: each refusal counted, nothing in the room.
    const deadline = Date.now() + 10_000;
    while ((await refusals()) < 2 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(await refusals()).toBe(2);
    expect(forbidden()).toBe(2);
    expect(hs.visible(ROOM).filter((m) => m.sender === BOT)).toEqual([]);
    const warned = lines.filter((l) => l.level === 40 && l.code === 'M_FORBIDDEN');
    expect(warned.map((l) => l.msg)).toEqual([
      "A-1 root not shown: matrix refused it (403 M_FORBIDDEN You don't have permission to post m.room.message events); will retry",
    ]);

    hs.setPowerLevel(ROOM, BOT, 50);
    const root = await hs.waitFor(
      () => hs.visible(ROOM).find((m) => m.sender === BOT && m.body.includes('NodeDown')),
      15_000,
    );
    expect(root.body).toContain('[FIRING:1] NodeDown');
    expect(root.body).not.toContain('could not be posted');
    expect(lines.filter((l) => l.level === 40 && l.code === 'M_FORBIDDEN')).toHaveLength(1);
  }, 40_000);
});
