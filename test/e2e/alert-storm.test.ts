import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { FakeDiscord, snowflake } from '../fakes/discord/fake-discord.js';
import { freePort, type RunningAlertmanager, startAlertmanager } from '../helpers/alertmanager.js';
import { discordChat, startApp, testConfig } from '../helpers/app-fixture.js';

const ALERTS = snowflake();
const GROUPS = 100;
const PER_GROUP = 10;

let discord: FakeDiscord;
let am: RunningAlertmanager;
let app: App;

beforeAll(async () => {
  const port = await freePort();
  [discord, am] = await Promise.all([
    FakeDiscord.start({ channels: [{ id: ALERTS, name: 'alerts' }] }),
    startAlertmanager({
      webhookUrl: `http://127.0.0.1:${port}/hooks/alertmanager`,
      groupWait: '1s',
      groupInterval: '2s',
      groupBy: ['alertname'],
    }),
  ]);
  // Discord's per-channel budget, not advertised in headers: a client that floods gets 429s.
  discord.setRateLimit({
    route: 'POST /channels/:id/messages',
    limit: 5,
    windowMs: 5000,
    advertise: false,
  });
  const config = testConfig({
    http: { enabled: true, port },
    chat: { discord: discordChat(discord, { registerOnStart: false }) },
    alerts: {
      enabled: true,
      alertmanager: { url: am.url },
      default: { to: [{ discord: ALERTS }] },
    },
  });
  app = await startApp(config);
}, 60_000);

afterAll(async () => {
  await am?.stop(); // no more webhooks while the bot stops
  await app?.stop();
  await discord?.stop();
}, 90_000);

/** Everything a user can read in the channel: messages, embeds, threads and attachments. */
function everythingVisible(): string {
  const messages = [
    ...discord.channelMessages(ALERTS),
    ...discord.threads().flatMap((t) => t.messages),
  ];
  return messages
    .map((m) =>
      [m.content, JSON.stringify(m.embeds), ...m.attachments.map((a) => a.text)].join('\n'),
    )
    .join('\n');
}

describe('an alert storm against a rate-limited Discord', () => {
  it(`keeps all ${GROUPS * PER_GROUP} alerts in ${GROUPS} groups visible, without flooding or duplicate threads`, async () => {
    const alerts: { labels: Record<string, string>; annotations: Record<string, string> }[] = [];
    for (let g = 0; g < GROUPS; g++) {
      for (let i = 0; i < PER_GROUP; i++) {
        alerts.push({
          labels: { alertname: `Storm${g}`, severity: 'warning', instance: `host-${g}-${i}:9100` },
          annotations: { summary: `storm ${g}/${i}` },
        });
      }
    }
    await am.push(alerts);
    await discord.waitFor(() => {
      const text = everythingVisible();
      return alerts.every((a) => text.includes(a.labels.instance ?? ''));
    }, 60_000);

    const roots = discord.channelMessages(ALERTS);
    expect(roots.length).toBeLessThan(15); // a few roots and a roll-up, not 100 messages
    const threads = discord.threads();
    expect(new Set(threads.map((t) => t.starterMessage?.id ?? t.id)).size).toBe(threads.length);
    expect(discord.unhandled).toEqual([]);
    console.log(
      `storm: ${roots.length} channel messages, ${threads.length} threads, ${discord.stats.rateLimited} 429s served, ${discord.stats.requests} requests`,
    );
    const metrics = await app.metrics.registry.getSingleMetricAsString(
      'chatops_alert_webhook_requests_total',
    );
    expect(metrics).not.toMatch(/status="[45]\d\d"/);
  }, 90_000);
});
