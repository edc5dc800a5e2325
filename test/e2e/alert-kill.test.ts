/**
 * Alerts are "never lost" when the bot dies while a channel refuses it: the real CLI as a child
 * process, the fake Discord denying #alerts (403 50001), notifications acknowledged by the bot,
 * then SIGKILL during the channel's back-off — before any of them could be shown. Started again
 * with the channel open, the bot shows every group exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notification, postWebhook } from '../alerts/pipeline-helpers.js';
import { FakeDiscord, snowflake } from '../fakes/discord/fake-discord.js';
import { freePort } from '../helpers/alertmanager.js';
import { discordChat } from '../helpers/app-fixture.js';
import { BotProcess } from '../helpers/bot-process.js';
import { tempStateDir } from '../helpers/cli.js';

const ALERTS = snowflake();
const NAMES = ['DiskFull', 'NodeDown', 'BackupStale'];

let discord: FakeDiscord;
let bot: BotProcess;
let port: number;

beforeAll(async () => {
  port = await freePort();
  discord = await FakeDiscord.start({ channels: [{ id: ALERTS, name: 'alerts' }] });
  bot = new BotProcess(tempStateDir(), {
    http: { enabled: true, port },
    chat: {
      console: { enabled: false },
      discord: discordChat(discord, { registerOnStart: false }),
    },
    alerts: { enabled: true, rollupThreshold: 10, default: { to: [{ discord: ALERTS }] } },
  });
  await bot.start();
}, 60_000);

afterAll(async () => {
  await bot?.stop();
  await discord?.stop();
});

const group = (name: string, at: string) => {
  const p = notification(
    `{}:{alertname="${name}"}`,
    'firing',
    [[`${name}-1`, 'firing', { alertname: name, severity: 'critical', instance: 'pi3' }]],
    { groupLabels: { alertname: name } },
  );
  for (const a of p.alerts) a.startsAt = at;
  return p;
};

const roots = (name: string) =>
  discord.channelMessages(ALERTS).filter((m) => String(m.embeds[0]?.title).includes(name));

describe('alerts acknowledged while their channel refuses, then SIGKILL', () => {
  it('are all shown once the restarted bot may post: each group exactly once', async () => {
    discord.denyAccess(ALERTS);
    for (const [i, name] of NAMES.entries()) {
      const answer = await postWebhook(port, group(name, `2026-11-26T06:0${i}:00Z`));
      expect(answer.status).toBe(200); // acknowledged: the bot has it on disk
    }
    // The channel refused the first post: the bot waits out its back-off, nothing is shown.
    await discord.waitFor(
      () => discord.requests.some((r) => r.status === 403 && r.errorCode === 50001),
      20_000,
    );
    expect(discord.channelMessages(ALERTS)).toEqual([]);
    await bot.kill();

    discord.grantAccess(ALERTS);
    await bot.start();
    await discord.waitFor(() => NAMES.every((n) => roots(n).length > 0), 30_000);
    await new Promise((r) => setTimeout(r, 1000)); // a duplicate would come in this time
    expect(NAMES.map((n) => roots(n).length)).toEqual([1, 1, 1]);
  }, 90_000);
});
