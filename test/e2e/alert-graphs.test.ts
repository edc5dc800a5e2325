/**
 * Alert graphs end to end with the real parts: a real Prometheus scrapes a local target and
 * evaluates a rule that fires → a real Alertmanager → the bot → fake Discord and Matrix, and
 * the bot queries the same Prometheus for the picture on the alert's root.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { FakeDiscord, snowflake } from '../fakes/discord/fake-discord.js';
import type { MessageView } from '../fakes/discord/views.js';
import { FakeHomeserver } from '../fakes/matrix/fake-homeserver.js';
import { freePort, type RunningAlertmanager, startAlertmanager } from '../helpers/alertmanager.js';
import { discordChat, matrixChat, startApp, testConfig } from '../helpers/app-fixture.js';
import { pngHeader } from '../helpers/png.js';
import {
  type RunningPrometheus,
  startMetricsTarget,
  startPrometheus,
} from '../helpers/prometheus.js';

const ALERTS = snowflake();
const ALICE = snowflake();
const ONCALL = snowflake();
const BOT = '@chatops:lab.test';
const ROOM = '!alerts:lab.test';
const TOKEN = 'hook-secret';

const temperature: Record<string, number> = { pi1: 45, pi2: 50, pi3: 55 };
let target: Awaited<ReturnType<typeof startMetricsTarget>>;
let prom: RunningPrometheus;
let am: RunningAlertmanager;
let discord: FakeDiscord;
let hs: FakeHomeserver;
let app: App;

beforeAll(async () => {
  const port = await freePort();
  target = await startMetricsTarget(() =>
    [
      '# HELP lab_temperature_celsius SoC temperature.',
      '# TYPE lab_temperature_celsius gauge',
      ...Object.entries(temperature).map(
        ([sensor, v]) => `lab_temperature_celsius{sensor="${sensor}"} ${v}`,
      ),
      '',
    ].join('\n'),
  );
  [am, discord, hs] = await Promise.all([
    startAlertmanager({
      webhookUrl: `http://127.0.0.1:${port}/hooks/alertmanager`,
      token: TOKEN,
      groupWait: '1s',
      groupInterval: '2s',
    }),
    FakeDiscord.start({
      channels: [{ id: ALERTS, name: 'alerts' }],
      users: [{ id: ALICE, username: 'alice', roles: [ONCALL] }],
      roles: [{ id: ONCALL, name: 'oncall' }],
    }),
    FakeHomeserver.start({ botUserId: BOT, accessToken: 'tok', rooms: [{ roomId: ROOM }] }),
  ]);
  prom = await startPrometheus({
    targets: [target.address],
    alertmanagers: [`127.0.0.1:${am.port}`],
    rules: [
      {
        alert: 'PiTooHot',
        expr: 'lab_temperature_celsius > 80',
        labels: { severity: 'warning' },
        annotations: { summary: '{{ $labels.sensor }} is at {{ $value }} °C' },
      },
    ],
  });
  app = await startApp(
    testConfig({
      http: { enabled: true, port },
      chat: { discord: discordChat(discord), matrix: matrixChat(hs, [ROOM]) },
      access: {
        roles: { oncall: { members: [`discord:${ONCALL}`], allow: ['alert.*'] } },
      },
      alerts: {
        enabled: true,
        webhook: { token: TOKEN },
        alertmanager: { url: am.url },
        prometheus: { url: prom.url, range: '10m', step: '1s', timeoutMs: 5000 },
        default: { to: [{ discord: ALERTS }, { matrix: ROOM }] },
      },
    }),
  );
}, 60_000);

afterAll(async () => {
  await app?.stop();
  await Promise.all([prom?.stop(), am?.stop(), discord?.stop(), hs?.stop(), target?.stop()]);
});

/** Samples Prometheus holds for the three sensors (from its own query API). */
async function samples(): Promise<number> {
  const res = await fetch(
    `${prom.url}/api/v1/query?query=${encodeURIComponent('min(count_over_time(lab_temperature_celsius[5m]))')}`,
  );
  const body = (await res.json()) as { data: { result: { value: [number, string] }[] } };
  return Number(body.data.result[0]?.value[1] ?? 0);
}

const root = (title: RegExp) =>
  discord
    .channelMessages(ALERTS)
    .find((m) => m.author.bot && title.test(String(m.embeds[0]?.title ?? '')));

function graphOf(m: MessageView) {
  const png = m.attachments.find((a) => a.name === 'graph.png');
  return png && { id: png.id, header: pngHeader(png.content), contentType: png.contentType };
}

/** The m.image events in the thread of the Matrix root, with their PNG from the media repository. */
function matrixGraphs(title: RegExp) {
  const r = hs.visible(ROOM).find((m) => m.sender === BOT && title.test(m.body));
  return (r?.thread ?? [])
    .filter((m) => m.msgtype === 'm.image' && m.file)
    .map((m) => {
      const media = hs.media.get(m.file!.url.split('/').pop()!);
      return { edits: m.edits, url: m.file!.url, body: m.body, header: pngHeader(media!.data) };
    });
}

describe('alert graphs from a real Prometheus', () => {
  it('a firing rule shows up with its graph: Discord embed attachment, Matrix m.image', async () => {
    // A few scrapes first, so the picture has a line before the rule fires.
    for (let i = 0; i < 200 && (await samples()) < 3; i++) await sleep(100);
    temperature.pi3 = 85;
    const firing = (await discord.waitFor(() => {
      const m = root(/\[FIRING:1\] PiTooHot/);
      return m?.attachments.length ? m : undefined;
    }, 30_000)) as MessageView;
    expect(graphOf(firing)).toMatchObject({
      header: { width: 800, height: 400, bitDepth: 8 },
      contentType: expect.stringMatching(/image\/png/),
    });
    expect(firing.embeds[0]!.image).toMatchObject({ url: expect.stringMatching(/graph\.png$/) });

    const [image] = await hs.waitFor(() => {
      const g = matrixGraphs(/\[FIRING:1\] PiTooHot/);
      return g.length ? g : undefined;
    }, 10_000);
    expect(image!.header).toMatchObject({ width: 800, height: 400 });
    // The caption says what it shows: the rule's expression without its threshold, and the threshold.
    expect(image!.body).toMatch(
      /PiTooHot: lab_temperature_celsius over 10 min until \d\d:\d\d UTC, threshold > 80; 3 series/,
    );
  }, 60_000);

  it('resolving refreshes the picture once, in place', async () => {
    const before = graphOf(root(/PiTooHot/)!)!;
    temperature.pi3 = 40;
    const resolved = (await discord.waitFor(
      () => root(/\[RESOLVED\] PiTooHot/),
      30_000,
    )) as MessageView;
    const after = graphOf(resolved);
    expect(after?.header).toMatchObject({ width: 800, height: 400 });
    expect(after!.id).not.toBe(before.id);
    expect(resolved.attachments.map((a) => a.name)).toEqual(['graph.png']);
    const images = await hs.waitFor(() => {
      const g = matrixGraphs(/\[RESOLVED\] PiTooHot/);
      return g[0]?.edits ? g : undefined;
    }, 10_000);
    // Still one picture in the thread, replaced by the resolved one.
    expect(images).toHaveLength(1);
    expect(images[0]!.header).toMatchObject({ width: 800, height: 400 });
  }, 60_000);

  it('/alert graph <ref> 5m posts one on demand', async () => {
    const ref = /A-\d+/.exec(JSON.stringify(root(/PiTooHot/)!.embeds))![0];
    const i = await discord.slashCommand({
      user: ALICE,
      channelId: ALERTS,
      name: 'alert',
      subcommand: 'graph',
      options: [
        { name: 'ref', value: ref },
        { name: 'range', value: '5m' },
      ],
    });
    const answer = (await discord.waitFor(() => {
      const m = discord.interactionResponse(i).message;
      return m?.attachments.length ? m : undefined;
    }, 15_000)) as MessageView;
    expect(graphOf(answer)?.header).toMatchObject({ width: 800, height: 400 });
    expect(JSON.stringify(answer.embeds)).toMatch(/over 5 min/);
  }, 30_000);

  it('Prometheus down: the alert is posted without a picture', async () => {
    await prom.stop();
    await am.push([
      {
        labels: { alertname: 'DiskFull', severity: 'warning', instance: 'pi1' },
        generatorURL: `${prom.url}/graph?g0.expr=${encodeURIComponent('disk_used_ratio > 0.9')}&g0.tab=1`,
      },
    ]);
    const posted = (await discord.waitFor(
      () => root(/\[FIRING:1\] DiskFull/),
      20_000,
    )) as MessageView;
    expect(posted.attachments).toEqual([]);
    expect(posted.embeds[0]!.image).toBeUndefined();
  }, 30_000);
});
