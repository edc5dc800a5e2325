/**
 * The real bot as a child process (bot-process.ts) acting on a kube lab (kube-lab.ts) and
 * talking to the fake Discord, for the tests that kill it and start it again: one channel,
 * #ops, and one admin, alice, whose commands it takes; its state dir outlives each process.
 *
 *   const b = await startBotLab(NODES, { rebootDelayMs: 800, config: { nodeOps: { … } } });
 *   await confirmOnDiscord(b.discord, { user: b.alice, channelId: b.ops, … });
 *   await b.bot.kill();   await b.bot.start();   …   await b.stop();
 *
 * If anything fails to start, what did start is stopped before the error is thrown.
 */
import type { ConfigInput } from '../../src/config/schema.js';
import { FakeDiscord, snowflake } from '../fakes/discord/fake-discord.js';
import { discordChat } from './app-fixture.js';
import { BotProcess } from './bot-process.js';
import { tempStateDir } from './cli.js';
import { type KubeLab, type KubeLabOptions, startKubeLab } from './kube-lab.js';
import type { LabNodeSpec } from './ssh-lab.js';

export interface BotLabOptions extends KubeLabOptions {
  /** The bot's config beyond the lab, the fakes and alice as admin (nodeOps, longhorn, self, …). */
  config?: Omit<ConfigInput, 'state'>;
}

export interface BotLab extends KubeLab {
  discord: FakeDiscord;
  bot: BotProcess;
  /** The #ops channel's id. */
  ops: string;
  /** alice's user id: an admin (`allow: ['*']`). */
  alice: string;
}

export async function startBotLab(
  nodes: LabNodeSpec[],
  { config, ...labOpts }: BotLabOptions = {},
): Promise<BotLab> {
  const ops = snowflake();
  const alice = snowflake();
  const [discordStart, labStart] = await Promise.allSettled([
    FakeDiscord.start({
      appId: snowflake(),
      guildId: snowflake(),
      channels: [{ id: ops, name: 'ops' }],
      users: [{ id: alice, username: 'alice' }],
    }),
    startKubeLab(nodes, labOpts),
  ]);
  const stopBoth = () =>
    Promise.all([
      discordStart.status === 'fulfilled' ? discordStart.value.stop() : undefined,
      labStart.status === 'fulfilled' ? labStart.value.stop() : undefined,
    ]);
  if (discordStart.status === 'rejected' || labStart.status === 'rejected') {
    await stopBoth();
    throw discordStart.status === 'rejected'
      ? discordStart.reason
      : (labStart as PromiseRejectedResult).reason;
  }
  const discord = discordStart.value;
  const kubeLab = labStart.value;
  const { lab, kube } = kubeLab;
  const bot = new BotProcess(tempStateDir(), {
    http: { port: 0 },
    chat: { console: { enabled: false }, discord: discordChat(discord) },
    inventory: { nodes: lab.inventory() },
    access: { roles: { admin: { members: [`discord:${alice}`], allow: ['*'] } } },
    ssh: {
      privateKeyFile: lab.privateKeyFile,
      knownHostsFile: lab.knownHostsFile,
      connectTimeoutMs: 2000,
    },
    kube: { kubeconfig: kube.kubeconfigFile },
    ...config,
  });
  try {
    await bot.start();
  } catch (err) {
    await bot.stop();
    await stopBoth();
    throw err;
  }
  return {
    ...kubeLab,
    discord,
    bot,
    ops,
    alice,
    stop: async () => {
      await bot.stop();
      await Promise.all([discord.stop(), kubeLab.stop()]);
    },
  };
}
