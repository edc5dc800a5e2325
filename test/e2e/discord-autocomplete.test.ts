/**
 * Discord autocomplete through the real bot and discord.js (#13): it answers within Discord's 3 s
 * (the fake enforces the deadline) even while the task repo's remote and the Kubernetes API hang,
 * gives lab data only to users who may read it (`access.readOnly: roles`), and nothing outside
 * `chat.discord.channels`.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { App } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { FakeDiscord, snowflake } from '../fakes/discord/fake-discord.js';
import { writeKubeconfig } from '../fakes/kube/kubeconfig.js';
import { discordChat, startApp, testConfig } from '../helpers/app-fixture.js';
import { tempStateDir } from '../helpers/cli.js';

const OPS = snowflake();
const RANDOM = snowflake();
const ALICE = snowflake();
const BOB = snowflake();
const OPERATOR = snowflake();

/**
 * A server that accepts connections and never answers: an unreachable git remote, a hung API.
 * Both clients speak first, so each connection is counted by its first bytes: git's request
 * names `git-upload-pack`, the Kubernetes client's starts with an HTTP method.
 */
let blackhole: Server;
const held = new Set<Socket>();
const connections = { git: 0, kube: 0 };
let fake: FakeDiscord;
let app: App;

beforeAll(async () => {
  blackhole = createServer((socket) => {
    held.add(socket);
    socket.on('close', () => held.delete(socket));
    socket.once('data', (chunk) => {
      if (chunk.includes('git-upload-pack')) connections.git++;
      else connections.kube++;
    });
  });
  await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', resolve));
  const port = (blackhole.address() as { port: number }).port;
  fake = await FakeDiscord.start({
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
  const config = testConfig({
    chat: { discord: discordChat(fake, { channels: [OPS] }) },
    inventory: loadConfig({ env: {} }).config.inventory,
    access: {
      readOnly: 'roles',
      roles: { operators: { members: [`discord:${OPERATOR}`], allow: ['*'] } },
    },
    tasks: { repo: `git://127.0.0.1:${port}/lab.git` },
    kube: { kubeconfig: writeKubeconfig(tempStateDir(), `http://127.0.0.1:${port}`, 'tok') },
  });
  app = await startApp(config);
  // The app clones the task repo in the background at start; on a loaded machine that clone
  // connects only seconds later. Wait for it, so the counts below see only what a keystroke did.
  await vi.waitFor(() => expect(connections.git).toBe(1), { timeout: 20_000, interval: 50 });
}, 30_000);

afterAll(async () => {
  // Let the hung clone and API calls fail now rather than at their own timeouts.
  for (const s of held) s.destroy();
  await app?.stop();
  await fake?.stop();
  await new Promise((resolve) => blackhole?.close(resolve));
});

async function timed<T>(p: Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = Date.now();
  const value = await p;
  return { value, ms: Date.now() - t0 };
}

describe('Discord autocomplete: in time, within access, in the allowed channels', () => {
  it('a hanging Kubernetes API: /argo app names answer within the deadline (nothing known yet)', async () => {
    const { value, ms } = await timed(
      fake.autocomplete({
        user: ALICE,
        channelId: OPS,
        name: 'argo',
        subcommand: 'status',
        focused: { name: 'app', value: 'gra' },
      }),
    );
    expect(value).toEqual([]);
    expect(ms).toBeLessThan(2500);
    // The answer did not wait for the lookup: under load its request may reach the API later.
    await vi.waitFor(() => expect(connections.kube).toBe(1), { timeout: 10_000, interval: 50 });
    // Again while the first lookup still hangs: no second request piles up.
    await fake.autocomplete({
      user: ALICE,
      channelId: OPS,
      name: 'argo',
      subcommand: 'status',
      focused: { name: 'app', value: 'g' },
    });
    expect(connections.kube).toBe(1);
  });

  it('a task repo whose remote hangs: task ids answer within the deadline, and no clone starts', async () => {
    const before = connections.git;
    const { value, ms } = await timed(
      fake.autocomplete({
        user: ALICE,
        channelId: OPS,
        name: 'task',
        subcommand: 'show',
        focused: { name: 'id', value: '4' },
      }),
    );
    expect(value).toEqual([]);
    expect(ms).toBeLessThan(2500);
    expect(connections.git).toBe(before);
  });

  it('readOnly: roles — an operator gets node names, a user without a role gets none', async () => {
    const ask = (user: string) =>
      fake.autocomplete({
        user,
        channelId: OPS,
        name: 'node',
        subcommand: 'status',
        focused: { name: 'target', value: 'pi4' },
      });
    expect((await ask(ALICE)).map((c) => c.value)).toEqual(['pi4-a', 'pi4-b']);
    expect(await ask(BOB)).toEqual([]);
  });

  it('a channel outside chat.discord.channels gets an empty list', async () => {
    const choices = await fake.autocomplete({
      user: ALICE,
      channelId: RANDOM,
      name: 'node',
      subcommand: 'status',
      focused: { name: 'target', value: 'pi4' },
    });
    expect(choices).toEqual([]);
  });
});
