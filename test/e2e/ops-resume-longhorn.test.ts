/**
 * Durable means kill-tested (#15, #16): a reboot of a node holding a Longhorn replica ends with
 * a journaled wait until Longhorn has rebuilt it. The real CLI as a child process is SIGKILLed
 * during that wait — the node rebooted, Ready and uncordoned, the replica still rebuilding in
 * the simulated longhorn-manager — and started again: it picks the reboot up, goes on waiting
 * with the progress in the same message and thread, finishes once the volume is healthy, and
 * never sends the reboot again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderSteps } from '../../src/chat/discord/render.js';
import type { FakeDiscord } from '../fakes/discord/fake-discord.js';
import type { FakeKube } from '../fakes/kube/fake-kube.js';
import { type BotLab, startBotLab } from '../helpers/bot-lab.js';
import type { BotProcess } from '../helpers/bot-process.js';
import { confirmOnDiscord } from '../helpers/discord-confirm.js';
import { giteaOnBothPis } from '../helpers/longhorn-sim.js';
import type { LabNodeSpec, SshLab } from '../helpers/ssh-lab.js';

const NODES: LabNodeSpec[] = [
  { name: 'x86', os: 'nixos', roles: ['control-plane'], k3sName: 'x86' },
  { name: 'pi4-a', os: 'raspios', roles: ['worker'], k3sName: 'pi4-a' },
  { name: 'pi4-b', os: 'raspios', roles: ['worker'], k3sName: 'pi4-b' },
];
/** Long enough that the kill and the restart fall well inside the rebuild on a loaded machine. */
const REBUILD_MS = 12_000;

let botLab: BotLab;
let discord: FakeDiscord;
let lab: SshLab;
let kube: FakeKube;
let bot: BotProcess;

beforeAll(async () => {
  botLab = await startBotLab(NODES, {
    rebootDelayMs: 500,
    kubelets: { graceMs: 3000, startDelayMs: 300 },
    kube: { longhorn: giteaOnBothPis(REBUILD_MS) },
    config: {
      nodeOps: { drainTimeoutSeconds: 10, rebootTimeoutSeconds: 20, readyTimeoutSeconds: 20 },
      longhorn: { rebuildTimeoutSeconds: 60 },
    },
  });
  ({ discord, lab, kube, bot } = botLab);
}, 60_000);

afterAll(async () => {
  await botLab?.stop();
});

const cordoned = (name: string) =>
  (kube.node(name)?.spec as { unschedulable?: boolean } | undefined)?.unschedulable === true;

const robustness = (volume: string) =>
  (kube.store.get('lh-volumes', 'longhorn-system', volume) as { status?: { robustness?: string } })
    ?.status?.robustness;

/** The threads under `messageId` (the operation's: one). */
const threadsOf = (messageId: string) =>
  discord
    .threads()
    .filter(
      (t) => t.starterMessage?.id === messageId || t.id === discord.message(messageId)?.threadId,
    );
const threadMessages = (messageId: string) => threadsOf(messageId).flatMap((t) => t.messages);

/** A thread post as the live step renderer makes it of its lines (the `› ` of every step line). */
const asLiveSteps = (content: string) =>
  renderSteps(content.split('\n').map((l) => l.replace(/^› /, ''))).join('');

const rebootCommands = (node: string) =>
  lab
    .node(node)
    .calls('systemctl')
    .filter((c) => c.argv.includes('reboot'));

describe('a reboot killed while Longhorn rebuilds the node’s replica', () => {
  it('is picked up after the restart, waits on in the same message and thread, and finishes once the volume is healthy', async () => {
    const { id: messageId } = await confirmOnDiscord(discord, {
      user: botLab.alice,
      channelId: botLab.ops,
      name: 'node',
      subcommand: 'reboot',
      options: [{ name: 'node', value: 'pi4-b' }],
    });

    // Killed in the journaled wait, once its first progress line is in the thread.
    const waiting = await discord.waitFor(() => {
      const op = bot
        .operations()
        .find(
          (r) => r.kind === 'node.reboot' && r.step.label.startsWith('wait until the Longhorn'),
        );
      const shown = threadMessages(messageId).some((m) =>
        m.content.includes('Longhorn: pvc-gitea degraded, rebuilding on pi4-b'),
      );
      return op && shown ? op : undefined;
    }, 30_000);
    await bot.kill();
    const left = bot.operations().find((r) => r.id === waiting!.id)!;
    expect(left.status).toBe('running');
    expect(left.data).toMatchObject({ rebootSent: true, longhornVolumes: 'pvc-gitea' });
    expect(left.step.label).toMatch(/^wait until the Longhorn volumes/);
    expect(left.step.index + 1).toBe(left.step.total);
    expect(left.changed).toEqual([]);
    expect(robustness('pvc-gitea')).toBe('degraded');
    expect(cordoned('pi4-b')).toBe(false);
    expect(lab.node('pi4-b').reboots()).toBe(1);
    expect(rebootCommands('pi4-b')).toHaveLength(1);

    const restartedAt = Date.now();
    await bot.start();

    // Finished in the original message, after the volume is healthy again.
    const final = await discord.waitFor(() => {
      const e = discord.message(messageId)?.embeds[0];
      return e && e.title === 'pi4-b rebooted' ? e : undefined;
    }, REBUILD_MS + 30_000);
    expect(String(final!.description)).toMatch(
      /^pi4-b is back and uncordoned; the bot was down about \d+ s and finished the reboot after it restarted\.$/,
    );
    expect(robustness('pvc-gitea')).toBe('healthy');
    const rebuilt = kube.longhorn!.events.find(
      (e) => e.what === 'rebuilt' && e.volume === 'pvc-gitea',
    );
    expect(rebuilt!.at).toBeGreaterThan(restartedAt);

    // The wait went on where the user was looking: progress edits of the same message and
    // lines in the same thread after the restart, then the end, once.
    await discord.waitFor(
      () => threadMessages(messageId).some((m) => m.content.includes('✔ pi4-b is back')),
      10_000,
    );
    await new Promise((r) => setTimeout(r, 300));
    const after = threadMessages(messageId)
      .filter((m) => m.createdAt >= restartedAt)
      .flatMap((m) => m.content.split('\n'));
    const at = (text: string) => after.findIndex((l) => l.includes(text));
    expect(at('The bot is back after about'), after.join('\n')).toBe(0);
    expect(after[0]).toMatch(
      /The bot is back after about \d+ s: pi4-b rebooted \(new boot id\) and is uncordoned\./,
    );
    expect(
      at('Longhorn: pvc-gitea degraded, rebuilding on pi4-b'),
      after.join('\n'),
    ).toBeGreaterThan(0);
    expect(at('Longhorn volumes healthy again: pvc-gitea')).toBeGreaterThan(
      at('Longhorn: pvc-gitea degraded'),
    );
    expect(at('› ✔ pi4-b is back and uncordoned')).toBeGreaterThan(
      at('Longhorn volumes healthy again'),
    );
    expect(threadsOf(messageId)).toHaveLength(1);
    const all = threadMessages(messageId).flatMap((m) => m.content.split('\n'));
    expect(all.filter((l) => l.includes('✔ '))).toEqual(['› ✔ pi4-b is back and uncordoned']);
    // The lines after the restart look as the live ones before it: the same step renderer.
    for (const m of threadMessages(messageId)) expect(m.content).toBe(asLiveSteps(m.content));
    expect(after.every((l) => l.startsWith('› '))).toBe(true);
    // What was done before the kill is not done (nor said) again.
    expect(all.filter((l) => l.includes('is Ready with a new boot id'))).toHaveLength(1);
    expect(all.filter((l) => l.endsWith('uncordoned pi4-b'))).toHaveLength(1);
    const progress = discord
      .message(messageId)!
      .history.filter((v) => v.at >= restartedAt)
      .map((v) => JSON.stringify(v.embeds));
    expect(progress.some((v) => v.includes('wait until the Longhorn volumes'))).toBe(true);
    expect(progress.filter((v) => /wait until pi4-b is Ready|uncordon pi4-b/.test(v))).toEqual([]);

    // Nothing sent twice: one reboot, one systemctl reboot, one cordon and one uncordon; the
    // record gone.
    expect(lab.node('pi4-b').reboots()).toBe(1);
    expect(rebootCommands('pi4-b')).toHaveLength(1);
    expect(cordoned('pi4-b')).toBe(false);
    const patches = kube.requests.filter(
      (r) => r.method === 'PATCH' && r.path.endsWith('/nodes/pi4-b'),
    );
    expect(patches).toHaveLength(2);
    expect(bot.operations()).toEqual([]);
    expect(bot.stderr).toContain('resuming an operation');
  }, 90_000);
});
