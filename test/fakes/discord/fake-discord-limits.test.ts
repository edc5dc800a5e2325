/**
 * The fake Discord's limits that bite long-running bots, against the real discord.js Client (no
 * bot code): the interaction token's lifetime, no thread from a message inside a thread, the
 * autocomplete deadline, and which mentions would ping (allowed_mentions).
 */
import { once } from 'node:events';
import {
  type AutocompleteInteraction,
  type ChatInputCommandInteraction,
  Client,
  DiscordAPIError,
  GatewayIntentBits,
  type Interaction,
  Routes,
  type TextChannel,
} from 'discord.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeDiscord, snowflake } from './fake-discord.js';

const OPS = snowflake();
const ALICE = snowflake();
const BOB = snowflake();
const ONCALL = snowflake();

let fake: FakeDiscord;
let client: Client;

function nextInteraction<T extends Interaction>(): Promise<T> {
  return new Promise((resolve) => client.once('interactionCreate', (i) => resolve(i as T)));
}

async function rejection(p: Promise<unknown>): Promise<DiscordAPIError> {
  const err = await p.then(
    () => new Error('expected the call to be rejected'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DiscordAPIError);
  return err as DiscordAPIError;
}

async function command(): Promise<{
  i: ChatInputCommandInteraction;
  handle: Awaited<ReturnType<FakeDiscord['slashCommand']>>;
}> {
  const got = nextInteraction<ChatInputCommandInteraction>();
  const handle = await fake.slashCommand({ user: ALICE, channelId: OPS, name: 'ping' });
  return { i: await got, handle };
}

beforeAll(async () => {
  fake = await FakeDiscord.start({
    channels: [{ id: OPS, name: 'ops' }],
    users: [
      { id: ALICE, username: 'alice' },
      { id: BOB, username: 'bob' },
    ],
    roles: [{ id: ONCALL, name: 'oncall' }],
  });
  client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: `${fake.url}/api` } });
  const ready = once(client, 'clientReady');
  await client.login('fake-token');
  await ready;
  await fake.waitForReady();
  await client.application!.commands.set(
    [
      {
        name: 'ping',
        description: 'Ping',
        options: [{ type: 3, name: 'who', description: 'Who', autocomplete: true }],
      },
    ],
    fake.guildId,
  );
});

afterEach(() => {
  expect(fake.unhandled).toEqual([]);
});

afterAll(async () => {
  await client?.destroy();
  await fake?.stop();
});

describe('FakeDiscord: limits of the real service', () => {
  it('an expired interaction token: 401 Invalid Webhook Token (50027); the bot token still edits the reply', async () => {
    fake.interactionTokenTtlMs = 300;
    try {
      const { i, handle } = await command();
      await i.deferReply();
      await i.editReply('working…');
      const reply = await i.fetchReply();
      await new Promise((r) => setTimeout(r, 400));
      const edit = await rejection(i.editReply('done'));
      expect([edit.status, edit.code]).toEqual([401, 50027]);
      const follow = await rejection(i.followUp('done'));
      expect([follow.status, follow.code]).toEqual([401, 50027]);
      expect((await rejection(i.fetchReply())).code).toBe(50027);

      // The bot's own interaction response, through the channel API.
      const channel = client.channels.cache.get(OPS) as TextChannel;
      await channel.messages.edit(reply.id, { content: 'done' });
      expect(fake.interactionResponse(handle).message).toMatchObject({ content: 'done' });
    } finally {
      fake.interactionTokenTtlMs = 15 * 60_000;
    }
  });

  it('no thread from a message inside a thread: 400 Cannot execute action on this channel type (50024)', async () => {
    const channel = client.channels.cache.get(OPS) as TextChannel;
    const root = await channel.send({ content: 'root', allowedMentions: { parse: [] } });
    const thread = await root.startThread({ name: 'steps' });
    const inner = await thread.send({ content: 'inside', allowedMentions: { parse: [] } });
    // discord.js refuses Message.startThread() here itself; the API does too.
    const err = await rejection(
      client.rest.post(Routes.threads(thread.id, inner.id), { body: { name: 'nested' } }),
    );
    expect([err.status, err.code]).toEqual([400, 50024]);
    expect(fake.threads().map((t) => t.id)).toEqual([thread.id]);
  });

  it('autocomplete answered after the 3 s deadline fails (10062): the user gets no options', async () => {
    fake.interactionTimeoutMs = 200;
    try {
      const got = nextInteraction<AutocompleteInteraction>();
      const choices = fake.autocomplete({
        user: ALICE,
        name: 'ping',
        focused: { name: 'who', value: '' },
      });
      const ac = await got;
      const failed = expect(choices).rejects.toThrow(/Loading options failed/);
      await new Promise((r) => setTimeout(r, 300));
      expect((await rejection(ac.respond([{ name: 'a', value: 'a' }]))).code).toBe(10062);
      await failed;
    } finally {
      fake.interactionTimeoutMs = 3000;
    }
  });

  it('records which mentions would ping, per allowed_mentions and per context', async () => {
    const channel = client.channels.cache.get(OPS) as TextChannel;
    const text = `@everyone @here <@${BOB}> <@&${ONCALL}> \\<@${ALICE}>`;
    const before = fake.pings.length;

    // A bot-token message without allowed_mentions parses everything.
    const loud = await channel.send(text);
    expect(fake.pings.slice(before).map((p) => [p.kind, p.id ?? null, p.edit])).toEqual([
      ['everyone', null, false],
      ['here', null, false],
      ['user', BOB, false],
      ['role', ONCALL, false],
    ]);

    // parse: [] silences all; listed ids still ping.
    let n = fake.pings.length;
    await channel.send({ content: text, allowedMentions: { parse: [], users: [BOB] } });
    expect(fake.pings.slice(n).map((p) => [p.kind, p.id])).toEqual([['user', BOB]]);
    expect(fake.requests.at(-1)!.allowedMentions).toEqual({ parse: [], users: [BOB] });

    // An edit re-parses with its own allowed_mentions (or the defaults), not the original's.
    const quiet = await channel.send({ content: 'quiet', allowedMentions: { parse: [] } });
    n = fake.pings.length;
    await quiet.edit({ content: `@here ${quiet.content}` });
    expect(fake.pings.slice(n)).toMatchObject([{ kind: 'here', edit: true, messageId: quiet.id }]);
    n = fake.pings.length;
    await loud.edit({ embeds: [{ title: 'no content change' }] });
    expect(fake.pings.length).toBe(n);

    // Interaction responses parse users only by default.
    const { i } = await command();
    n = fake.pings.length;
    await i.reply(text);
    expect(fake.pings.slice(n).map((p) => [p.kind, p.route])).toEqual([
      ['user', 'POST /interactions/:id/:token/callback'],
    ]);
    n = fake.pings.length;
    await i.followUp({ content: text, allowedMentions: { parse: [] } });
    await i.editReply({ content: text, allowedMentions: { parse: [] } });
    expect(fake.pings.length).toBe(n);
    const writes = fake.messageWrites().slice(-2);
    expect(writes.map((w) => [w.route, w.allowedMentions])).toEqual([
      ['POST /webhooks/:id/:token', { parse: [] }],
      ['PATCH /webhooks/:id/:token/messages/:id', { parse: [] }],
    ]);
  });

  it('refuses parse:["users"] together with users:[…] (400 50035), as Discord does', async () => {
    const channel = client.channels.cache.get(OPS) as TextChannel;
    const err = await rejection(
      channel.send({ content: `<@${BOB}>`, allowedMentions: { parse: ['users'], users: [BOB] } }),
    );
    expect(err.code).toBe(50035);
    expect(err.message).toMatch(/mutually exclusive/);
  });
});
