import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kube } from '../../src/infra/kube.js';
import type { FakeDiscord } from '../fakes/discord/fake-discord.js';
import type { FakeKube } from '../fakes/kube/fake-kube.js';
import { type BotLab, startBotLab } from '../helpers/bot-lab.js';
import type { BotProcess } from '../helpers/bot-process.js';
import { confirmOnDiscord, proposeOnDiscord } from '../helpers/discord-confirm.js';
import type { KubeletSim } from '../helpers/kubelet-sim.js';
import type { LabNodeSpec, SshLab } from '../helpers/ssh-lab.js';

/**
 * Durable operations (#15), with every real part there is: the real CLI as a child process, real
 * sshd nodes, the fake Kubernetes API with a simulated kubelet (stale Ready, new boot ids), the
 * fake Discord. The bot is SIGKILLed at each step of a reboot in turn and started again; every
 * run ends with one final report in the original message and its thread — the node rebooted and
 * uncordoned, or "interrupted" with what is still changed — never silence, never two reboots.
 */

const NODES: LabNodeSpec[] = [
  { name: 'x86', os: 'nixos', roles: ['control-plane'], k3sName: 'x86' },
  { name: 'pi5', os: 'raspios', roles: ['worker'], k3sName: 'pi5' },
  { name: 'pi4-a', os: 'raspios', roles: ['worker'], k3sName: 'pi4-a' },
];
const SELF = { pod: 'homelab-chatops-7d9f-abcde', namespace: 'chatops', node: 'pi5' };

let botLab: BotLab;
let discord: FakeDiscord;
let ALICE: string;
let OPS: string;
let lab: SshLab;
let kube: FakeKube;
let kubelets: KubeletSim;
let admin: Kube;
let bot: BotProcess;

beforeAll(async () => {
  botLab = await startBotLab(NODES, {
    rebootDelayMs: 800,
    kubelets: { graceMs: 1000, startDelayMs: 300 },
    kube: {
      applications: [
        {
          name: 'home-assistant',
          syncStatus: 'OutOfSync',
          health: 'Healthy',
          revision: 'v1',
          headRevision: 'v2',
        },
      ],
      pods: [
        {
          namespace: SELF.namespace,
          name: SELF.pod,
          node: 'pi5',
          ownerKind: 'ReplicaSet',
          ownerName: 'homelab-chatops-7d9f',
        },
      ],
    },
    config: {
      self: SELF,
      nodeOps: { drainTimeoutSeconds: 10, rebootTimeoutSeconds: 8, readyTimeoutSeconds: 20 },
    },
  });
  ({ discord, alice: ALICE, ops: OPS, lab, kube, kubelets, bot } = botLab);
  kube.evictionBehaviour = { deleteAfterMs: 200, reschedule: false };
  admin = Kube.load({ kubeconfig: kube.adminKubeconfigFile });
}, 60_000);

afterAll(async () => {
  await botLab?.stop();
});

const cordoned = (name: string) =>
  (kube.node(name)?.spec as { unschedulable?: boolean } | undefined)?.unschedulable === true;

/** `/node <sub> <node>` as Alice in #ops. */
const nodeCommand = (sub: string, node: string, force = false) => ({
  user: ALICE,
  channelId: OPS,
  name: 'node',
  subcommand: sub,
  options: [{ name: 'node', value: node }, ...(force ? [{ name: 'force', value: true }] : [])],
});

/** Proposes `/node <sub> <node>` and presses Confirm; the id of the message it runs in. */
async function confirmed(sub: string, node: string, force = false): Promise<{ messageId: string }> {
  const message = await confirmOnDiscord(discord, nodeCommand(sub, node, force));
  return { messageId: message.id };
}

const confirmReboot = (node: string, force = false) => confirmed('reboot', node, force);

/** Every line posted in the threads under the message. */
function threadLines(messageId: string): string[] {
  return discord
    .threads()
    .filter(
      (t) => t.starterMessage?.id === messageId || t.id === discord.message(messageId)?.threadId,
    )
    .flatMap((t) => t.messages.map((m) => m.content));
}

/** The final state of the message: rebooted, stopped, or interrupted (not "Rebooting …" progress). */
async function finalTitle(messageId: string, timeoutMs = 45_000): Promise<string> {
  const title = await discord.waitFor(() => {
    const t = String(discord.message(messageId)?.embeds[0]?.title ?? '');
    return /rebooted$|^Interrupted: |stopped at step/.test(t) ? t : undefined;
  }, timeoutMs);
  return title ?? '';
}

async function waitUntil<T>(
  fn: () => T | undefined | false,
  timeoutMs = 20_000,
  pollMs = 5,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** Where to kill: the journal's step index, or the moment the reboot was recorded as sent. */
const KILL_POINTS: {
  at: string;
  when: (r: ReturnType<BotProcess['operations']>[number]) => boolean;
  /**
   * A step too quick to catch by polling the journal: the fake API server holds this request
   * until the bot is killed (then applies it: the uncordon reached the server, its answer never
   * reached the bot).
   */
  hold?: (r: FakeKube['requests'][number]) => boolean;
}[] = [
  { at: 'check pods, cordon', when: (r) => r.step.index >= 0 && r.step.label !== 'starting' },
  { at: 'drain', when: (r) => r.step.index >= 1 },
  { at: 'reboot, before it was sent', when: (r) => r.step.index >= 2 },
  { at: 'reboot, just sent', when: (r) => r.data.rebootSent === true },
  { at: 'wait for SSH to go down', when: (r) => r.step.index >= 3 },
  { at: 'wait for SSH to come back', when: (r) => r.step.index >= 4 },
  { at: 'wait for Ready with the new boot id', when: (r) => r.step.index >= 5 },
  {
    at: 'uncordon',
    when: (r) => r.step.index >= 6,
    hold: (r) =>
      r.method === 'PATCH' &&
      r.path === '/api/v1/nodes/pi4-a' &&
      (r.body as { spec?: { unschedulable?: boolean } } | undefined)?.spec?.unschedulable === false,
  },
];

describe('a reboot survives the bot being killed at any step', () => {
  for (const point of KILL_POINTS) {
    it(`killed at: ${point.at}`, async () => {
      if (cordoned('pi4-a')) await admin.uncordon('pi4-a');
      kube.addPod({
        namespace: 'default',
        name: `web-${bot.starts}`,
        node: 'pi4-a',
        ownerKind: 'ReplicaSet',
        ownerName: 'web',
      });
      const rebootsBefore = lab.node('pi4-a').reboots();

      let release = () => {};
      let held = !point.hold;
      const unhook = point.hold
        ? kube.beforeRequest(point.hold, () => {
            held = true;
            return new Promise<void>((done) => (release = done));
          })
        : () => {};
      const { messageId } = await confirmReboot('pi4-a');
      const killedAt = await waitUntil(
        () =>
          held &&
          bot
            .operations()
            .find((r) => r.kind === 'node.reboot' && r.status === 'running' && point.when(r)),
      ).catch((err: unknown) => {
        unhook();
        release();
        throw err;
      });
      await bot.kill();
      release();
      const sent = bot.operations().find((r) => r.id === killedAt.id)?.data.rebootSent === true;
      await bot.start();

      const title = await finalTitle(messageId);
      const isFinal = (l: string) => /✔ pi4-a is back|⚠ interrupted|✖ /.test(l);
      await discord
        .waitFor(() => threadLines(messageId).some(isFinal), 10_000)
        .catch(() => undefined);
      await new Promise((r) => setTimeout(r, 300));
      const lines = threadLines(messageId);
      expect(lines.filter(isFinal), lines.join('\n')).toHaveLength(1);
      const reboots = lab.node('pi4-a').reboots() - rebootsBefore;
      expect(reboots).toBeLessThanOrEqual(1);
      if (sent && reboots === 0) {
        // Killed between recording the reboot and sending it: the resumed bot never sends it
        // again — it waits for the node to go down, and says it did not.
        expect(title).toBe('Reboot of pi4-a stopped at step 4 of 7: wait for SSH to go down');
        expect(JSON.stringify(discord.message(messageId)?.embeds)).toContain(
          'pi4-a did not go down: the reboot may not have happened',
        );
      } else if (sent) {
        // Sent before the kill: finished from the journal, once.
        expect(title).toBe('pi4-a rebooted');
        expect(String(discord.message(messageId)?.embeds[0]?.description)).toMatch(
          /^pi4-a is back and uncordoned; the bot was down about \d+ s/,
        );
        await waitUntil(() => lab.node('pi4-a').reboots() - rebootsBefore === 1);
        expect(cordoned('pi4-a')).toBe(false);
      } else {
        // Not sent: not continued blindly; the message says where it stopped and what is changed.
        expect(title).toBe('Interrupted: Reboot of pi4-a');
        const text = String(discord.message(messageId)?.embeds[0]?.description);
        expect(text).toMatch(/before the reboot was sent, so it was not continued/);
        expect(text).toContain(
          cordoned('pi4-a')
            ? 'Still changed: pi4-a cordoned.'
            : 'Nothing it changed is left changed.',
        );
        expect(text.match(/cordoned\./g) ?? []).toHaveLength(cordoned('pi4-a') ? 1 : 0); // said once
        expect(text).toContain(
          cordoned('pi4-a') ? 'To undo: /node uncordon pi4-a' : 'To reboot it: /node reboot pi4-a',
        );
        expect(reboots).toBe(0);
      }
      expect(bot.operations().filter((r) => r.status === 'running')).toEqual([]);
    }, 90_000);
  }

  it('/ops list shows an interrupted one with its step; /ops cancel dismisses it', async () => {
    if (cordoned('pi4-a')) await admin.uncordon('pi4-a');
    kube.addPod({
      namespace: 'default',
      name: 'web-ops',
      node: 'pi4-a',
      ownerKind: 'ReplicaSet',
      ownerName: 'web',
    });
    const { messageId } = await confirmReboot('pi4-a');
    const killedAt = await waitUntil(() =>
      bot
        .operations()
        .find((r) => r.kind === 'node.reboot' && r.status === 'running' && r.step.index >= 1),
    );
    await bot.kill();
    await bot.start();
    expect(await finalTitle(messageId)).toBe('Interrupted: Reboot of pi4-a');

    const i = await discord.slashCommand({
      user: ALICE,
      channelId: OPS,
      name: 'ops',
      subcommand: 'list',
    });
    const list = await discord.waitFor(() => discord.interactionResponse(i).embeds[0], 5000);
    expect(String(list!.title)).toBe('0 running, 1 interrupted');
    expect(String(list!.description)).toMatch(
      new RegExp(`${killedAt.id}\\s+INTERRUPTED\\s+Reboot of pi4-a`),
    );
    expect(JSON.stringify(list!.fields)).toContain(`/ops cancel ${killedAt.id} when settled`);

    const c = await discord.slashCommand({
      user: ALICE,
      channelId: OPS,
      name: 'ops',
      subcommand: 'cancel',
      options: [{ name: 'id', value: killedAt.id }],
    });
    const done = await discord.waitFor(() => discord.interactionResponse(c).embeds[0], 5000);
    expect(String(done!.title)).toBe(`Dismissed ${killedAt.id}: Reboot of pi4-a`);
    expect(bot.operations().map((r) => r.id)).not.toContain(killedAt.id);
    await admin.uncordon('pi4-a');
  });
});

describe("rebooting the bot's own node", () => {
  it('drains everything but the bot, dies with the node, comes back on it and finishes in the same message', async () => {
    if (cordoned('pi5')) await admin.uncordon('pi5');
    kube.addPod({
      namespace: 'home',
      name: 'mealie-0',
      node: 'pi5',
      ownerKind: 'StatefulSet',
      ownerName: 'mealie',
    });
    const rebootsBefore = lab.node('pi5').reboots();
    const evictionsBefore = kube.evictions.length;
    const { messageId } = await confirmReboot('pi5', true);

    // The node goes down: the bot's pod goes with it (SIGKILL, no goodbye).
    await waitUntil(() => !lab.node('pi5').isUp(), 30_000);
    await bot.kill();
    const left = bot.operations().find((r) => r.kind === 'node.reboot' && r.target === 'pi5');
    expect(left?.data.rebootSent).toBe(true);
    expect(left?.changed).toEqual(['pi5 cordoned']);
    // Back on its node once it answers again (the toleration lets it onto the cordoned node).
    await waitUntil(() => lab.node('pi5').isUp(), 30_000, 50);
    await bot.start();

    expect(await finalTitle(messageId)).toBe('pi5 rebooted');
    await discord.waitFor(
      () => threadLines(messageId).some((l) => l.includes('✔ pi5 is back')),
      10_000,
    );
    expect(String(discord.message(messageId)?.embeds[0]?.description)).toMatch(
      /^pi5 is back and uncordoned; the bot was down about \d+ s and finished the reboot after it restarted\.$/,
    );
    const lines = threadLines(messageId).join('\n');
    expect(lines).toContain('chatops/homelab-chatops-7d9f-abcde (this bot) stays');
    expect(lines).toMatch(
      /The bot is back after about \d+ s: pi5 (rebooted \(new boot id\)|does not answer yet)/,
    );
    expect(lines).toContain('pi5 is Ready with a new boot id');
    expect(lines).toContain('✔ pi5 is back and uncordoned');
    expect(cordoned('pi5')).toBe(false);
    expect(lab.node('pi5').reboots() - rebootsBefore).toBe(1);
    const evicted = kube.evictions.slice(evictionsBefore).map((e) => `${e.namespace}/${e.name}`);
    expect(evicted).toEqual(['home/mealie-0']);
    // The uncordon came only after the kubelet posted the new boot id.
    const posted = kubelets
      .eventsOf('pi5')
      .filter((e) => e.what === 'posted')
      .at(-1)!;
    const uncordon = kube.requests.findLastIndex(
      (r) => r.method === 'PATCH' && r.path.endsWith('/nodes/pi5'),
    );
    expect(uncordon).toBeGreaterThanOrEqual(posted.requestIndex);
  }, 90_000);
});

describe('other long operations, proposals and the journal across a kill', () => {
  it('an Argo sync being followed is re-attached after a restart and answered in its message', async () => {
    kube.controller.configure('home-assistant', { ticks: 12, tickMs: 150 });
    const i = await discord.slashCommand({
      user: ALICE,
      channelId: OPS,
      name: 'argo',
      subcommand: 'sync',
      options: [{ name: 'app', value: 'home-assistant' }],
    });
    await waitUntil(() =>
      bot.operations().find((r) => r.kind === 'argo.sync' && r.origin.message !== undefined),
    );
    await waitUntil(() => kube.application('home-assistant')?.operation !== undefined, 10_000);
    await bot.kill();
    // Argo CD goes on slower while the bot is down, so the sync still runs when it is back.
    kube.controller.configure('home-assistant', { ticks: 12, tickMs: 600 });
    await bot.start();
    const messageId = discord.interactionResponse(i).message!.id;
    const done = await discord.waitFor(() => {
      const e = discord.message(messageId)?.embeds[0];
      return e && /^home-assistant synced to/.test(String(e.title)) ? e : undefined;
    }, 20_000);
    expect(String(done!.footer && (done!.footer as { text?: string }).text)).toMatch(
      /Followed to its end after the bot restarted/,
    );
    // After the restart, the thread goes on as live: a line per resource as Argo CD syncs it.
    const lines = threadLines(messageId).flatMap((m) => m.split('\n'));
    const back = lines.findIndex((l) =>
      /The bot is back after about .*following home-assistant again/.test(l),
    );
    expect(back).toBeGreaterThanOrEqual(0);
    expect(
      lines.slice(back + 1).filter((l) => /^› ✔ \S+ \S+: Synced/.test(l)).length,
    ).toBeGreaterThan(0);
    // One sync: the bot re-attached, it did not start another.
    const syncs = kube.requests.filter(
      (r) => r.method === 'PATCH' && r.path.endsWith('/applications/home-assistant'),
    );
    expect(syncs).toHaveLength(1);
    expect(bot.operations().filter((r) => r.kind === 'argo.sync')).toEqual([]);
  }, 60_000);

  it('a drain killed midway is reported where it started, with what to run', async () => {
    if (cordoned('pi4-a')) await admin.uncordon('pi4-a');
    kube.evictionBehaviour = { deleteAfterMs: 3000, reschedule: false };
    kube.addPod({
      namespace: 'default',
      name: 'slow-0',
      node: 'pi4-a',
      ownerKind: 'ReplicaSet',
      ownerName: 'slow',
    });
    const { messageId } = await confirmed('drain', 'pi4-a');
    await waitUntil(
      () => cordoned('pi4-a') && bot.operations().some((r) => r.kind === 'node.drain'),
    );
    await bot.kill();
    kube.evictionBehaviour = { deleteAfterMs: 200, reschedule: false };
    await bot.start();
    const title = await finalTitle(messageId);
    expect(title).toBe('Interrupted: /node drain pi4-a');
    // Not continued, but looked at: still cordoned, so that is where it stood and what is left.
    const text = String(discord.message(messageId)?.embeds[0]?.description);
    expect(text).toMatch(
      /^The bot restarted \(it was down about \d+ s\) while \/node drain pi4-a was draining pi4-a \(cordoned, its pods being evicted\); it was not continued\. Still changed: pi4-a cordoned\. To finish the drain: \/node drain pi4-a\. To undo it: \/node uncordon pi4-a\.$/,
    );
    await discord.waitFor(() => threadLines(messageId).some((l) => l.includes('⚠')), 5000);
    expect(threadLines(messageId).at(-1)).toBe(
      '› ⚠ interrupted while draining pi4-a (cordoned, its pods being evicted). Still changed: pi4-a cordoned.',
    );
    const left = bot.operations().find((r) => r.kind === 'node.drain')!;
    expect(left.status).toBe('interrupted');
    expect(left.changed).toEqual(['pi4-a cordoned']);
    expect(cordoned('pi4-a')).toBe(true);
    await admin.uncordon('pi4-a');
  }, 60_000);

  it('a proposal nobody answered before the kill is edited to say it expired', async () => {
    const proposal = await proposeOnDiscord(discord, nodeCommand('reboot', 'pi4-a'));
    // Killed once the proposal is on disk (it is written right after Discord took the message).
    await waitUntil(() => {
      try {
        return readFileSync(`${bot.stateDir}/proposals.json`, 'utf8').includes(proposal.id);
      } catch {
        return false;
      }
    });
    await bot.kill();
    await bot.start();
    const expired = await discord.waitFor(() => {
      const m = discord.message(proposal.id);
      return String(m?.embeds[0]?.title) === 'Expired: /node reboot pi4-a' ? m : undefined;
    }, 10_000);
    expect(String(expired!.embeds[0]?.description)).toMatch(
      /The bot restarted before this was confirmed; nothing was done/,
    );
    expect(expired!.buttons).toEqual([]);
    expect(
      lab
        .node('pi4-a')
        .calls('systemctl')
        .filter((c) => c.argv.includes('reboot')),
    ).toHaveLength(lab.node('pi4-a').reboots());
  }, 30_000);

  it('a corrupt or truncated record is set aside with a warning and never blocks the start', async () => {
    await bot.stop();
    const dir = `${bot.stateDir}/operations`;
    writeFileSync(`${dir}/op-dead01.json`, '{"version":1,"id":"op-dead01","kind":"node.reb');
    writeFileSync(`${dir}/op-dead02.json`, JSON.stringify({ version: 1, id: 'op-dead02' }));
    await bot.start();
    expect(bot.stderr).toMatch(
      /operation record .*op-dead01\.json is unreadable .*moved to .*op-dead01\.json\.corrupt-/,
    );
    expect(bot.stderr).toMatch(/op-dead02\.json is unreadable \(no kind or target\)/);
    expect(readdirSync(dir).filter((f) => f.endsWith('.json'))).not.toContain('op-dead01.json');
    const i = await discord.slashCommand({
      user: ALICE,
      channelId: OPS,
      name: 'ops',
      subcommand: 'list',
    });
    const list = await discord.waitFor(() => discord.interactionResponse(i).embeds[0], 5000);
    expect(String(list!.title)).toMatch(/^0 running/);
  }, 30_000);
});
