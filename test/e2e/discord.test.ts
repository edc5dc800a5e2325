import { execFile, execFileSync } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { FakeDiscord, snowflake } from '../fakes/discord/fake-discord.js';
import { discordChat, startApp, testConfig } from '../helpers/app-fixture.js';
import { tempStateDir } from '../helpers/cli.js';
import { labCommand } from '../helpers/long-command.js';

const APP = snowflake();
const GUILD = snowflake();
const OPS = snowflake();
const RANDOM = snowflake();
const ALICE = snowflake();
const BOB = snowflake();
const OPERATOR = snowflake();

let fake: FakeDiscord;
let app: App;
let state: string;

beforeAll(async () => {
  fake = await FakeDiscord.start({
    appId: APP,
    guildId: GUILD,
    channels: [
      { id: OPS, name: 'ops' },
      { id: RANDOM, name: 'random' },
    ],
    users: [
      { id: ALICE, username: 'alice', roles: [OPERATOR] },
      { id: BOB, username: 'bob' },
    ],
    roles: [{ id: OPERATOR, name: 'operator' }],
  });
  state = tempStateDir();
  const config = testConfig({
    state: { dir: state },
    confirm: { timeoutSeconds: 5 },
    chat: { discord: discordChat(fake, { channels: [OPS] }) },
    inventory: loadConfig({ env: {} }).config.inventory,
    access: { roles: { operators: { members: [`discord:${OPERATOR}`], allow: ['*'] } } },
    dryRun: { commands: ['node.*'] },
  });
  app = await startApp(config, { extraCommands: [labCommand] });
});

afterAll(async () => {
  await app?.stop();
  await fake?.stop();
});

const original = (i: Awaited<ReturnType<FakeDiscord['slashCommand']>>) =>
  fake.interactionResponse(i);
const embed = (i: Awaited<ReturnType<FakeDiscord['slashCommand']>>) =>
  original(i).embeds[0] as Record<string, unknown> | undefined;

async function settled(
  i: Awaited<ReturnType<FakeDiscord['slashCommand']>>,
  title: RegExp,
  timeoutMs = 5000,
) {
  await fake.waitFor(
    () =>
      title.test(String(embed(i)?.title ?? '')) ||
      original(i).followUps.some((m) => title.test(String(m.embeds[0]?.title ?? ''))),
    timeoutMs,
  );
}

describe('Discord adapter against a fake Discord (real discord.js)', () => {
  it('registers the slash commands generated from the definitions', () => {
    const names = fake.commands.map((c) => c.name).sort();
    expect(names).toEqual([
      'alert',
      'argo',
      'backup',
      'help',
      'lab',
      'node',
      'ops',
      'pihole',
      'storage',
      'task',
    ]);
    const node = fake.commands.find((c) => c.name === 'node')!;
    const reboot = (
      node.options as {
        name: string;
        options?: { name: string; required?: boolean; autocomplete?: boolean }[];
      }[]
    ).find((o) => o.name === 'reboot')!;
    expect(reboot.options?.[0]).toMatchObject({ name: 'node', required: true, autocomplete: true });
  });

  it('answers a quick command directly', async () => {
    const i = await fake.slashCommand({
      user: BOB,
      channelId: OPS,
      name: 'node',
      subcommand: 'list',
    });
    await settled(i, /7 nodes/);
    const view = original(i);
    expect(view.deferred).toBe(false);
    expect(view.ephemeral).toBe(false);
    expect(view.timedOut).toBe(false);
    expect(String(embed(i)!.description)).toMatch(/pi4-a\s+192\.168\.1\.21/);
  });

  it('defers work that stays silent, within 3 s, then edits the reply', async () => {
    const i = await fake.slashCommand({
      user: BOB,
      channelId: OPS,
      name: 'lab',
      subcommand: 'work',
      options: [
        { name: 'steps', value: 1 },
        { name: 'delay_ms', value: 2500 },
      ],
    });
    await settled(i, /Worked through 1 steps/);
    const view = original(i);
    expect(view.deferred).toBe(true);
    expect(view.timedOut).toBe(false);
    expect(view.ackAfterMs).toBeLessThan(3000);
  });

  it('shows the dry-run plan of a node action', async () => {
    const i = await fake.slashCommand({
      user: ALICE,
      channelId: OPS,
      name: 'node',
      subcommand: 'reboot',
      options: [{ name: 'node', value: 'pi4-a' }],
    });
    await settled(i, /Dry run/);
    expect(embed(i)!.title).toBe('Dry run: /node reboot pi4-a');
    expect(String(embed(i)!.description)).toContain(
      'ssh -p 22 pi@192.168.1.21 -- sudo -n systemctl reboot',
    );
  });

  it('denies a user without a role, ephemerally, and runs nothing', async () => {
    const i = await fake.slashCommand({
      user: BOB,
      channelId: OPS,
      name: 'node',
      subcommand: 'cordon',
      options: [{ name: 'node', value: 'pi4-a' }],
    });
    await settled(i, /Not allowed/);
    expect(original(i).ephemeral).toBe(true);
    expect(String(embed(i)!.description)).toContain(
      `You (discord:${BOB}) have no role. Roles that allow it: operators.`,
    );
    // Nobody else sees anything.
    expect(
      fake
        .channelMessages(OPS)
        .filter((m) => m.interactionId === i.id && !m.ephemeral && !m.deleted),
    ).toEqual([]);
  });

  it('ignores channels that are not allowed, telling the user where to go', async () => {
    const i = await fake.slashCommand({
      user: ALICE,
      channelId: RANDOM,
      name: 'node',
      subcommand: 'list',
    });
    await fake.waitFor(() => original(i).acknowledged, 5000);
    expect(original(i).ephemeral).toBe(true);
    expect(original(i).content).toBe(`I only take commands in <#${OPS}>.`);
  });

  it('answers autocomplete for nodes', async () => {
    const choices = await fake.autocomplete({
      user: ALICE,
      channelId: OPS,
      name: 'node',
      subcommand: 'reboot',
      focused: { name: 'node', value: 'pi4' },
    });
    expect(choices).toEqual([
      { name: 'pi4-a', value: 'pi4-a' },
      { name: 'pi4-b', value: 'pi4-b' },
    ]);
  });

  it('files a task from Discord into the Git backlog', async () => {
    const i = await fake.slashCommand({
      user: ALICE,
      channelId: OPS,
      name: 'task',
      subcommand: 'add',
      options: [
        { name: 'title', value: 'Check UPS battery' },
        { name: 'priority', value: 'high' },
      ],
    });
    await settled(i, /Added T-\d{4}/);
    const clone = path.join(tempStateDir(), 'repo');
    execFileSync('git', ['clone', '-q', path.join(state, 'lab.git'), clone]);
    const log = execFileSync('git', ['-C', clone, 'log', '-1', '--format=%s%n%b'], {
      encoding: 'utf8',
    });
    expect(log).toMatch(/^tasks: add T-\d{4} Check UPS battery/);
    expect(log).toContain(`Requested-by: discord:${ALICE} (alice)`);
  });

  it('confirms only by the invoker: someone else is refused, the invoker runs it', async () => {
    const i = await fake.slashCommand({
      user: ALICE,
      channelId: OPS,
      name: 'task',
      subcommand: 'drop',
      options: [{ name: 'id', value: 'T-0004' }],
    });
    await settled(i, /Confirm/);
    const message = original(i).message!;
    const code = /confirm:(\w+)/.exec(message.buttons[0]!.customId!)![1]!;
    expect(message.buttons.map((b) => b.label)).toEqual(['Confirm', 'Cancel']);

    const byBob = await fake.pressButton({
      user: BOB,
      messageId: message.id,
      customId: `confirm:${code}`,
    });
    await fake.waitFor(() => fake.interactionResponse(byBob).followUps.length > 0, 5000);
    const refusal = fake.interactionResponse(byBob).followUps[0]!;
    expect(refusal.ephemeral).toBe(true);
    expect(String(refusal.embeds[0]!.description)).toContain(
      'Only the person who asked can confirm',
    );
    expect(embed(i)!.title).toBe('Confirm: /task drop T-0004');

    await fake.pressButton({ user: ALICE, messageId: message.id, customId: `confirm:${code}` });
    await settled(i, /Dropped T-0004/);
    expect(original(i).message!.buttons).toEqual([]);
  });

  it('expires an unconfirmed proposal: the message says so and the buttons go', async () => {
    const i = await fake.slashCommand({
      user: ALICE,
      channelId: OPS,
      name: 'task',
      subcommand: 'drop',
      options: [{ name: 'id', value: 'T-0002' }],
    });
    await settled(i, /Confirm/);
    // The edit that says it expired, however late a loaded machine makes the 5 s timer fire.
    await settled(i, /Expired/, 60_000);
    expect(String(embed(i)!.description)).toBe(
      'Not confirmed within 5 s; nothing was done. Run the command again to start over.',
    );
    expect(original(i).message!.buttons).toEqual([]);
  }, 90_000);

  it('puts step logs in a thread, edits progress in place, attaches long output', async () => {
    const i = await fake.slashCommand({
      user: BOB,
      channelId: OPS,
      name: 'lab',
      subcommand: 'work',
      options: [
        { name: 'steps', value: 4 },
        { name: 'lines', value: 300 },
      ],
    });
    await settled(i, /Worked through 4 steps/);
    const thread = fake.threads().find((t) => t.id === original(i).message?.threadId)!;
    expect(thread).toBeDefined();
    expect(
      thread.messages
        .map((m) => m.content)
        .join('\n')
        .split('\n'),
    ).toEqual([
      '› step 1 of 4 done',
      '› step 2 of 4 done',
      '› step 3 of 4 done',
      '› step 4 of 4 done',
    ]);
    const view = original(i);
    expect(view.message!.attachments.map((a) => a.name)).toEqual(['output.txt']);
    expect(view.message!.attachments[0]!.text.split('\n')).toHaveLength(300);
    expect(view.history.length).toBeGreaterThan(1);
  });

  it('stays inside rate limits: 429s are waited out and every step still arrives', async () => {
    fake.setRateLimit({
      route: 'POST /channels/:id/messages',
      limit: 2,
      windowMs: 500,
      advertise: false,
    });
    const before = fake.stats.rateLimited;
    const i = await fake.slashCommand({
      user: BOB,
      channelId: OPS,
      name: 'lab',
      subcommand: 'work',
      options: [{ name: 'steps', value: 8 }],
    });
    await settled(i, /Worked through 8 steps/);
    const thread = fake.threads().find((t) => t.id === original(i).message?.threadId)!;
    const lines = thread.messages
      .map((m) => m.content)
      .join('\n')
      .split('\n');
    expect(lines).toEqual(Array.from({ length: 8 }, (_, n) => `› step ${n + 1} of 8 done`));
    expect(fake.stats.rateLimited).toBeGreaterThan(before);
    expect(fake.unhandled).toEqual([]);
  }, 20_000);

  it('survives a dropped gateway connection and keeps taking commands', async () => {
    fake.dropGateway();
    await fake.waitForReady();
    const i = await fake.slashCommand({
      user: BOB,
      channelId: OPS,
      name: 'node',
      subcommand: 'list',
    });
    await settled(i, /7 nodes/);
  });
});

describe('npm run register-commands', () => {
  it('bulk-overwrites the guild commands from the definitions', async () => {
    const other = await FakeDiscord.start({ appId: APP, guildId: GUILD });
    try {
      const dir = tempStateDir();
      const config = path.join(dir, 'config.yaml');
      const { writeFileSync } = await import('node:fs');
      writeFileSync(
        config,
        `chat:\n  console: { enabled: false }\n  discord:\n    applicationId: "${APP}"\n    guildIds: ["${GUILD}"]\n    apiUrl: ${other.url}/api\n`,
      );
      // Async: the fake answers from this process's event loop.
      const { stdout: out } = await promisify(execFile)(
        process.execPath,
        [path.resolve('dist/src/register-commands.js'), '--config', config],
        { encoding: 'utf8', env: { PATH: process.env.PATH, CHATOPS_DISCORD_TOKEN: 'fake-token' } },
      );
      expect(out).toContain(
        `registered 9 commands (/alert, /argo, /backup, /help, /node, /ops, /pihole, /storage, /task) in guild ${GUILD}`,
      );
      expect(other.commands.map((c) => c.name).sort()).toEqual([
        'alert',
        'argo',
        'backup',
        'help',
        'node',
        'ops',
        'pihole',
        'storage',
        'task',
      ]);
    } finally {
      await other.stop();
    }
  });
});
