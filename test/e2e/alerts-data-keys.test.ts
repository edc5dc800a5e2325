import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { FakeDiscord, snowflake } from '../fakes/discord/fake-discord.js';
import { freePort, type RunningAlertmanager, startAlertmanager } from '../helpers/alertmanager.js';
import { discordChat, startApp, testConfig } from '../helpers/app-fixture.js';
import { tempStateDir } from '../helpers/cli.js';

/**
 * Label names that are members of Object.prototype, sent by the real Alertmanager (grouped by
 * two of them, so they are in groupLabels and the groupKey too): shown, and still known after
 * the bot restarts.
 */
const ALERTS = snowflake();
/** JSON text, so `__proto__` is an own property of what is pushed (as on the wire). */
const pushed = {
  labels: JSON.parse(
    '{"alertname":"hasOwnProperty","constructor":"ctor-value","toString":"tostring-value","__proto__":"proto-value","severity":"constructor"}',
  ) as Record<string, string>,
  annotations: JSON.parse('{"summary":"toString","__proto__":"annotation"}') as Record<
    string,
    string
  >,
};

let discord: FakeDiscord;
let am: RunningAlertmanager;
let app: App | undefined;
const stateDir = tempStateDir();
let config: ReturnType<typeof testConfig>;

beforeAll(async () => {
  const port = await freePort();
  [discord, am] = await Promise.all([
    FakeDiscord.start({ channels: [{ id: ALERTS, name: 'alerts' }] }),
    startAlertmanager({
      webhookUrl: `http://127.0.0.1:${port}/hooks/alertmanager`,
      groupWait: '1s',
      groupInterval: '2s',
      groupBy: ['constructor', 'toString'],
    }),
  ]);
  config = testConfig({
    state: { dir: stateDir },
    http: { enabled: true, port },
    chat: { discord: discordChat(discord, { registerOnStart: false }) },
    alerts: { enabled: true, default: { to: [{ discord: ALERTS }] } },
  });
  app = await startApp(config);
}, 60_000);

afterAll(async () => {
  await am?.stop();
  await app?.stop();
  await discord?.stop();
});

const roots = () =>
  discord
    .channelMessages(ALERTS)
    .filter((m) => String(m.embeds[0]?.title ?? '').includes('hasOwnProperty'));

describe('labels named constructor, toString, __proto__ from a real Alertmanager', () => {
  it('are shown, survive a restart, and resolve the same message', async () => {
    await am.push([pushed]);
    const root = await discord.waitFor(() => roots()[0], 20_000);
    const embed = root!.embeds[0]!;
    expect(embed.title).toBe('[FIRING:1] hasOwnProperty (ctor-value, tostring-value)');
    expect(JSON.stringify(embed.fields)).toContain('proto-value');

    await app!.stop();
    app = await startApp(config);
    await am.resolve([pushed]);
    await discord.waitFor(
      () => /^\[RESOLVED\]/.test(String(roots()[0]?.embeds[0]?.title ?? '')) || undefined,
      20_000,
    );
    expect(roots()).toHaveLength(1);
    expect(readdirSync(path.join(stateDir, 'alerts', 'outbox'))).toEqual([]);
  }, 60_000);
});
