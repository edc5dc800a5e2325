/**
 * Smoke test of the fake Discord against the real, unmodified discord.js Client — no bot code.
 * Each test drives the client the way the adapter will, and asserts what a Discord user sees.
 */
import { once } from 'node:events';
import {
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  Client,
  DiscordAPIError,
  GatewayIntentBits,
  type Interaction,
  MessageFlags,
  Routes,
  type TextChannel,
} from 'discord.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeDiscord, snowflake } from './fake-discord.js';

const OPS = snowflake();
const ALERTS = snowflake();
const ALICE = snowflake();
const BOB = snowflake();

const NODE_COMMAND = {
  name: 'node',
  description: 'Operate lab nodes',
  options: [
    {
      type: 1,
      name: 'reboot',
      description: 'Drain, reboot and uncordon a node',
      options: [{ type: 3, name: 'node', description: 'Node', required: true, autocomplete: true }],
    },
  ],
};

const confirmRow = (id: string) => ({
  type: 1,
  components: [
    { type: 2, style: 4, label: 'Reboot', custom_id: `reboot:confirm:${id}` },
    { type: 2, style: 2, label: 'Cancel', custom_id: `reboot:cancel:${id}` },
  ],
});

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

beforeAll(async () => {
  fake = await FakeDiscord.start({
    channels: [
      { id: OPS, name: 'ops' },
      { id: ALERTS, name: 'alerts' },
    ],
    users: [
      { id: ALICE, username: 'alice', roles: ['operator'] },
      { id: BOB, username: 'bob' },
    ],
    roles: [{ name: 'operator' }],
    heartbeatIntervalMs: 1000,
  });
  client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: `${fake.url}/api` } });
  const ready = once(client, 'clientReady');
  await client.login('fake-token');
  await ready;
  await fake.waitForReady();
});

afterEach(() => {
  expect(fake.unhandled).toEqual([]);
});

afterAll(async () => {
  await client?.destroy();
  await fake?.stop();
});

describe('FakeDiscord with the real discord.js client', () => {
  it('logs in over JSON without compression and registers guild commands', async () => {
    expect(fake.gatewayLog.connectUrls[0]).toMatch(/v=10&encoding=json$/);
    expect(client.user?.id).toBe(fake.botUserId);
    expect(client.channels.cache.get(OPS)?.isTextBased()).toBe(true);

    const set = await client.application!.commands.set([NODE_COMMAND], fake.guildId);
    expect(fake.commands.map((c) => c.name)).toEqual(['node']);
    expect([...set.keys()]).toEqual([fake.commands[0]!.id]);

    const bad = await rejection(
      client.application!.commands.set([{ name: 'Node', description: 'x' }], fake.guildId),
    );
    expect(bad.code).toBe(50035);
    expect(fake.commands.map((c) => c.name)).toEqual(['node']);
  });

  it('slash command: defer, edit twice, fetch, thread from the reply, ephemeral follow-up', async () => {
    const got = nextInteraction<ChatInputCommandInteraction>();
    const handle = await fake.slashCommand({
      user: 'alice',
      channelId: OPS,
      name: 'node',
      subcommand: 'reboot',
      options: [{ name: 'node', value: 'pi4-a' }],
    });
    const i = await got;
    expect(i.isChatInputCommand()).toBe(true);
    expect([i.commandName, i.options.getSubcommand(), i.options.getString('node')]).toEqual([
      'node',
      'reboot',
      'pi4-a',
    ]);
    expect(i.channel?.id).toBe(OPS);
    expect(i.user.username).toBe('alice');
    expect(i.member?.roles).toBeTruthy();

    await i.deferReply();
    expect(fake.interactionResponse(handle)).toMatchObject({
      deferred: true,
      message: { loading: true },
    });

    await i.editReply('Draining pi4-a…');
    await i.editReply({
      content: 'Rebooting pi4-a…',
      embeds: [{ title: 'pi4-a', description: 'cordoned, 3 pods evicted' }],
      components: [confirmRow('pi4-a')],
    });
    const reply = await i.fetchReply();
    expect(reply.content).toBe('Rebooting pi4-a…');

    const thread = await reply.startThread({ name: 'reboot pi4-a' });
    expect(thread.id).toBe(reply.id);
    await thread.send('step 1/3: cordon ok');
    await thread.send({
      content: 'drain log',
      files: [{ attachment: Buffer.from('evicted 3 pods\n'), name: 'drain.log' }],
    });
    const again = await rejection(
      client.rest.post(Routes.threads(OPS, reply.id), { body: { name: 'x' } }),
    );
    expect(again.code).toBe(160004);

    await i.followUp({
      content: 'Only you can see this',
      flags: MessageFlags.Ephemeral,
      files: [{ attachment: Buffer.from('plan: drain, reboot, uncordon'), name: 'plan.txt' }],
    });

    const view = fake.interactionResponse(handle);
    expect(view).toMatchObject({
      acknowledged: true,
      responseType: 5,
      ephemeral: false,
      timedOut: false,
    });
    expect(view.history.map((v) => v.content)).toEqual(['', 'Draining pi4-a…', 'Rebooting pi4-a…']);
    expect(view.message?.buttons.map((b) => b.label)).toEqual(['Reboot', 'Cancel']);
    expect(view.followUps).toMatchObject([
      {
        content: 'Only you can see this',
        ephemeral: true,
        visibleTo: ALICE,
        attachments: [{ name: 'plan.txt', text: 'plan: drain, reboot, uncordon' }],
      },
    ]);

    expect(fake.channelMessages(OPS).map((m) => m.content)).toEqual([
      'Rebooting pi4-a…',
      'Only you can see this',
    ]);
    expect(fake.channelMessages(OPS, { asUser: 'bob' }).map((m) => m.content)).toEqual([
      'Rebooting pi4-a…',
    ]);
    const [t] = fake.threads();
    expect(t).toMatchObject({
      name: 'reboot pi4-a',
      parentId: OPS,
      starterMessage: { id: reply.id },
    });
    expect(t!.messages.map((m) => m.content)).toEqual(['step 1/3: cordon ok', 'drain log']);
    expect(t!.messages[1]!.attachments).toMatchObject([
      { name: 'drain.log', text: 'evicted 3 pods\n' },
    ]);
  });

  it('autocomplete: the choices the bot answers reach the user; more than 25 are refused', async () => {
    let got = nextInteraction();
    const choices = fake.autocomplete({
      user: ALICE,
      name: 'node',
      subcommand: 'reboot',
      focused: { name: 'node', value: 'pi4' },
    });
    const ac = await got;
    if (!ac.isAutocomplete()) throw new Error('expected autocomplete');
    expect(ac.options.getFocused(true)).toMatchObject({ name: 'node', value: 'pi4' });
    await ac.respond(['pi4-a', 'pi4-b'].map((n) => ({ name: n, value: n })));
    expect(await choices).toEqual([
      { name: 'pi4-a', value: 'pi4-a' },
      { name: 'pi4-b', value: 'pi4-b' },
    ]);

    got = nextInteraction();
    const unanswered = fake.autocomplete(
      { user: ALICE, name: 'node', subcommand: 'reboot', focused: { name: 'node', value: '' } },
      300,
    );
    const ac2 = await got;
    if (!ac2.isAutocomplete()) throw new Error('expected autocomplete');
    const many = Array.from({ length: 26 }, (_, n) => ({ name: `n${n}`, value: `n${n}` }));
    expect((await rejection(ac2.respond(many))).code).toBe(50035);
    await expect(unanswered).rejects.toThrow(/no autocomplete answer/);
  });

  it('buttons: pressing one on a posted message, update() edits that message', async () => {
    const channel = client.channels.cache.get(ALERTS) as TextChannel;
    const posted = await channel.send({
      content: 'Reboot pi4-b?',
      components: [confirmRow('pi4-b')],
    });
    await expect(
      fake.pressButton({ user: BOB, messageId: posted.id, customId: 'nope' }),
    ).rejects.toThrow(/no button/);

    const got = nextInteraction<ButtonInteraction>();
    const handle = await fake.pressButton({
      user: BOB,
      messageId: posted.id,
      customId: 'reboot:confirm:pi4-b',
    });
    const press = await got;
    expect([press.isButton(), press.customId, press.message.id, press.user.id]).toEqual([
      true,
      'reboot:confirm:pi4-b',
      posted.id,
      BOB,
    ]);
    await press.update({ content: 'Rebooting pi4-b (confirmed by bob)', components: [] });

    const [msg] = fake.channelMessages(ALERTS);
    expect(msg).toMatchObject({
      id: posted.id,
      content: 'Rebooting pi4-b (confirmed by bob)',
      buttons: [],
      edits: 1,
    });
    expect(fake.interactionResponse(handle)).toMatchObject({
      responseType: 7,
      message: { id: posted.id },
    });
    expect(fake.interactionResponse(handle).history.map((v) => v.content)).toEqual([
      'Reboot pi4-b?',
      'Rebooting pi4-b (confirmed by bob)',
    ]);

    // deferUpdate() then editReply(): @original is the message the button is on.
    const other = await channel.send({ content: 'Reboot pi1?', components: [confirmRow('pi1')] });
    const got2 = nextInteraction<ButtonInteraction>();
    const cancel = await fake.pressButton({
      user: 'alice',
      messageId: other.id,
      customId: 'reboot:cancel:pi1',
    });
    const press2 = await got2;
    await press2.deferUpdate();
    await press2.editReply({ content: 'Cancelled by alice', components: [] });
    expect(fake.interactionResponse(cancel)).toMatchObject({ responseType: 6, deferred: true });
    expect(fake.message(other.id)).toMatchObject({ content: 'Cancelled by alice', buttons: [] });
  });

  it('a follow-up sent right after deferReply replaces the "thinking…" message (Discord compat rule)', async () => {
    const got = nextInteraction<ChatInputCommandInteraction>();
    const handle = await fake.slashCommand({
      user: 'bob',
      channelId: ALERTS,
      name: 'node',
      subcommand: 'reboot',
      options: [{ name: 'node', value: 'pi4-b' }],
    });
    const i = await got;
    const before = fake.channelMessages(ALERTS).length;
    await i.deferReply({ flags: MessageFlags.Ephemeral });
    const sent = await i.followUp({ content: 'done' });
    const view = fake.interactionResponse(handle);
    expect(view).toMatchObject({ content: 'done', ephemeral: true, followUps: [] });
    expect(sent.id).toBe(view.message?.id);
    expect(fake.channelMessages(ALERTS)).toHaveLength(before + 1);
  });

  it('refuses what Discord refuses: content over 2000 chars, too many fields/buttons, a second answer', async () => {
    const channel = client.channels.cache.get(ALERTS) as TextChannel;
    const before = fake.channelMessages(ALERTS).length;
    const long = await rejection(channel.send('x'.repeat(2001)));
    expect([long.status, long.code]).toEqual([400, 50035]);
    expect(long.message).toMatch(/content\[BASE_TYPE_MAX_LENGTH\]/);

    const fields = Array.from({ length: 26 }, (_, n) => ({ name: `f${n}`, value: 'v' }));
    expect((await rejection(channel.send({ embeds: [{ title: 't', fields }] }))).code).toBe(50035);
    const six = {
      type: 1,
      components: Array.from({ length: 6 }, (_, n) => ({
        type: 2,
        style: 1,
        label: `b${n}`,
        custom_id: `b${n}`,
      })),
    };
    expect((await rejection(channel.send({ content: 'x', components: [six] as never }))).code).toBe(
      50035,
    );
    expect(fake.channelMessages(ALERTS)).toHaveLength(before);

    const got = nextInteraction<ChatInputCommandInteraction>();
    await fake.slashCommand({
      user: 'bob',
      channelId: ALERTS,
      name: 'node',
      subcommand: 'reboot',
      options: [{ name: 'node', value: 'pi1' }],
    });
    const i = await got;
    const res = await i.reply({ content: 'ok', withResponse: true });
    expect(res.resource?.message?.id).toBe(fake.interactionResponse(i.id).message?.id);
    const second = await rejection(
      client.rest.post(Routes.interactionCallback(i.id, i.token), {
        body: { type: 4, data: { content: 'again' } },
        auth: false,
      }),
    );
    expect(second.code).toBe(40060);

    const unknown = await rejection(client.rest.get('/no-such-route'));
    expect([unknown.status, fake.unhandled.map((u) => u.path)]).toEqual([
      404,
      ['/api/v10/no-such-route'],
    ]);
    fake.unhandled.length = 0;
  });

  it('an interaction answered after the deadline fails with 10062 and the user sees no answer', async () => {
    fake.interactionTimeoutMs = 200;
    try {
      const got = nextInteraction<ChatInputCommandInteraction>();
      const handle = await fake.slashCommand({
        user: 'alice',
        channelId: OPS,
        name: 'node',
        subcommand: 'reboot',
        options: [{ name: 'node', value: 'pi5' }],
      });
      const i = await got;
      await new Promise((r) => setTimeout(r, 300));
      const late = await rejection(i.deferReply());
      expect([late.status, late.code]).toEqual([404, 10062]);
      expect(fake.interactionResponse(handle)).toMatchObject({
        acknowledged: false,
        timedOut: true,
        lateAnswers: 1,
        message: null,
      });
    } finally {
      fake.interactionTimeoutMs = 3000;
    }
  });

  it('rate limits: 429s (limit not advertised) are retried by discord.js; all 20 arrive in order', async () => {
    const channel = client.channels.cache.get(ALERTS) as TextChannel;
    fake.setRateLimit({
      route: 'POST /channels/:id/messages',
      limit: 5,
      windowMs: 200,
      advertise: false,
    });
    const start = fake.channelMessages(ALERTS).length;
    const sent = await Promise.all(
      Array.from({ length: 20 }, (_, n) => channel.send(`alert ${n}`)),
    );
    expect(sent).toHaveLength(20);
    expect(fake.stats.rateLimited).toBeGreaterThan(0);
    expect(fake.requests.some((r) => r.status === 429)).toBe(true);
    const contents = fake
      .channelMessages(ALERTS)
      .slice(start)
      .map((m) => m.content);
    expect(contents).toEqual(Array.from({ length: 20 }, (_, n) => `alert ${n}`));

    // With Discord's headers, discord.js waits for the bucket to reset instead of hitting 429.
    fake.setRateLimit({ route: 'POST /channels/:id/messages', limit: 5, windowMs: 200 });
    const hits = fake.stats.rateLimited;
    const t0 = Date.now();
    await Promise.all(Array.from({ length: 10 }, (_, n) => channel.send(`update ${n}`)));
    expect(fake.stats.rateLimited).toBe(hits);
    expect(fake.stats.bucketsExhausted).toBeGreaterThan(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
    expect(
      fake
        .channelMessages(ALERTS)
        .slice(-10)
        .map((m) => m.content),
    ).toEqual(Array.from({ length: 10 }, (_, n) => `update ${n}`));
    fake.clearRateLimits();
  });

  it('gateway drop: the client resumes and still receives interactions', async () => {
    const resumed = once(client, 'shardResume');
    fake.dropGateway();
    await resumed;
    await fake.waitForReady();
    expect(fake.stats.resumes).toBe(1);
    expect(fake.gatewayLog.connectUrls.at(-1)).toMatch(/^\/resume\?/);
    await fake.waitFor((f) => f.stats.heartbeats > 0, 3000);

    let got = nextInteraction<ChatInputCommandInteraction>();
    let handle = await fake.slashCommand({
      user: 'alice',
      channelId: OPS,
      name: 'node',
      subcommand: 'reboot',
      options: [{ name: 'node', value: 'pi2' }],
    });
    await (await got).reply('after resume');
    expect(fake.interactionResponse(handle).content).toBe('after resume');

    // A lost session makes the client IDENTIFY again.
    const identified = once(client, 'shardReady');
    fake.dropGateway({ invalidate: true });
    await identified;
    expect(fake.stats.identifies).toBe(2);
    got = nextInteraction<ChatInputCommandInteraction>();
    handle = await fake.slashCommand({
      user: 'alice',
      channelId: OPS,
      name: 'node',
      subcommand: 'reboot',
      options: [{ name: 'node', value: 'pi3' }],
    });
    await (await got).reply({ content: 'after identify', flags: MessageFlags.Ephemeral });
    expect(fake.interactionResponse(handle)).toMatchObject({
      content: 'after identify',
      ephemeral: true,
    });
  });
});
