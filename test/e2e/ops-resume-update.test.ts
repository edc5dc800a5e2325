/**
 * A rolling /node update killed while a Pi it updated is rebooting (#15): the update and the
 * reboot are two journal records answering in one message. The real CLI as a child process is
 * SIGKILLed after the reboot was sent and started again: the reboot goes on as a step of the
 * update, in the same thread, and the update answers once, for both — never the reboot's own
 * "pi4-a rebooted" over the update's outcome, nor an "Interrupted" the reboot then overwrites.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { FakeDiscord } from '../fakes/discord/fake-discord.js';
import type { FakeKube } from '../fakes/kube/fake-kube.js';
import { type BotLab, startBotLab } from '../helpers/bot-lab.js';
import type { BotProcess } from '../helpers/bot-process.js';
import { confirmOnDiscord } from '../helpers/discord-confirm.js';
import type { LabNodeSpec, SshLab } from '../helpers/ssh-lab.js';

const NODES: LabNodeSpec[] = [
  { name: 'x86', os: 'nixos', roles: ['control-plane'], k3sName: 'x86', groups: ['k3s'] },
  { name: 'pi4-a', os: 'raspios', roles: ['worker'], k3sName: 'pi4-a', groups: ['k3s', 'pis'] },
  { name: 'pi4-b', os: 'raspios', roles: ['worker'], k3sName: 'pi4-b', groups: ['k3s', 'pis'] },
];

let botLab: BotLab;
let discord: FakeDiscord;
let lab: SshLab;
let kube: FakeKube;
let bot: BotProcess;

beforeAll(async () => {
  botLab = await startBotLab(NODES, {
    rebootDelayMs: 800,
    kubelets: { graceMs: 1000, startDelayMs: 300 },
    config: {
      nodeOps: {
        drainTimeoutSeconds: 10,
        rebootTimeoutSeconds: 20,
        readyTimeoutSeconds: 20,
        ansible: { skipTags: ['packages', 'apt'] },
      },
    },
  });
  ({ discord, lab, kube, bot } = botLab);
  // The Pis' update.yml looks for reboot-required in the node's run/ (emptied by its reboot).
  await bot.stop();
  const config = parse(readFileSync(bot.configFile, 'utf8'));
  config.inventory.nodes = config.inventory.nodes.map((n: { name: string; os: string }) =>
    n.os === 'raspios'
      ? {
          ...n,
          ansibleVars: {
            pi_reboot_required_file: path.join(lab.node(n.name).dir, 'run', 'reboot-required'),
          },
        }
      : n,
  );
  writeFileSync(bot.configFile, stringify(config));
  await bot.start();
}, 60_000);

afterAll(async () => {
  await botLab?.stop();
});

const cordoned = (name: string) =>
  (kube.node(name)?.spec as { unschedulable?: boolean } | undefined)?.unschedulable === true;

function asksForReboot(node: string): void {
  const file = path.join(lab.node(node).dir, 'run', 'reboot-required');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, '*** System restart required ***\n');
}

/** Every line posted in the thread under the message, with when. */
function threadLines(messageId: string): { at: number; line: string }[] {
  return discord
    .threads()
    .filter(
      (t) => t.starterMessage?.id === messageId || t.id === discord.message(messageId)?.threadId,
    )
    .flatMap((t) =>
      t.messages.flatMap((m) => m.content.split('\n').map((line) => ({ at: m.createdAt, line }))),
    );
}

/**
 * `/node update pis` confirmed by alice, SIGKILLed once `node`'s reboot was sent and it is
 * waiting for SSH to come back, started again; resolves when no operation runs any more.
 */
async function updateKilledDuringReboot(node: string, how: 'SIGKILL' | 'SIGTERM' = 'SIGKILL') {
  const message = await confirmOnDiscord(discord, {
    user: botLab.alice,
    channelId: botLab.ops,
    name: 'node',
    subcommand: 'update',
    options: [{ name: 'target', value: 'pis' }],
  });
  const reboot = await discord.waitFor(
    () =>
      bot
        .operations()
        .find((r) => r.kind === 'node.reboot' && r.target === node && r.step.index >= 4),
    60_000,
  );
  if (how === 'SIGKILL') await bot.kill();
  else await bot.stop();
  expect(reboot!.data.rebootSent).toBe(true);
  const beforeRestart = discord
    .message(message.id)!
    .history.map((v) => String(v.embeds[0]?.title ?? ''));
  const restartedAt = Date.now();
  await bot.start();
  await discord.waitFor(
    () => bot.operations().every((r) => r.status !== 'running') || undefined,
    45_000,
  );
  await new Promise((r) => setTimeout(r, 500));
  const m = discord.message(message.id)!;
  const titles = m.history
    .filter((v) => v.at >= restartedAt)
    .map((v) => String(v.embeds[0]?.title ?? ''));
  const after = threadLines(message.id)
    .filter((l) => l.at >= restartedAt)
    .map((l) => l.line);
  return {
    final: m.embeds[0]!,
    titles,
    after,
    all: threadLines(message.id).map((l) => l.line),
    beforeRestart,
  };
}

describe('/node update killed during the reboot of a Pi it updated', () => {
  it('the last node: the reboot is finished after the restart, and the update answers as done, for both nodes', async () => {
    asksForReboot('pi4-b');
    const { final, titles, after } = await updateKilledDuringReboot('pi4-b');

    expect(final.title).toBe('Updated 2 nodes');
    expect(String(final.description)).toMatch(
      /^pi4-a: updated, no reboot needed\npi4-b: updated, then rebooted safely \(it asked for a reboot; the bot restarted during the reboot, down about \d+ s, and finished it\)$/,
    );
    // Between the restart and that answer: the reboot's progress, never its own answer or an
    // "Interrupted" of the update.
    expect(new Set(titles)).toEqual(new Set(['Reboot of pi4-b', 'Updated 2 nodes']));
    expect(titles.at(-1)).toBe('Updated 2 nodes');
    // The reboot's lines go on in the update's thread.
    expect(after[0]).toMatch(/^› The bot is back after about \d+ s: pi4-b /);
    expect(after).toContain('› ✔ pi4-b is back and uncordoned');
    expect(after.filter((l) => l.includes('interrupted'))).toEqual([]);
    expect(lab.node('pi4-b').reboots()).toBe(1);
    expect(lab.node('pi4-a').reboots()).toBe(0);
    expect(cordoned('pi4-b')).toBe(false);
    expect(bot.operations()).toEqual([]);
  }, 120_000);

  it('stopped (SIGTERM, the pod evicted) during the last node’s reboot: never "rebooted safely" before it was; finished after the restart', async () => {
    asksForReboot('pi4-b');
    const rebootsBefore = lab.node('pi4-b').reboots();
    const { final, beforeRestart } = await updateKilledDuringReboot('pi4-b', 'SIGTERM');
    // What the message said while the bot was down: the update is not over.
    expect(beforeRestart).not.toContain('Updated 2 nodes');
    expect(beforeRestart.at(-1)).toMatch(/stopping/);
    expect(final.title).toBe('Updated 2 nodes');
    expect(String(final.description)).toMatch(
      /pi4-b: updated, then rebooted safely \(it asked for a reboot; the bot restarted during the reboot, down about \d+ s, and finished it\)$/,
    );
    expect(lab.node('pi4-b').reboots() - rebootsBefore).toBe(1);
    expect(cordoned('pi4-b')).toBe(false);
    expect(bot.operations()).toEqual([]);
  }, 120_000);

  it('a node before the last: the reboot is finished, the update says so and that the next node was not touched', async () => {
    asksForReboot('pi4-a');
    const { final, titles, all } = await updateKilledDuringReboot('pi4-a');

    expect(final.title).toBe('Interrupted: /node update target:pis');
    const text = String(final.description);
    expect(text).toMatch(
      /^The bot restarted \(it was down about \d+ s\) while pi4-a was rebooting after its update \(step \d of 7 of the reboot: [^)]+\)\. The reboot went on after the restart and finished: pi4-a rebooted\. The update was not continued: pi4-b not touched\./,
    );
    expect(text).toContain('Nothing it changed is left changed.');
    expect(text).toContain('To update pi4-b: /node update pi4-b (the playbook is idempotent).');
    const fields = final.fields as { name: string; value: string }[];
    expect(fields[0]!.name).toBe('Nodes');
    expect(fields[0]!.value).toMatch(
      /^pi4-a: updated, then rebooted safely \(it asked for a reboot; the bot restarted during the reboot, down about \d+ s, and finished it\)$/,
    );
    expect(titles.at(-1)).toBe('Interrupted: /node update target:pis');
    expect(titles).not.toContain('pi4-a rebooted');
    expect(all).toContain('› ✔ pi4-a is back and uncordoned');
    expect(all.at(-1)).toMatch(/^› ⚠ interrupted at step 1 \(reboot of pi4-a after its update\)/);
    // pi4-b: no playbook, no reboot.
    expect(all.filter((l) => l.includes('[pi4-b]'))).toEqual([]);
    expect(lab.node('pi4-a').reboots()).toBe(1);
    expect(cordoned('pi4-a')).toBe(false);
    const left = bot.operations();
    expect(left.map((r) => `${r.kind} ${r.status}`)).toEqual(['node.update interrupted']);
  }, 120_000);

  it('killed during update.yml on the next node: where it stood, what was done, what to run', async () => {
    const message = await confirmOnDiscord(discord, {
      user: botLab.alice,
      channelId: botLab.ops,
      name: 'node',
      subcommand: 'update',
      options: [{ name: 'target', value: 'pis' }],
    });
    await discord.waitFor(
      () =>
        bot
          .operations()
          .find(
            (r) =>
              r.kind === 'node.update' && r.data.node === 'pi4-b' && r.data.phase === 'update.yml',
          ),
      60_000,
    );
    await bot.kill();
    await bot.start();
    const final = await discord.waitFor(() => {
      const e = discord.message(message.id)?.embeds[0];
      return e && String(e.title).startsWith('Interrupted: ') ? e : undefined;
    }, 20_000);
    expect(final!.title).toBe('Interrupted: /node update target:pis');
    expect(String(final!.description)).toMatch(
      /^The bot restarted \(it was down about \d+ s\) while \/node update target:pis was running update\.yml on pi4-b; it was not continued\. Nothing it changed is left changed\. The playbook is idempotent: \/node update pi4-b runs it again\.$/,
    );
    expect(final!.fields).toContainEqual(
      expect.objectContaining({ name: 'Nodes', value: 'pi4-a: updated, no reboot needed' }),
    );
    await discord.waitFor(
      () => threadLines(message.id).some((l) => l.line.includes('⚠')) || undefined,
      5000,
    );
    expect(threadLines(message.id).at(-1)?.line).toBe(
      '› ⚠ interrupted at step 2 (update.yml on pi4-b). Nothing it changed is left changed.',
    );
  }, 120_000);
});
