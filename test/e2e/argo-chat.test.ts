import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { FakeDiscord, snowflake } from '../fakes/discord/fake-discord.js';
import { FakeKube } from '../fakes/kube/fake-kube.js';
import { FakeHomeserver } from '../fakes/matrix/fake-homeserver.js';
import { discordChat, matrixChat, startApp, testConfig } from '../helpers/app-fixture.js';

/** /argo through the real chat libraries: the same commands, progress edits and thread steps. */
const OPS = snowflake();
const ALICE = snowflake();
const BOT = '@chatops:lab.test';
const ROOM = '!ops:lab.test';
const MALICE = '@alice:lab.test';

let discord: FakeDiscord;
let hs: FakeHomeserver;
let kube: FakeKube;
let app: App;

beforeAll(async () => {
  [discord, hs, kube] = await Promise.all([
    FakeDiscord.start({
      channels: [{ id: OPS, name: 'ops' }],
      users: [{ id: ALICE, username: 'alice' }],
    }),
    FakeHomeserver.start({
      botUserId: BOT,
      accessToken: 'tok',
      rooms: [{ roomId: ROOM, members: [MALICE] }],
    }),
    FakeKube.start({
      nodes: [{ name: 'x86', ready: true, roles: ['control-plane'] }],
      applications: [
        {
          name: 'home-assistant',
          syncStatus: 'OutOfSync',
          health: 'Healthy',
          revision: 'v1',
          headRevision: 'v2',
        },
        { name: 'grafana', syncStatus: 'Synced', health: 'Healthy', revision: 'g1' },
      ],
    }),
  ]);
  const config = testConfig({
    chat: { discord: discordChat(discord), matrix: matrixChat(hs, [ROOM]) },
    access: {
      roles: { ops: { members: [`discord:${ALICE}`, `matrix:${MALICE}`], allow: ['argo.*'] } },
    },
    kube: { kubeconfig: kube.kubeconfigFile },
  });
  app = await startApp(config);
}, 60_000);

afterAll(async () => {
  await app?.stop();
  await Promise.all([discord?.stop(), hs?.stop(), kube?.stop()]);
});

describe('/argo from Discord and Matrix', () => {
  it('syncs from Discord: the reply is edited to the result, resource steps go to a thread', async () => {
    kube.controller.configure('home-assistant', { ticks: 3, tickMs: 150 });
    const i = await discord.slashCommand({
      user: ALICE,
      channelId: OPS,
      name: 'argo',
      subcommand: 'sync',
      options: [{ name: 'app', value: 'home-assistant' }],
    });
    const view = await discord.waitFor(() => {
      const v = discord.interactionResponse(i);
      return /home-assistant synced to/.test(String(v.embeds[0]?.title ?? '')) ? v : undefined;
    }, 15_000);
    expect(view!.history.length).toBeGreaterThan(1); // progress edits before the result
    const thread = discord.threads().find((t) => t.id === view!.message?.threadId);
    expect(thread?.messages.map((m) => m.content).join('\n')).toMatch(
      /✔ Deployment home-assistant\/home-assistant: Synced/,
    );
    expect(kube.application('home-assistant')?.status).toMatchObject({
      sync: { status: 'Synced' },
    });
  }, 30_000);

  it('answers /argo status and autocompletes app names on Discord', async () => {
    const choices = await discord.autocomplete({
      user: ALICE,
      channelId: OPS,
      name: 'argo',
      subcommand: 'status',
      focused: { name: 'app', value: 'gra' },
    });
    expect(choices).toEqual([{ name: 'grafana', value: 'grafana' }]);
  });

  it('answers !argo list and a did-you-mean on Matrix', async () => {
    const list = hs.sendMessage(ROOM, MALICE, '!argo list');
    const answer = await hs.waitFor(() =>
      hs
        .visible(ROOM)
        .find((m) => m.sender === BOT && m.replyTo === list && /Argo CD applications/.test(m.body)),
    );
    expect(answer.body).toMatch(/grafana\s+Synced\s+Healthy/);
    const typo = hs.sendMessage(ROOM, MALICE, '!argo status grafna');
    const reply = await hs.waitFor(() =>
      hs.visible(ROOM).find((m) => m.sender === BOT && m.replyTo === typo),
    );
    expect(reply.body).toMatch(/grafana/);
  });
});
