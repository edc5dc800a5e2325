import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { App } from '../../src/app.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { silentLogger } from '../../src/core/logger.js';
import { FakeDiscord, snowflake } from '../fakes/discord/fake-discord.js';
import { FakeKube } from '../fakes/kube/fake-kube.js';
import { tempStateDir } from '../helpers/cli.js';
import { type SshLab, startSshLab } from '../helpers/ssh-lab.js';

/** `/node reboot pi4-a` as a Discord user does it: proposal, Confirm button, progress, thread. */
const APP = snowflake();
const GUILD = snowflake();
const OPS = snowflake();
const ALICE = snowflake();
const ADMINS = snowflake();

let discord: FakeDiscord;
let lab: SshLab;
let kube: FakeKube;
let app: App;

beforeAll(async () => {
  [discord, lab, kube] = await Promise.all([
    FakeDiscord.start({
      appId: APP,
      guildId: GUILD,
      channels: [{ id: OPS, name: 'ops' }],
      users: [{ id: ALICE, username: 'alice', roles: [ADMINS] }],
      roles: [{ id: ADMINS, name: 'admins' }],
    }),
    startSshLab({
      rebootDelayMs: 1000,
      nodes: [
        { name: 'pi4-a', os: 'raspios', roles: ['worker'], k3sName: 'pi4-a', groups: ['k3s'] },
      ],
    }),
    FakeKube.start({
      nodes: [{ name: 'pi4-a', ready: true, roles: ['worker'], version: 'v1.31.4+k3s1' }],
      pods: [
        {
          namespace: 'default',
          name: 'web-1',
          node: 'pi4-a',
          ownerKind: 'ReplicaSet',
          ownerName: 'web',
        },
      ],
    }),
  ]);
  kube.evictionBehaviour = { deleteAfterMs: 50, reschedule: false };
  const config = ConfigSchema.parse({
    state: { dir: tempStateDir() },
    http: { enabled: false },
    chat: {
      console: { enabled: false },
      discord: {
        token: 'fake',
        applicationId: APP,
        guildIds: [GUILD],
        apiUrl: `${discord.url}/api`,
        registerOnStart: true,
      },
    },
    inventory: { nodes: lab.inventory() },
    access: { roles: { admins: { members: [`discord:${ADMINS}`], allow: ['node.*'] } } },
    ssh: { privateKeyFile: lab.privateKeyFile, knownHostsFile: lab.knownHostsFile },
    kube: { kubeconfig: kube.kubeconfigFile },
    nodeOps: { rebootTimeoutSeconds: 20, readyTimeoutSeconds: 20 },
  });
  app = await App.create({ config, log: silentLogger() });
  await app.start();
}, 60_000);

afterAll(async () => {
  await app?.stop();
  await Promise.all([discord?.stop(), lab?.stop(), kube?.stop()]);
});

describe('/node reboot from Discord', () => {
  it('proposes with the plan, runs on Confirm, edits progress in place and logs every step in a thread', async () => {
    const i = await discord.slashCommand({
      user: ALICE,
      channelId: OPS,
      name: 'node',
      subcommand: 'reboot',
      options: [{ name: 'node', value: 'pi4-a' }],
    });
    const proposal = await discord.waitFor(
      () =>
        discord.interactionResponse(i).message?.buttons.length
          ? discord.interactionResponse(i).message
          : undefined,
      10_000,
    );
    expect(JSON.stringify(proposal!.embeds)).toContain('sudo -n systemctl reboot');
    expect(lab.node('pi4-a').calls('systemctl')).toEqual([]);

    await discord.pressButton({
      user: ALICE,
      messageId: proposal!.id,
      customId: proposal!.buttons[0]!.customId!,
    });
    const done = await discord.waitFor(() => {
      const v = discord.interactionResponse(i);
      return v.embeds[0]?.title === 'pi4-a rebooted' ? v : undefined;
    }, 45_000);
    expect(done!.message!.buttons).toEqual([]);
    expect(done!.history.some((h) => JSON.stringify(h).includes('wait for SSH to come back'))).toBe(
      true,
    );
    const thread = discord.threads().find((t) => t.id === done!.message!.threadId);
    const steps = thread!.messages.map((m) => m.content).join('\n');
    expect(steps).toContain('› cordoned pi4-a');
    expect(steps).toContain('› evicted default/web-1');
    expect(steps).toContain('› pi4-a went down');
    expect(steps).toContain('› uncordoned pi4-a');
    expect(lab.node('pi4-a').reboots()).toBe(1);
  }, 60_000);
});
