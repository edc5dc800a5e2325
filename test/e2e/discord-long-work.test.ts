/**
 * Discord limits that bite long work and untrusted text (#13), through the real bot and the real
 * discord.js against the fake Discord: results that outlive the interaction token (shortened
 * here to 1.5 s), step logs of a command typed inside a thread, and text that must never ping.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { defineAction, defineCommand } from '../../src/core/command.js';
import { FakeDiscord, type InteractionHandle, snowflake } from '../fakes/discord/fake-discord.js';
import { freePort } from '../helpers/alertmanager.js';
import { discordChat, startApp, testConfig } from '../helpers/app-fixture.js';

const OPS = snowflake();
const ALERTS = snowflake();
const RANDOM = snowflake();
const ALICE = snowflake();
const ONCALL = snowflake();
const VICTIM = snowflake();
const TOKEN = 'hook-secret';
/** Text from alerts, task titles and node output that would ping or mislead if sent as is. */
const HOSTILE = `@everyone @here <@${VICTIM}> <@&${ONCALL}> [click](https://evil.example)`;

/**
 * `/long run before:N pause_ms:P after:M text:T`: N steps, a pause, M more steps (each with T,
 * like node output), progress edits, and a result whose title and output carry T.
 */
const longCommand = defineCommand({
  name: 'long',
  description: 'Test-only work that outlives its interaction token',
  subcommands: [
    defineAction<{ before?: number; pause_ms?: number; after?: number; text?: string }>({
      name: 'run',
      description: 'Steps, a pause, more steps',
      sideEffects: false,
      options: [
        { name: 'before', description: 'Steps before the pause', type: 'integer' },
        { name: 'pause_ms', description: 'Pause', type: 'integer' },
        { name: 'after', description: 'Steps after the pause', type: 'integer' },
        { name: 'text', description: 'Text in steps and output', type: 'string' },
      ],
      execute: async ({ args, progress }) => {
        const total = (args.before ?? 0) + (args.after ?? 0);
        const say = args.text ? ` ${args.text}` : '';
        let n = 0;
        const step = async () => {
          n++;
          await progress.update({ title: 'Working', progress: { done: n, total } });
          await progress.step(`step ${n} of ${total}${say}`);
        };
        for (let i = 0; i < (args.before ?? 0); i++) await step();
        await new Promise((r) => setTimeout(r, args.pause_ms ?? 0));
        for (let i = 0; i < (args.after ?? 0); i++) await step();
        return {
          severity: 'success',
          title: `Finished ${total} steps${say}`,
          text: `All done.${say}`,
          code: args.text ? `output: ${args.text}` : undefined,
        };
      },
    }),
  ],
});

let fake: FakeDiscord;
let app: App;
let port: number;

beforeAll(async () => {
  port = await freePort();
  fake = await FakeDiscord.start({
    channels: [
      { id: OPS, name: 'ops' },
      { id: ALERTS, name: 'alerts' },
      { id: RANDOM, name: 'random' },
    ],
    users: [
      { id: ALICE, username: 'alice' },
      { id: VICTIM, username: 'victim' },
    ],
    roles: [{ id: ONCALL, name: 'oncall' }],
  });
  const config = testConfig({
    http: { enabled: true, port },
    chat: { discord: discordChat(fake, { channels: [OPS, ALERTS] }) },
    access: { roles: { ops: { members: [`discord:${ALICE}`], allow: ['*'] } } },
    alerts: {
      enabled: true,
      webhook: { token: TOKEN },
      routes: [
        {
          match: ['severity="critical"'],
          to: [{ discord: ALERTS }],
          mentions: { critical: [`<@&${ONCALL}>`] },
        },
      ],
    },
  });
  app = await startApp(config, { extraCommands: [longCommand] });
}, 60_000);

afterAll(async () => {
  await app?.stop();
  await fake?.stop();
});

const title = (i: InteractionHandle) =>
  String(fake.interactionResponse(i).embeds[0]?.title ?? '(no embed)');
const stepsIn = (threadId: string | null | undefined) =>
  fake
    .threads()
    .find((t) => t.id === threadId)
    ?.messages.map((m) => m.content)
    .join('\n')
    .split('\n') ?? [];

async function long(
  options: { before?: number; pause_ms?: number; after?: number; text?: string },
  channelId = OPS,
): Promise<InteractionHandle> {
  return fake.slashCommand({
    user: ALICE,
    channelId,
    name: 'long',
    subcommand: 'run',
    options: Object.entries(options).map(([name, value]) => ({ name, value })),
  });
}

describe('Discord: results outlive the interaction token', () => {
  it('steps before and after the token died: the reply shows the result (bot token), the thread every step', async () => {
    fake.interactionTokenTtlMs = 1500;
    try {
      const i = await long({ before: 2, pause_ms: 2500, after: 2 });
      await fake.waitFor(() => title(i) === 'Finished 4 steps', 10_000);
      const reply = fake.interactionResponse(i).message!;
      expect(reply.embeds[0]).toMatchObject({ description: 'All done.' });
      expect(stepsIn(reply.threadId)).toEqual([
        '› step 1 of 4',
        '› step 2 of 4',
        '› step 3 of 4',
        '› step 4 of 4',
      ]);
      // The token did die (Discord's 401), and the reply was then edited with the bot token.
      const expired = fake.requests.filter((r) => r.errorCode === 50027);
      expect(expired.length).toBeGreaterThan(0);
      const later = fake.requests.filter(
        (r) =>
          r.route === 'PATCH /channels/:id/messages/:id' &&
          r.path === `/channels/${OPS}/messages/${reply.id}` &&
          r.status === 200,
      );
      expect(later.length).toBeGreaterThan(0);
      expect(later.every((r) => r.at > expired[0]!.at)).toBe(true);
    } finally {
      fake.interactionTokenTtlMs = 15 * 60_000;
    }
  }, 20_000);

  it('the first step only after the token died: the thread is started from the deferred reply with the bot token', async () => {
    fake.interactionTokenTtlMs = 1500;
    try {
      const i = await long({ pause_ms: 2500, after: 2 });
      await fake.waitFor(() => title(i) === 'Finished 2 steps', 10_000);
      const view = fake.interactionResponse(i);
      expect(view.deferred).toBe(true);
      expect(stepsIn(view.message!.threadId)).toEqual(['› step 1 of 2', '› step 2 of 2']);
    } finally {
      fake.interactionTokenTtlMs = 15 * 60_000;
    }
  }, 20_000);
});

describe('Discord: a command typed inside a thread', () => {
  it('keeps its step log in that thread (Discord cannot start a thread there)', async () => {
    const first = await long({ before: 1 });
    await fake.waitFor(() => title(first) === 'Finished 1 steps', 5000);
    const thread = fake.interactionResponse(first).message!.threadId!;
    const threadsBefore = fake.threads().length;

    const i = await long({ before: 3 }, thread);
    await fake.waitFor(() => title(i) === 'Finished 3 steps', 5000);
    const reply = fake.interactionResponse(i).message!;
    expect(reply.channelId).toBe(thread);
    const inThread = fake
      .channelMessages(thread)
      .flatMap((m) => m.content.split('\n'))
      .filter((line) => line.startsWith('› step'));
    expect(inThread).toEqual(['› step 1 of 1', '› step 1 of 3', '› step 2 of 3', '› step 3 of 3']);
    // The reply came before its steps, in the same thread.
    const order = fake.channelMessages(thread).map((m) => m.id);
    expect(order.indexOf(reply.id)).toBeLessThan(order.length - 1);
    expect(fake.threads().length).toBe(threadsBefore);
    expect(fake.requests.filter((r) => r.errorCode === 50024)).toEqual([]);
  });
});

describe('Discord: nothing the bot sends can ping', () => {
  it('alerts, task titles, node output with @everyone, <@id>, <@&id>, masked links: zero pings, every write carries parse []', async () => {
    const before = fake.requests.length;
    // An alert whose labels and annotations carry the hostile text (Alertmanager webhook v4).
    const alert = {
      status: 'firing',
      labels: { alertname: 'DiskFull', severity: 'critical', instance: HOSTILE },
      annotations: { summary: `Disk full ${HOSTILE}`, description: HOSTILE },
      startsAt: new Date().toISOString(),
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus.lab/graph',
      fingerprint: 'f00dfeedf00dfeed',
    };
    const hook = (status: 'firing' | 'resolved') =>
      fetch(`http://127.0.0.1:${port}/hooks/alertmanager`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          receiver: 'bot',
          status,
          alerts: [
            {
              ...alert,
              status,
              ...(status === 'resolved' ? { endsAt: new Date().toISOString() } : {}),
            },
          ],
          groupLabels: { alertname: 'DiskFull' },
          commonLabels: alert.labels,
          commonAnnotations: alert.annotations,
          externalURL: 'http://alertmanager.lab',
          version: '4',
          groupKey: '{}:{alertname="DiskFull"}',
          truncatedAlerts: 0,
        }),
      });
    expect((await hook('firing')).status).toBe(200);
    const root = (await fake.waitFor(() => fake.channelMessages(ALERTS)[0], 10_000))!;
    // Ack pressed on the root: an ephemeral deferred answer, edited with the result.
    const ack = root.buttons.find((b) => b.customId?.startsWith('alert:ack:'))!;
    const acked = await fake.pressButton({
      user: ALICE,
      messageId: root.id,
      customId: ack.customId!,
    });
    await fake.waitFor(() => fake.interactionResponse(acked).embeds.length > 0, 10_000);
    expect((await hook('resolved')).status).toBe(200);
    await fake.waitFor(
      () => fake.threads().some((t) => t.id === root.id && t.messages.length > 0),
      10_000,
    );
    await fake.waitFor(
      () => /RESOLVED/.test(String(fake.message(root.id)!.embeds[0]?.title)),
      10_000,
    );

    // A task title, and node output in steps and the result.
    const task = await fake.slashCommand({
      user: ALICE,
      channelId: OPS,
      name: 'task',
      subcommand: 'add',
      options: [{ name: 'title', value: `Check ${HOSTILE}` }],
    });
    const run = await long({ before: 2, text: HOSTILE });
    await fake.waitFor(() => /Added T-\d{4}/.test(title(task)), 15_000);
    await fake.waitFor(() => title(run).startsWith('Finished 2 steps'), 5000);

    // Dropping it needs a confirmation: someone else's press is refused (an ephemeral
    // follow-up), the invoker's cancel edits the proposal.
    const id = /Added (T-\d{4})/.exec(title(task))![1]!;
    const drop = await fake.slashCommand({
      user: ALICE,
      channelId: OPS,
      name: 'task',
      subcommand: 'drop',
      options: [{ name: 'id', value: id }],
    });
    await fake.waitFor(() => /Confirm/.test(title(drop)), 5000);
    const [confirm, cancel] = fake.interactionResponse(drop).message!.buttons;
    const refused = await fake.pressButton({
      user: VICTIM,
      messageId: fake.interactionResponse(drop).message!.id,
      customId: confirm!.customId!,
    });
    await fake.waitFor(() => fake.interactionResponse(refused).followUps.length > 0, 5000);
    await fake.pressButton({
      user: ALICE,
      messageId: fake.interactionResponse(drop).message!.id,
      customId: cancel!.customId!,
    });
    await fake.waitFor(() => /Cancel/.test(title(drop)), 5000);

    // A command in a channel the bot does not serve: told where to go.
    const elsewhere = await fake.slashCommand({ user: ALICE, channelId: RANDOM, name: 'help' });
    await fake.waitFor(() => fake.interactionResponse(elsewhere).acknowledged, 5000);

    // What users see: the text, but no masked link, no mention pill, no @everyone.
    const shown = JSON.stringify([
      fake.interactionResponse(task).embeds,
      fake.interactionResponse(run).embeds,
      stepsIn(fake.interactionResponse(run).message!.threadId),
      fake.message(root.id)!.embeds,
      fake
        .threads()
        .find((t) => t.id === root.id)!
        .messages.map((m) => [m.content, m.embeds]),
    ]);
    expect(shown).toContain('[click]\\\\(https://evil.example)');
    // Inside a code block nothing renders: node output stays verbatim there.
    expect(shown).toContain('output: @everyone');
    const prose = shown.replace(/```.*?```/g, '');
    expect(prose, prose).not.toContain('[click](');
    expect(prose).not.toMatch(/(?<!\\\\)<@/);
    expect(prose).not.toMatch(/@(everyone|here)/);

    // Only the route's own mention of the on-call role on the alert root may ping.
    expect(fake.pings.map((p) => [p.kind, p.id, p.messageId])).toEqual([['role', ONCALL, root.id]]);
    const writes = fake.messageWrites().filter((r) => fake.requests.indexOf(r) >= before);
    // Every kind of write was exercised: channel posts and edits, the interaction reply and its edits.
    expect(new Set(writes.map((w) => w.route))).toEqual(
      new Set([
        'POST /channels/:id/messages',
        'PATCH /channels/:id/messages/:id',
        'POST /interactions/:id/:token/callback',
        'PATCH /webhooks/:id/:token/messages/:id',
        'POST /webhooks/:id/:token',
      ]),
    );
    for (const w of writes) {
      const body = w.body as { content?: string; data?: { content?: string } };
      const content = body.content ?? body.data?.content ?? '';
      // parse [] always; an id only where the message names it on purpose (the route's mention).
      expect(w.allowedMentions, `${w.method} ${w.path}`).toEqual(
        new RegExp(`(?<!\\\\)<@&${ONCALL}>`).test(content)
          ? { parse: [], roles: [ONCALL] }
          : { parse: [] },
      );
    }
  }, 40_000);
});
