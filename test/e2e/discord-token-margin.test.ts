/**
 * The proactive side of the token rule (#13): 14 minutes after the interaction the bot stops
 * using its token before Discord refuses it, and edits the reply with the bot token. The
 * adapter's clock is moved forward; the fake's token still lives (15 min), so any 50027 here
 * would mean the bot waited for the failure instead.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiscordAdapter } from '../../src/chat/discord/discord-adapter.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { defineAction, defineCommand } from '../../src/core/command.js';
import { silentLogger } from '../../src/core/logger.js';
import { FakeDiscord, snowflake } from '../fakes/discord/fake-discord.js';
import { discordChat, testConfig } from '../helpers/app-fixture.js';
import { makeDispatcher } from '../helpers/dispatcher.js';

const OPS = snowflake();
const ALICE = snowflake();

let offsetMs = 0;
let release: () => void = () => {};
/** Resolves once the command waits for `release` (the test must not release it before). */
let paused: () => void = () => {};
const atPause = new Promise<void>((resolve) => {
  paused = resolve;
});

/** `/wait run`: one step, then waits for the test, then one more step and the result. */
const waitCommand = defineCommand({
  name: 'wait',
  description: 'Test-only work paused by the test',
  subcommands: [
    defineAction({
      name: 'run',
      description: 'Step, wait, step',
      sideEffects: false,
      options: [],
      execute: async ({ progress }) => {
        await progress.step('before the pause');
        await new Promise<void>((resolve) => {
          release = resolve;
          paused();
        });
        await progress.update({ title: 'Working', progress: { done: 1, total: 2 } });
        await progress.step('after the pause');
        return { severity: 'success', title: 'Done after 14 minutes' };
      },
    }),
  ],
});

let fake: FakeDiscord;
let adapter: DiscordAdapter;

beforeAll(async () => {
  fake = await FakeDiscord.start({
    channels: [{ id: OPS, name: 'ops' }],
    users: [{ id: ALICE, username: 'alice' }],
  });
  const access = ConfigSchema.parse({
    access: { roles: { ops: { members: [`discord:${ALICE}`], allow: ['*'] } } },
  }).access;
  const { dispatcher } = makeDispatcher([waitCommand], { access });
  adapter = new DiscordAdapter({
    config: testConfig({ chat: { discord: discordChat(fake) } }).chat.discord!,
    dispatcher,
    commands: () => [waitCommand],
    log: silentLogger(),
    apiUrl: `${fake.url}/api`,
    now: () => Date.now() + offsetMs,
  });
  await adapter.start();
});

afterAll(async () => {
  release();
  await adapter?.stop();
  await fake?.stop();
});

describe('Discord: the interaction token is given up 14 minutes in', () => {
  it('edits the reply with the bot token before Discord would refuse the interaction token', async () => {
    const i = await fake.slashCommand({
      user: ALICE,
      channelId: OPS,
      name: 'wait',
      subcommand: 'run',
    });
    const threadOf = () => fake.interactionResponse(i).message?.threadId;
    await fake.waitFor(() => threadOf() && fake.channelMessages(threadOf()!).length === 1, 20_000);
    await atPause;
    const before = fake.requests.length;
    offsetMs = 14 * 60_000;
    release();
    await fake.waitFor(
      () => fake.interactionResponse(i).embeds[0]?.title === 'Done after 14 minutes',
      20_000,
    );
    const after = fake.requests.slice(before);
    const reply = fake.interactionResponse(i).message!;
    expect(after.filter((r) => r.route?.includes(':token'))).toEqual([]);
    expect(
      after.filter(
        (r) => r.method === 'PATCH' && r.path === `/channels/${OPS}/messages/${reply.id}`,
      ).length,
    ).toBeGreaterThan(0);
    expect(fake.channelMessages(threadOf()!).map((m) => m.content)).toEqual([
      '› before the pause',
      '› after the pause',
    ]);
  }, 60_000);
});
