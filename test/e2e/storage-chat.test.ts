/**
 * /storage from the fake Discord through the real discord.js (issue #16): the status of every
 * Longhorn volume with a degraded one rebuilding, autocomplete on volume names, and one volume.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { FakeDiscord, snowflake } from '../fakes/discord/fake-discord.js';
import { FakeKube } from '../fakes/kube/fake-kube.js';
import { discordChat, startApp, testConfig } from '../helpers/app-fixture.js';

const OPS = snowflake();
const ALICE = snowflake();

let discord: FakeDiscord;
let kube: FakeKube;
let app: App;

beforeAll(async () => {
  [discord, kube] = await Promise.all([
    FakeDiscord.start({
      channels: [{ id: OPS, name: 'ops' }],
      users: [{ id: ALICE, username: 'alice' }],
    }),
    FakeKube.start({
      nodes: [{ name: 'x86' }, { name: 'pi4-a' }, { name: 'pi4-b' }],
      longhorn: {
        nodes: ['x86', 'pi4-a', 'pi4-b'],
        drainPolicy: 'block-for-eviction-if-contains-last-replica',
        rebuildMs: 60_000,
        disks: { 'pi4-a': { maxGiB: 100, usedGiB: 40 } },
        volumes: [
          {
            name: 'pvc-gitea',
            sizeGiB: 8,
            replicas: ['pi4-a', 'pi4-b'],
            backups: [{ ageHours: 1 }],
          },
          { name: 'pvc-grafana', sizeGiB: 1, replicas: ['x86', 'pi4-b'] },
        ],
      },
    }),
  ]);
  app = await startApp(
    testConfig({
      chat: { discord: discordChat(discord) },
      access: { roles: { ops: { members: [`discord:${ALICE}`], allow: ['storage.*'] } } },
      kube: { kubeconfig: kube.kubeconfigFile },
    }),
  );
}, 60_000);

afterAll(async () => {
  await app?.stop();
  await Promise.all([discord?.stop(), kube?.stop()]);
});

describe('/storage on Discord', () => {
  it('/storage status: robustness, replicas per node with rebuild progress, backups, disks, the policy', async () => {
    // pi4-b went down and came back: both volumes rebuild their replica there (slowly).
    kube.setNodeReady('pi4-b', false);
    await kube.waitFor(
      () => kube.longhorn!.events.filter((e) => e.what === 'replica-failed').length === 2,
    );
    kube.setNodeReady('pi4-b', true);
    await kube.waitFor(
      () => kube.longhorn!.events.filter((e) => e.what === 'rebuild-progress').length >= 2,
    );
    const i = await discord.slashCommand({
      user: ALICE,
      channelId: OPS,
      name: 'storage',
      subcommand: 'status',
    });
    const view = await discord.waitFor(() => {
      const v = discord.interactionResponse(i);
      return /^Longhorn: 2 volumes/.test(String(v.embeds[0]?.title ?? '')) ? v : undefined;
    }, 15_000);
    const embed = view!.embeds[0]!;
    expect(embed.title).toBe('Longhorn: 2 volumes — 2 degraded');
    const body = String(embed.description);
    expect(body).toMatch(
      /pvc-gitea\s+attached\s+degraded\s+8 GiB\s+1\/2: pi4-a ok, pi4-b rebuilding \d+%\s+1 h ago/,
    );
    expect(body).toMatch(
      /pvc-grafana\s+attached\s+degraded\s+1 GiB\s+1\/2: pi4-b rebuilding \d+%, x86 ok\s+none/,
    );
    expect(body).toMatch(/pi4-a\s+Ready\s+40 GiB \/ 100 GiB used \(40%\)/);
    expect(body).toContain('node-drain-policy: block-for-eviction-if-contains-last-replica');
    expect(body).toContain('1 volume has no backup in the last 26 h');
  }, 30_000);

  it('autocompletes volume names and shows one volume', async () => {
    const choices = await discord.autocomplete({
      user: ALICE,
      channelId: OPS,
      name: 'storage',
      subcommand: 'volume',
      focused: { name: 'name', value: 'pvc-gr' },
    });
    expect(choices).toEqual([{ name: 'pvc-grafana', value: 'pvc-grafana' }]);
    const i = await discord.slashCommand({
      user: ALICE,
      channelId: OPS,
      name: 'storage',
      subcommand: 'volume',
      options: [{ name: 'name', value: 'pvc-gitea' }],
    });
    const view = await discord.waitFor(() => {
      const v = discord.interactionResponse(i);
      return /^pvc-gitea/.test(String(v.embeds[0]?.title ?? '')) ? v : undefined;
    }, 15_000);
    const embed = view!.embeds[0]!;
    expect(embed.title).toBe('pvc-gitea: degraded, attached');
    const fields = (embed.fields ?? []) as { name: string; value: string }[];
    expect(fields.find((f) => f.name === 'Replicas (1 of 2 healthy)')?.value).toMatch(
      /^pi4-a ok \(pvc-gitea-r-\w+\)\npi4-b rebuilding \d+% \(pvc-gitea-r-\w+\)$/,
    );
  }, 30_000);
});
