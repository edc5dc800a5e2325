/**
 * issue #13: alert posts a chat refuses for good (a 4xx that is not a rate limit). Discord's
 * upload limit (413 40005 Request entity too large) refuses a roll-up's thread whose alert list
 * goes as a file, and a root whose links go as a file: each is shown in a smaller form, its
 * groups are not left "shown" in a message that never arrived, and the refusal is counted and
 * logged with Discord's code. A channel the bot lost access to (403 50001 Missing Access) is
 * retried later with back-off, logged once, and shown once access is back. Real discord.js
 * against the fake Discord; notifications posted to the webhook as Alertmanager posts them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebhookPayload } from '../../src/alerts/types.js';
import type { App } from '../../src/app.js';
import { capturedLog, notification, postWebhook } from '../alerts/pipeline-helpers.js';
import { FakeDiscord, type MessageView, snowflake } from '../fakes/discord/fake-discord.js';
import { freePort } from '../helpers/alertmanager.js';
import { discordChat, startApp, testConfig } from '../helpers/app-fixture.js';

const ALERTS = snowflake();
const LOCKED = snowflake();
/** Discord's upload limit is 10 MiB; a small one makes a storm's alert list too large for it. */
const UPLOAD_LIMIT = 1024;

let discord: FakeDiscord;
let app: App;
let port: number;
const { log, lines } = capturedLog();

beforeAll(async () => {
  port = await freePort();
  discord = await FakeDiscord.start({
    channels: [
      { id: ALERTS, name: 'alerts' },
      { id: LOCKED, name: 'locked' },
    ],
    maxUploadBytes: UPLOAD_LIMIT,
  });
  const config = testConfig({
    http: { enabled: true, port },
    chat: { discord: discordChat(discord, { registerOnStart: false }) },
    alerts: {
      enabled: true,
      rollupThreshold: 3,
      routes: [{ match: ['team="locked"'], to: [{ discord: LOCKED }] }],
      default: { to: [{ discord: ALERTS }] },
    },
  });
  app = await startApp(config, { log });
}, 60_000);

afterAll(async () => {
  await app?.stop();
  await discord?.stop();
}, 60_000);

async function notify(...payloads: WebhookPayload[]): Promise<void> {
  const answers = await Promise.all(payloads.map((p) => postWebhook(port, p)));
  expect(answers.map((a) => a.status)).toEqual(payloads.map(() => 200));
}

/** What a user reads in a message: content, embed title/description/fields/footer, attachments. */
function shown(m: MessageView): string {
  return [
    m.content,
    ...m.embeds.flatMap((e) => [
      e.title,
      e.description,
      JSON.stringify(e.fields ?? []),
      JSON.stringify(e.footer ?? ''),
    ]),
    ...m.attachments.map((a) => a.text),
  ].join('\n');
}

/** Waits for something to show up in the fake Discord (throws with a dump of its state if it never does). */
async function seen<T>(find: () => T | undefined | false | 0, timeoutMs = 20_000): Promise<T> {
  return (await discord.waitFor(find, timeoutMs)) as T;
}

const threadOf = (message: MessageView) =>
  discord.threads().find((t) => t.starterMessage?.id === message.id);

async function refusals(outcome: string, reason: string): Promise<number> {
  const metric = await app.metrics.registry.getSingleMetric(
    'chatops_alert_deliveries_failed_total',
  );
  const values = (await metric?.get())?.values ?? [];
  return values
    .filter(
      (v) =>
        v.labels.platform === 'discord' &&
        v.labels.reason === reason &&
        v.labels.outcome === outcome,
    )
    .reduce((n, v) => n + v.value, 0);
}

async function eventually(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms\n${discord.dump()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const warnings = (code: string, channel = ALERTS) =>
  lines
    .filter((l) => l.level === 40 && l.code === code && l.destination === `discord:${channel}`)
    .map((l) => String(l.msg));

/** A group of `n` alerts with summaries long enough that listing them all takes a file. */
function storm(name: string, n: number): WebhookPayload {
  return notification(
    `{}:{alertname="${name}"}`,
    'firing',
    Array.from({ length: n }, (_, i) => [
      `${name}-${i}`,
      'firing' as const,
      { alertname: name, severity: 'warning', instance: `${name.toLowerCase()}-${i}:9100` },
      { summary: `${name} on host ${i}: ${'the disk is filling up quickly, '.repeat(3)}` },
    ]),
    { groupLabels: { alertname: name } },
  );
}

describe('alert posts Discord refuses for good', () => {
  it('a root too large for Discord (413 40005) is shown without its links, and its alert follows in the thread', async () => {
    const url = (what: string) => `https://grafana.lab/d/${what}?${'panel=1&'.repeat(70)}`;
    const payload = notification(
      '{}:{alertname="RunbookHeavy"}',
      'firing',
      [
        [
          'rh-1',
          'firing',
          { alertname: 'RunbookHeavy', severity: 'critical', instance: 'pi4-a:9100' },
          { summary: 'pi4-a is running out of inodes', runbook_url: url('runbook') },
        ],
      ],
      { groupLabels: { alertname: 'RunbookHeavy' } },
    );
    payload.alerts[0]!.generatorURL = url('graph');
    await notify(payload);

    const root = await seen(() =>
      discord
        .channelMessages(ALERTS)
        .find((m) => String(m.embeds[0]?.title).includes('RunbookHeavy')),
    );
    // Discord refused the full root: its links (too long for a field) needed an attachment.
    expect(
      discord.requests.some((r) => r.status === 413 && r.errorCode === 40005 && r.files.length),
    ).toBe(true);
    expect(root.embeds[0]!.title).toBe('[FIRING:1] RunbookHeavy');
    expect(shown(root)).toContain(
      'Details could not be posted (413 40005 Request entity too large).',
    );
    expect(root.buttons.map((b) => b.label)).toContain('Ack');
    // The alert itself follows in the root's thread.
    const thread = await seen(() => threadOf(root)?.messages[0]);
    expect(shown(thread)).toMatch(/1 new alert firing:\n• pi4-a:9100/);

    expect(await refusals('smaller', '40005')).toBe(1);
    expect(warnings('40005')).toEqual([
      'A-1 root shown in a smaller form: discord refused the full message (413 40005 Request entity too large)',
    ]);
  });

  it('a storm whose alert list is too large for Discord (413 40005) lists its groups in the roll-up thread, which later updates reach', async () => {
    const names = ['DiskA', 'DiskB', 'DiskC', 'DiskD', 'DiskE'];
    const before = await refusals('smaller', '40005');
    // One roll-up for all five whatever the machine's speed: the channel takes nothing (403,
    // retried) until all five are applied.
    discord.denyAccess(ALERTS);
    await notify(...names.map((n) => storm(n, 8)));
    await eventually(async () => app.services.alerts()!.waiting() === 0, 30_000);
    discord.grantAccess(ALERTS);

    const rollup = await seen(
      () =>
        discord
          .channelMessages(ALERTS)
          .find((m) => String(m.embeds[0]?.title).startsWith('Alert storm: 5 groups')),
      30_000,
    );
    const listed = await seen(
      () => threadOf(rollup)?.messages.length && threadOf(rollup)!.messages[0]!,
      30_000,
    );
    // Not an empty thread: every group, by ref, and why the alerts are not listed one by one.
    const text = shown(listed);
    const refs = names.map(
      (n) => new RegExp(`(A-\\d+) FIRING ${n} — 8 of 8 firing`).exec(text)?.[1],
    );
    expect(new Set(refs).size).toBe(5);
    expect(refs).not.toContain(undefined);
    expect(text).toContain(
      'Every alert of these groups could not be posted (413 40005 Request entity too large)',
    );
    // Counted and logged once the bot has Discord's answer (the fake shows the post a moment before).
    const logged = () => warnings('40005').filter((w) => w.startsWith('roll-up'));
    await eventually(async () => logged().length > 0, 5000);
    expect(logged()).toEqual([
      expect.stringMatching(
        /^roll-up R-A-\d+-5 details shown in a smaller form: discord refused the full message \(413 40005 Request entity too large\)$/,
      ),
    ]);
    expect(await refusals('smaller', '40005')).toBe(before + 1);

    // The groups count as shown: resolving one is one update in the same thread, about it alone.
    const resolved = storm('DiskC', 8);
    resolved.status = 'resolved';
    for (const a of resolved.alerts) {
      a.status = 'resolved';
      a.endsAt = '2026-11-26T07:00:00Z';
    }
    await notify(resolved);
    const update = await seen(
      () => threadOf(rollup)!.messages.length > 1 && threadOf(rollup)!.messages.at(-1)!,
      30_000,
    );
    const diskC = /(A-\d+) FIRING DiskC/.exec(text)![1]!;
    expect(shown(update)).toContain(`${diskC}: ✅ Group resolved`);
    const others = refs.filter((r) => r !== diskC);
    for (const ref of others) expect(shown(update)).not.toContain(`${ref}:`);
    expect(discord.unhandled).toEqual([]);
  }, 60_000);

  it('a channel the bot cannot see (403 50001) is retried with back-off, logged once, and shown once access is back', async () => {
    const before = await refusals('retrying', '50001');
    discord.denyAccess(LOCKED);
    const payload = notification(
      '{}:{alertname="BackupFailed"}',
      'firing',
      [
        [
          'bf-1',
          'firing',
          { alertname: 'BackupFailed', severity: 'critical', team: 'locked', instance: 'pi1' },
        ],
      ],
      { groupLabels: { alertname: 'BackupFailed' } },
    );
    await notify(payload);
    const denied = () =>
      discord.requests.filter((r) => r.path.includes(LOCKED) && r.errorCode === 50001).length;
    // Tried, then again after a back-off: each refusal counted.
    await eventually(async () => (await refusals('retrying', '50001')) - before >= 2, 10_000);
    expect(denied()).toBe((await refusals('retrying', '50001')) - before);
    expect(discord.channelMessages(LOCKED)).toEqual([]);
    expect(warnings('50001', LOCKED)).toEqual([
      expect.stringMatching(
        /^A-\d+ root not shown: discord refused it \(403 50001 Missing Access\); will retry$/,
      ),
    ]);

    discord.grantAccess(LOCKED);
    const root = await seen(() => discord.channelMessages(LOCKED)[0], 15_000);
    expect(root.embeds[0]!.title).toBe('[FIRING:1] BackupFailed');
    expect(shown(root)).not.toContain('could not be posted');
    await seen(() =>
      lines.some(
        (l) => l.msg === 'alert delivery works again' && l.destination === `discord:${LOCKED}`,
      ),
    );
    expect(warnings('50001', LOCKED)).toHaveLength(1);
  }, 60_000);
});
