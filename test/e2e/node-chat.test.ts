import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { FakeDiscord, snowflake } from '../fakes/discord/fake-discord.js';
import type { InteractionView } from '../fakes/discord/views.js';
import { FakeKube } from '../fakes/kube/fake-kube.js';
import { FakeHomeserver } from '../fakes/matrix/fake-homeserver.js';
import {
  discordChat,
  kubeNodesFor,
  labOverrides,
  matrixChat,
  startApp,
  testConfig,
} from '../helpers/app-fixture.js';
import { pressConfirm, proposeOnDiscord } from '../helpers/discord-confirm.js';
import { type LabNodeSpec, type SshLab, startSshLab } from '../helpers/ssh-lab.js';

/**
 * Every /node command as a Discord user does it, through the real discord.js against the fake
 * Discord, real sshd nodes and the fake Kubernetes API: `/node reboot pi4-a` (proposal, Confirm
 * button, progress, thread), then list, status, logs, cordon/uncordon, drain, provision of the
 * NixOS server and update of a Pi with the real ansible-playbook; then `!node reboot pi4-a`
 * from Matrix (the bot's own client against the fake homeserver) confirmed with ✅.
 */
const APP = snowflake();
const GUILD = snowflake();
const OPS = snowflake();
const ALICE = snowflake();
const ADMINS = snowflake();
const BOT = '@chatops:lab.test';
const MX_ALICE = '@alice:lab.test';
const MX_BOB = '@bob:lab.test';
const ROOM = '!ops:lab.test';

const NODES: LabNodeSpec[] = [
  { name: 'pi4-a', os: 'raspios', roles: ['worker'], k3sName: 'pi4-a', groups: ['k3s'] },
  { name: 'x86', os: 'nixos', roles: ['control-plane'], k3sName: 'x86', groups: ['k3s'] },
];

let discord: FakeDiscord;
let hs: FakeHomeserver;
let lab: SshLab;
let kube: FakeKube;
let app: App;

beforeAll(async () => {
  [discord, hs, lab, kube] = await Promise.all([
    FakeDiscord.start({
      appId: APP,
      guildId: GUILD,
      channels: [{ id: OPS, name: 'ops' }],
      users: [{ id: ALICE, username: 'alice', roles: [ADMINS] }],
      roles: [{ id: ADMINS, name: 'admins' }],
    }),
    FakeHomeserver.start({
      botUserId: BOT,
      accessToken: 'tok',
      rooms: [{ roomId: ROOM, members: [MX_ALICE, MX_BOB] }],
    }),
    startSshLab({
      rebootDelayMs: 1000,
      nodes: NODES,
    }),
    FakeKube.start({
      nodes: kubeNodesFor(NODES),
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
  const config = testConfig({
    ...labOverrides(lab, kube),
    chat: { discord: discordChat(discord), matrix: matrixChat(hs, [ROOM]) },
    access: {
      roles: {
        admins: { members: [`discord:${ADMINS}`, `matrix:${MX_ALICE}`], allow: ['node.*'] },
      },
    },
    nodeOps: {
      rebootTimeoutSeconds: 20,
      readyTimeoutSeconds: 20,
      drainTimeoutSeconds: 10,
      ansible: { skipTags: ['packages', 'apt'] },
    },
  });
  // Ansible skips become when logged in as the become user (the lab's own user).
  process.env.ANSIBLE_BECOME_ALLOW_SAME_USER = 'true';
  app = await startApp(config);
}, 60_000);

afterAll(async () => {
  await app?.stop();
  await Promise.all([discord?.stop(), hs?.stop(), lab?.stop(), kube?.stop()]);
  delete process.env.ANSIBLE_BECOME_ALLOW_SAME_USER;
});

describe('/node reboot from Discord', () => {
  it('proposes with the plan, runs on Confirm, edits progress in place and logs every step in a thread', async () => {
    const proposal = await proposeOnDiscord(discord, {
      user: ALICE,
      channelId: OPS,
      name: 'node',
      subcommand: 'reboot',
      options: [{ name: 'node', value: 'pi4-a' }],
    });
    const i = proposal.interactionId!;
    expect(JSON.stringify(proposal.embeds)).toContain('sudo -n systemctl reboot');
    expect(lab.node('pi4-a').calls('systemctl')).toEqual([]);

    await pressConfirm(discord, ALICE, proposal);
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

/** Runs a slash command and waits until its answer matches (and it is not "thinking…"). */
async function slash(
  subcommand: string,
  options: { name: string; value: string | number | boolean }[],
  until: (v: InteractionView) => boolean,
  timeoutMs = 15_000,
): Promise<InteractionView> {
  const i = await discord.slashCommand({
    user: ALICE,
    channelId: OPS,
    name: 'node',
    subcommand,
    options,
  });
  const view = await discord.waitFor(() => {
    const v = discord.interactionResponse(i);
    return v.message && !v.message.loading && until(v) ? v : undefined;
  }, timeoutMs);
  return view!;
}

/** Presses the proposal's Confirm button and waits for the final answer. */
async function confirm(
  proposal: InteractionView,
  until: (v: InteractionView) => boolean,
  timeoutMs = 30_000,
): Promise<InteractionView> {
  await pressConfirm(discord, ALICE, proposal.message!);
  const view = await discord.waitFor(() => {
    const v = discord.interactionResponse(proposal.id);
    return until(v) ? v : undefined;
  }, timeoutMs);
  return view!;
}

const text = (v: InteractionView) => JSON.stringify([v.content, v.embeds]);
const title = (v: InteractionView) => String(v.embeds[0]?.title ?? '');
const cordoned = (name: string) =>
  (kube.node(name)?.spec as { unschedulable?: boolean } | undefined)?.unschedulable ?? false;

describe('the other /node commands from Discord', () => {
  it('list and status: the inventory, then every node with its K3s state', async () => {
    const list = await slash('list', [], (v) => title(v) === '2 nodes');
    expect(text(list)).toMatch(/pi4-a .*raspios\s+worker\s+Ready v1\.31\.4\+k3s1/);
    const status = await slash('status', [], (v) => /nodes? (up|unreachable)/.test(title(v)));
    expect(text(status)).toMatch(/pi4-a\s+up/);
    expect(text(status)).toMatch(/x86\s+up/);
    expect(text(status)).toContain('Ready v1.31.4+k3s1');
  });

  it('logs: the journal of a unit; a bad unit name is refused, only to the user', async () => {
    const logs = await slash(
      'logs',
      [
        { name: 'node', value: 'pi4-a' },
        { name: 'unit', value: 'k3s-agent' },
        { name: 'lines', value: 3 },
      ],
      (v) => title(v).startsWith('k3s-agent on pi4-a'),
    );
    expect(text(logs)).toContain('canned log line 3 of k3s-agent');
    const before = lab.node('pi4-a').calls('journalctl').length;
    const bad = await slash(
      'logs',
      [
        { name: 'node', value: 'pi4-a' },
        { name: 'unit', value: 'x; rm -rf /' },
      ],
      (v) => text(v).includes('systemd unit name'),
    );
    expect(bad.ephemeral || bad.message?.ephemeral).toBe(true);
    expect(lab.node('pi4-a').calls('journalctl')).toHaveLength(before);
  });

  it('cordon and uncordon', async () => {
    await slash('cordon', [{ name: 'node', value: 'pi4-a' }], (v) =>
      title(v).includes('cordoned: no new pods'),
    );
    expect(cordoned('pi4-a')).toBe(true);
    await slash('uncordon', [{ name: 'node', value: 'pi4-a' }], (v) =>
      title(v).includes('uncordoned'),
    );
    expect(cordoned('pi4-a')).toBe(false);
  });

  it('drain: proposal, Confirm, pods evicted, node left cordoned with the way back', async () => {
    kube.addPod({
      namespace: 'default',
      name: 'web-2',
      node: 'pi4-a',
      ownerKind: 'ReplicaSet',
      ownerName: 'web',
    });
    const proposal = await slash(
      'drain',
      [{ name: 'node', value: 'pi4-a' }],
      (v) => (v.message?.buttons.length ?? 0) > 0,
    );
    expect(cordoned('pi4-a')).toBe(false);
    const done = await confirm(proposal, (v) => title(v) === 'pi4-a drained');
    expect(text(done)).toContain('/node uncordon pi4-a');
    expect(cordoned('pi4-a')).toBe(true);
    expect(kube.evictions.map((e) => e.name)).toContain('web-2');
    await slash('uncordon', [{ name: 'node', value: 'pi4-a' }], (v) =>
      title(v).includes('uncordoned'),
    );
  });

  it('provision of the NixOS server: nixos-rebuild switch streamed into the thread', async () => {
    const proposal = await slash(
      'provision',
      [{ name: 'node', value: 'x86' }],
      (v) => (v.message?.buttons.length ?? 0) > 0,
    );
    expect(text(proposal)).toContain('nixos-rebuild switch --flake /etc/nixos#x86');
    const done = await confirm(proposal, (v) => title(v).startsWith('nixos-rebuild switch on x86'));
    expect(title(done)).toBe('nixos-rebuild switch on x86 done');
    expect(lab.node('x86').calls('nixos-rebuild').at(-1)?.argv).toEqual([
      'nixos-rebuild',
      'switch',
      '--flake',
      '/etc/nixos#x86',
    ]);
    const thread = discord.threads().find((t) => t.id === done.message!.threadId);
    expect(thread!.messages.map((m) => m.content).join('\n')).toContain(
      'activating the configuration...',
    );
  }, 30_000);

  it('update of a Pi: the real update.yml, task by task, and no reboot when none is asked for', async () => {
    const proposal = await slash(
      'update',
      [{ name: 'target', value: 'pi4-a' }],
      (v) => (v.message?.buttons.length ?? 0) > 0,
    );
    expect(text(proposal)).toContain('ansible-playbook playbooks/update.yml --limit pi4-a');
    const rebootsBefore = lab.node('pi4-a').reboots();
    const done = await confirm(
      proposal,
      (v) => /^Updated|failed|in progress/.test(title(v)),
      90_000,
    );
    expect(title(done), text(done)).toBe('Updated 1 node');
    expect(text(done)).toContain('pi4-a: updated');
    const thread = discord.threads().find((t) => t.id === done.message!.threadId);
    expect(thread!.messages.map((m) => m.content).join('\n')).toContain(
      'ok: [pi4-a] Report whether a reboot is required — REBOOT_REQUIRED=false',
    );
    expect(lab.node('pi4-a').reboots()).toBe(rebootsBefore);
  }, 120_000);
});

describe('/node reboot from Matrix', () => {
  it('proposes with the plan, runs on the invoker’s ✅ only, edits progress, steps in a thread', async () => {
    const pi = lab.node('pi4-a');
    const rebootsBefore = pi.reboots();
    const ev = hs.sendMessage(ROOM, MX_ALICE, '!node reboot pi4-a');
    const answer = (re: RegExp) =>
      hs.waitFor(() => {
        const m = hs.visible(ROOM).find((v) => v.sender === BOT && v.replyTo === ev);
        return m && re.test(m.body) ? m : undefined;
      }, 30_000);
    const proposal = await answer(/Confirm: \/node reboot pi4-a/);
    expect(proposal.body).toContain('sudo -n systemctl reboot');
    // Bob has no role: his ✅ does nothing.
    hs.react(ROOM, MX_BOB, proposal.eventId, '✅');
    await new Promise((r) => setTimeout(r, 300));
    expect(pi.reboots()).toBe(rebootsBefore);
    hs.react(ROOM, MX_ALICE, proposal.eventId, '✅');
    const done = await answer(/pi4-a rebooted/);
    expect(done.edits).toBeGreaterThan(1);
    const steps = done.thread.map((t) => t.body).join('\n');
    expect(steps).toContain('› cordoned pi4-a');
    expect(steps).toContain('› pi4-a went down');
    expect(steps).toContain('› uncordoned pi4-a');
    expect(pi.reboots()).toBe(rebootsBefore + 1);
    expect(cordoned('pi4-a')).toBe(false);
  }, 60_000);
});
