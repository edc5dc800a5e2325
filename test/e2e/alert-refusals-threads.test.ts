/**
 * Alert posts Discord refuses for one group alone: a thread a moderator locked (400 50083
 * Thread is archived), a root message a moderator deleted (404 10008 Unknown Message), a channel
 * where the bot may not start threads (403 50013 Missing Permissions). None of them may hold up
 * the channel: another group's alert sent right after is posted at once. What happens to the
 * refused group is what a user sees: a locked thread gets nothing, its root is still edited and
 * the post goes to alerts/dead-letter.jsonl (error log line, chatops_alert_dead_letters_total);
 * a deleted root of a firing group is posted again with a new thread saying why. Real discord.js
 * against the fake Discord; notifications posted to the webhook as Alertmanager posts them.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebhookPayload } from '../../src/alerts/types.js';
import type { App } from '../../src/app.js';
import { capturedLog, notification, postWebhook } from '../alerts/pipeline-helpers.js';
import { FakeDiscord, type MessageView, snowflake } from '../fakes/discord/fake-discord.js';
import { freePort } from '../helpers/alertmanager.js';
import { discordChat, startApp, testConfig } from '../helpers/app-fixture.js';

const LOCKING = snowflake();
const DELETING = snowflake();
const NO_THREADS = snowflake();

let discord: FakeDiscord;
let app: App;
let port: number;
const { log, lines } = capturedLog();

beforeAll(async () => {
  port = await freePort();
  discord = await FakeDiscord.start({
    channels: [
      { id: LOCKING, name: 'alerts-locking' },
      { id: DELETING, name: 'alerts-deleting' },
      { id: NO_THREADS, name: 'alerts-no-threads' },
    ],
  });
  const config = testConfig({
    http: { enabled: true, port },
    chat: { discord: discordChat(discord, { registerOnStart: false }) },
    alerts: {
      enabled: true,
      routes: [
        { match: ['team="locking"'], to: [{ discord: LOCKING }] },
        { match: ['team="deleting"'], to: [{ discord: DELETING }] },
        { match: ['team="nothreads"'], to: [{ discord: NO_THREADS }] },
      ],
      default: { to: [{ discord: LOCKING }] },
    },
  });
  app = await startApp(config, { log });
}, 60_000);

afterAll(async () => {
  await app?.stop();
  await discord?.stop();
}, 60_000);

async function notify(payload: WebhookPayload): Promise<void> {
  const answer = await postWebhook(port, payload);
  expect(answer.status).toBe(200);
}

/** A group `name` of the given alerts (instance → status), routed by `team`; `at` is its start. */
function group(
  name: string,
  team: string,
  alerts: Record<string, 'firing' | 'resolved'>,
  at = '2026-11-26T06:00:00Z',
): WebhookPayload {
  const entries = Object.entries(alerts);
  const p = notification(
    `{}:{alertname="${name}"}`,
    entries.every(([, s]) => s === 'resolved') ? 'resolved' : 'firing',
    entries.map(([instance, s]) => [
      `${name}-${instance}`,
      s,
      { alertname: name, severity: 'warning', team, instance },
    ]),
    { groupLabels: { alertname: name }, commonLabels: { alertname: name, team } },
  );
  for (const a of p.alerts) a.startsAt = at;
  return p;
}

/** What a user reads in a message: content, embed title/description/fields/footer. */
function shown(m: MessageView): string {
  return [
    m.content,
    ...m.embeds.flatMap((e) => [e.title, e.description, JSON.stringify(e.fields ?? [])]),
  ].join('\n');
}

async function seen<T>(find: () => T | undefined | false | 0, timeoutMs = 20_000): Promise<T> {
  return (await discord.waitFor(find, timeoutMs)) as T;
}

const title = (m: MessageView | undefined) => String(m?.embeds[0]?.title);
/** The group's ref (`A-3`), from the root's footer. */
const refOf = (m: MessageView) =>
  /A-\d+/.exec(String((m.embeds[0]?.footer as { text?: string } | undefined)?.text))![0];
const rootOf = (channel: string, name: string) =>
  discord.channelMessages(channel).find((m) => title(m).includes(name));
const threadOf = (message: MessageView) =>
  discord.threads().find((t) => t.starterMessage?.id === message.id);

async function counter(name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = app.metrics.registry.getSingleMetric(name);
  const values = (await metric?.get())?.values ?? [];
  return values
    .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
    .reduce((n, v) => n + v.value, 0);
}

function deadLetters(): Record<string, unknown>[] {
  const file = app.services.alerts()!.deadLetterFile;
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The other group must not wait behind the refused one: posted within this (a retry is ≥ 2 s). */
const PROMPTLY_MS = 8000;

describe('a refusal of one group alone holds up nothing in its channel', () => {
  it('a thread a moderator locked (400 50083): the next group is posted at once; the locked group’s root is still edited, its update goes to the dead letters', async () => {
    await notify(group('DiskFull', 'locking', { 'pi4-a:9100': 'firing' }));
    const root = await seen(() => rootOf(LOCKING, 'DiskFull'));
    await notify(group('DiskFull', 'locking', { 'pi4-a:9100': 'firing', 'pi4-b:9100': 'firing' }));
    const thread = await seen(() => threadOf(root)?.messages.length && threadOf(root));
    expect(shown(thread.messages[0]!)).toContain('1 new alert firing');
    discord.lockThread(thread.id);
    const deadBefore = await counter('chatops_alert_dead_letters_total');

    // Both alerts resolve; a moment later another group fires in the same channel.
    await notify(
      group('DiskFull', 'locking', { 'pi4-a:9100': 'resolved', 'pi4-b:9100': 'resolved' }),
    );
    const sentAt = Date.now();
    await notify(group('NodeDown', 'locking', { 'pi3:9100': 'firing' }, '2026-11-26T06:30:00Z'));

    const other = await seen(() => rootOf(LOCKING, 'NodeDown'), PROMPTLY_MS);
    expect(Date.now() - sentAt).toBeLessThan(PROMPTLY_MS);
    expect(other.embeds[0]!.title).toBe('[FIRING:1] NodeDown');

    // The locked group: its root shows the resolution, its locked thread got nothing new.
    await seen(() => title(rootOf(LOCKING, 'DiskFull')).startsWith('[RESOLVED'));
    expect(shown(rootOf(LOCKING, 'DiskFull')!)).toContain('✅ RESOLVED');
    expect(threadOf(root)!.messages).toHaveLength(1);
    expect(
      discord.requests.some(
        (r) => r.status === 400 && r.errorCode === 50083 && r.path.includes(thread.id),
      ),
    ).toBe(true);

    // Kept, logged and counted for the people who run the bot.
    await seen(() => deadLetters().length > 0, 5000);
    const [letter] = deadLetters();
    const ref = refOf(root);
    expect(letter).toMatchObject({
      destination: `discord:${LOCKING}`,
      what: `${ref} update`,
      groupKey: '{}:{alertname="DiskFull"}',
      reason: `${ref} update refused: 400 50083 Thread is archived`,
    });
    expect(JSON.stringify(letter!.payload)).toContain('Group resolved');
    const errors = lines.filter((l) => l.level === 50 && l.code === '50083').map((l) => l.msg);
    expect(errors).toEqual([
      `${ref} update not shown: discord refused it (400 50083 Thread is archived): its thread is locked: a moderator can unlock it; the root message is still edited; moved to ${app.services.alerts()!.deadLetterFile}; other alerts go on`,
    ]);
    expect(await counter('chatops_alert_dead_letters_total')).toBe(deadBefore + 1);
    expect(
      await counter('chatops_alert_deliveries_failed_total', {
        reason: '50083',
        outcome: 'dead-letter',
      }),
    ).toBe(1);
    expect(discord.unhandled).toEqual([]);
  }, 60_000);

  it('a root message a moderator deleted (404 10008): the next group is posted at once; the firing group is posted again with a new thread that says why', async () => {
    await notify(group('BackupStale', 'deleting', { pi1: 'firing' }));
    const first = await seen(() => rootOf(DELETING, 'BackupStale'));
    discord.deleteMessage(first.id);

    await notify(group('BackupStale', 'deleting', { pi1: 'firing', pi2: 'firing' }));
    const sentAt = Date.now();
    await notify(group('PiholeDown', 'deleting', { pi3: 'firing' }, '2026-11-26T06:30:00Z'));

    const other = await seen(() => rootOf(DELETING, 'PiholeDown'), PROMPTLY_MS);
    expect(Date.now() - sentAt).toBeLessThan(PROMPTLY_MS);
    expect(other.embeds[0]!.title).toBe('[FIRING:1] PiholeDown');

    // A new root for the group, as it is now (both alerts), and a thread saying why.
    const again = await seen(() => rootOf(DELETING, 'BackupStale'));
    expect(again.id).not.toBe(first.id);
    expect(again.embeds[0]!.title).toBe('[FIRING:2] BackupStale');
    expect(shown(again)).toMatch(/pi1[\s\S]*pi2|pi2[\s\S]*pi1/);
    expect(again.buttons.map((b) => b.label)).toContain('Ack');
    const ref = refOf(again);
    const why = await seen(() => threadOf(again)?.messages[0]);
    expect(shown(why)).toBe(
      `Posted again: the earlier message of ${ref} was deleted (404 10008 Unknown Message).`,
    );
    // The deleted message stays deleted; nothing else in the channel.
    expect(discord.channelMessages(DELETING).map(title).sort()).toEqual([
      '[FIRING:1] PiholeDown',
      '[FIRING:2] BackupStale',
    ]);
    expect(
      await counter('chatops_alert_deliveries_failed_total', {
        reason: '10008',
        outcome: 'reposted',
      }),
    ).toBe(1);
    expect(lines.filter((l) => l.level === 40 && l.code === '10008').map((l) => l.msg)).toEqual([
      `${ref} update: discord says the group's root message is gone (404 10008 Unknown Message); it is posted again with a new thread`,
    ]);

    // Later updates go to the new root's thread.
    await notify(group('BackupStale', 'deleting', { pi1: 'resolved', pi2: 'firing' }));
    const update = await seen(() => threadOf(again)!.messages[1]);
    expect(shown(update)).toContain('resolved');
    expect(discord.unhandled).toEqual([]);
  }, 60_000);

  it('a channel where the bot may not start threads (403 50013): the next group is posted at once; the group’s root is still edited, its update goes to the dead letters', async () => {
    await notify(group('CertExpiry', 'nothreads', { 'x86:443': 'firing' }));
    const root = await seen(() => rootOf(NO_THREADS, 'CertExpiry'));
    discord.denyThreads(NO_THREADS);

    await notify(group('CertExpiry', 'nothreads', { 'x86:443': 'firing', 'pi5:443': 'firing' }));
    const sentAt = Date.now();
    await notify(
      group('LonghornDegraded', 'nothreads', { pvc1: 'firing' }, '2026-11-26T06:30:00Z'),
    );

    const other = await seen(() => rootOf(NO_THREADS, 'LonghornDegraded'), PROMPTLY_MS);
    expect(Date.now() - sentAt).toBeLessThan(PROMPTLY_MS);
    expect(other.embeds[0]!.title).toBe('[FIRING:1] LonghornDegraded');

    // The root shows both alerts; there is no thread.
    await seen(() => title(rootOf(NO_THREADS, 'CertExpiry')) === '[FIRING:2] CertExpiry');
    expect(rootOf(NO_THREADS, 'CertExpiry')!.id).toBe(root.id);
    expect(shown(rootOf(NO_THREADS, 'CertExpiry')!)).toContain('pi5:443');
    expect(threadOf(root)).toBeUndefined();
    const ref = refOf(root);
    await seen(() => deadLetters().some((l) => l.what === `${ref} update`), 5000);
    expect(deadLetters().find((l) => l.what === `${ref} update`)).toMatchObject({
      destination: `discord:${NO_THREADS}`,
      reason: `${ref} update refused: 403 50013 Missing Permissions`,
    });
    expect(lines.filter((l) => l.level === 50 && l.code === '50013').map((l) => l.msg)).toEqual([
      expect.stringContaining(
        `${ref} update not shown: discord refused it (403 50013 Missing Permissions): the bot may not start threads or post in them here (Create Public Threads, Send Messages in Threads)`,
      ),
    ]);
    // Nothing was retried as if the channel were unreachable.
    expect(lines.filter((l) => l.code === '50013' && String(l.msg).includes('will retry'))).toEqual(
      [],
    );
    expect(discord.unhandled).toEqual([]);
  }, 60_000);
});
