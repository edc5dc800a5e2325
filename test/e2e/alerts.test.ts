import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { FakeDiscord, snowflake } from '../fakes/discord/fake-discord.js';
import { FakeHomeserver } from '../fakes/matrix/fake-homeserver.js';
import { freePort, type RunningAlertmanager, startAlertmanager } from '../helpers/alertmanager.js';
import { discordChat, matrixChat, startApp, testConfig } from '../helpers/app-fixture.js';

const ALERTS = snowflake();
const ALICE = snowflake();
const BOB = snowflake();
const ONCALL = snowflake();
const BOT = '@chatops:lab.test';
const ROOM = '!alerts:lab.test';
const MALICE = '@alice:lab.test';
const TOKEN = 'hook-secret';

let discord: FakeDiscord;
let hs: FakeHomeserver;
let am: RunningAlertmanager;
let app: App;
let consoleOut = '';
let port: number;

const critical = {
  labels: {
    alertname: 'NodeFilesystemSpaceFillingUp',
    namespace: 'monitoring',
    severity: 'critical',
    instance: 'pi4-a:9100',
  },
  annotations: { summary: 'Filesystem on pi4-a will be full within 4 hours' },
};
const targets = [1, 2, 3].map((n) => ({
  labels: {
    alertname: 'TargetDown',
    namespace: 'monitoring',
    severity: 'warning',
    instance: `pi${n}:9100`,
    job: 'node',
  },
  annotations: { summary: `pi${n} node-exporter is down` },
}));

beforeAll(async () => {
  port = await freePort();
  [discord, hs, am] = await Promise.all([
    FakeDiscord.start({
      channels: [{ id: ALERTS, name: 'alerts' }],
      users: [
        { id: ALICE, username: 'alice', roles: [ONCALL] },
        { id: BOB, username: 'bob' },
      ],
      roles: [{ id: ONCALL, name: 'oncall' }],
    }),
    FakeHomeserver.start({
      botUserId: BOT,
      accessToken: 'tok',
      rooms: [{ roomId: ROOM, members: [MALICE] }],
      profiles: { [MALICE]: 'Alice' },
    }),
    startAlertmanager({
      webhookUrl: `http://127.0.0.1:${port}/hooks/alertmanager`,
      token: TOKEN,
      groupWait: '1s',
      groupInterval: '2s',
    }),
  ]);
  const config = testConfig({
    http: { enabled: true, port },
    chat: {
      console: { enabled: true, user: 'root' },
      discord: discordChat(discord),
      matrix: matrixChat(hs, [ROOM]),
    },
    access: {
      roles: {
        oncall: {
          members: [`discord:${ONCALL}`, `matrix:${MALICE}`, 'console:*'],
          allow: ['alert.*'],
        },
      },
    },
    alerts: {
      enabled: true,
      webhook: { token: TOKEN },
      alertmanager: { url: am.url },
      routes: [
        {
          match: ['severity="critical"'],
          to: [{ discord: ALERTS }, { matrix: ROOM }, { console: true }],
          mentions: { critical: [`<@&${ONCALL}>`] },
        },
      ],
      default: { to: [{ discord: ALERTS }, { matrix: ROOM }] },
    },
  });
  const output = new PassThrough();
  output.on('data', (d) => {
    consoleOut += d;
  });
  app = await startApp(config, {
    console: {
      user: { platform: 'console', id: 'root', displayName: 'root' },
      input: new PassThrough(),
      output,
      interactive: false,
    },
  });
}, 60_000);

afterAll(async () => {
  await app?.stop();
  await Promise.all([am?.stop(), discord?.stop(), hs?.stop()]);
});

/** Waits for something to show up in the fake Discord (throws with a dump of its state if it never does). */
async function seen<T>(find: () => T | undefined, timeoutMs: number): Promise<T> {
  return (await discord.waitFor(find, timeoutMs)) as T;
}

const rootsIn = (title: RegExp) =>
  discord.channelMessages(ALERTS).filter((m) => title.test(String(m.embeds[0]?.title ?? '')));
const matrixRoots = (title: RegExp) =>
  hs.visible(ROOM).filter((m) => m.sender === BOT && title.test(m.body));

describe('alert threads from a real Alertmanager', () => {
  it('posts one root per group on Discord, Matrix and the console, with mentions for critical', async () => {
    await am.push([critical]);
    const root = await seen(() => rootsIn(/\[FIRING:1\] NodeFilesystemSpaceFillingUp/)[0], 15_000);
    expect(root.content).toBe(`<@&${ONCALL}>`);
    expect(root.embeds[0]!.color).toBe(0xed4245);
    await hs.waitFor(() => matrixRoots(/\[FIRING:1\] NodeFilesystemSpaceFillingUp/)[0], 10_000);
    await discord.waitFor(
      () => consoleOut.includes('[FIRING:1] NodeFilesystemSpaceFillingUp (monitoring)'),
      10_000,
    );
  }, 30_000);

  it('edits the root to resolved and says so in the thread', async () => {
    await am.resolve([critical]);
    const root = await seen(() => rootsIn(/\[RESOLVED\] NodeFilesystemSpaceFillingUp/)[0], 20_000);
    expect(root.edits).toBeGreaterThan(0);
    expect(root.buttons).toEqual([]);
    const thread = await seen(
      () => discord.threads().find((t) => t.id === root.threadId && t.messages.length > 0),
      10_000,
    );
    expect(thread.messages.map((m) => m.content).join('\n')).toMatch(/resolved after/i);
    await hs.waitFor(() => matrixRoots(/\[RESOLVED\] NodeFilesystemSpaceFillingUp/)[0], 10_000);
    expect(
      discord
        .channelMessages(ALERTS)
        .filter((m) => /NodeFilesystemSpaceFillingUp/.test(String(m.embeds[0]?.title))),
    ).toHaveLength(1);
  }, 40_000);

  it('silences from the Discord button: the silence is in Alertmanager and the root shows it', async () => {
    await am.push(targets);
    const root = await seen(() => rootsIn(/\[FIRING:3\] TargetDown/)[0], 15_000);
    expect(root.buttons.map((b) => b.label)).toEqual([
      'Silence 1h',
      'Silence 4h',
      'Silence 24h',
      'Ack',
    ]);
    const silenceButton = root.buttons.find((b) => b.label === 'Silence 4h')!;

    const denied = await discord.pressButton({
      user: BOB,
      messageId: root.id,
      customId: silenceButton.customId!,
    });
    await discord.waitFor(
      () => /Not allowed/.test(String(discord.interactionResponse(denied).embeds[0]?.title ?? '')),
      10_000,
    );
    expect(discord.interactionResponse(denied).ephemeral).toBe(true);
    expect(await am.silences()).toEqual([]);

    const pressed = await discord.pressButton({
      user: ALICE,
      messageId: root.id,
      customId: silenceButton.customId!,
    });
    await discord.waitFor(
      () =>
        /Silenced A-\d+ for 4h/.test(
          String(discord.interactionResponse(pressed).embeds[0]?.title ?? ''),
        ),
      10_000,
    );
    const [silence] = await am.silences();
    expect(silence).toMatchObject({
      createdBy: `discord:${ALICE} (alice)`,
      status: { state: 'active' },
    });
    expect(silence!.matchers).toEqual(
      expect.arrayContaining([
        { name: 'alertname', value: 'TargetDown', isRegex: false, isEqual: true },
        { name: 'namespace', value: 'monitoring', isRegex: false, isEqual: true },
      ]),
    );
    const after = await seen(() => {
      const m = discord.message(root.id)!;
      return JSON.stringify(m.embeds).includes(silence!.id) ||
        /Silenced/i.test(JSON.stringify(m.embeds))
        ? m
        : undefined;
    }, 10_000);
    expect(JSON.stringify(after.embeds)).toMatch(/alice/);
  }, 40_000);

  it('acknowledges from Matrix; every destination shows who', async () => {
    const ref = /A-\d+/.exec(
      String(
        rootsIn(/TargetDown/)[0]!.embeds[0]!.footer &&
          JSON.stringify(rootsIn(/TargetDown/)[0]!.embeds[0]),
      ),
    )![0];
    const ev = hs.sendMessage(ROOM, MALICE, `!alert ack ${ref}`);
    await hs.waitFor(
      () =>
        hs
          .visible(ROOM)
          .find((m) => m.sender === BOT && m.replyTo === ev && /Acknowledged/.test(m.body)),
      10_000,
    );
    await discord.waitFor(
      () => /Acknowledged by Alice|Alice/.test(JSON.stringify(rootsIn(/TargetDown/)[0]!.embeds)),
      10_000,
    );
  }, 30_000);

  it('lists active alerts from Alertmanager', async () => {
    const ev = hs.sendMessage(ROOM, MALICE, '!alert list');
    const answer = await hs.waitFor(
      () => hs.visible(ROOM).find((m) => m.sender === BOT && m.replyTo === ev),
      10_000,
    );
    expect(answer.body).toContain('TargetDown');
    expect(answer.body).toMatch(/pi1:9100/);
  });

  it('answers bad webhook requests with final 4xx and stays healthy', async () => {
    const url = `http://127.0.0.1:${port}/hooks/alertmanager`;
    const post = (
      body: string,
      headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` },
    ) =>
      fetch(url, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', ...headers },
      });
    expect((await post('{}', { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await post('{}', {})).status).toBe(401);
    expect((await post('{"version": "4", ')).status).toBe(400);
    const wrongVersion = await post(JSON.stringify({ version: '3' }));
    expect(wrongVersion.status).toBe(400);
    expect(((await wrongVersion.json()) as { error: string }).error).toContain(
      'version: expected "4"',
    );
    expect(
      (await post(JSON.stringify({ version: '4', status: 'firing', receiver: 'x' }))).status,
    ).toBe(400);
    expect((await post(`{"pad":"${'x'.repeat(2 * 1024 * 1024)}"}`)).status).toBe(413);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/chatops_alert_webhook_requests_total\{status="200"\} [1-9]/);
    expect(metrics).toMatch(/chatops_alert_webhook_requests_total\{status="401"\} 2/);
  });
});
