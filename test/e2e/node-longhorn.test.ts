/**
 * Issue #16 end to end on the real-sshd lab with the simulated kubelet and longhorn-manager:
 * a reboot that would take a volume's last healthy replica down is refused before any proposal
 * (naming the volume, its PVC and pods, and the node-drain-policy), the dry run says what
 * happens to each volume, a reboot of a node holding a replica waits — as a journaled step
 * after the uncordon — until Longhorn has rebuilt it, with the progress in the thread, and
 * /storage status on the console shows it all.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import type { FakeKube } from '../fakes/kube/fake-kube.js';
import {
  labOverrides,
  runCommand,
  runConfirmed,
  startApp,
  testConfig,
} from '../helpers/app-fixture.js';
import { type KubeLab, startKubeLab } from '../helpers/kube-lab.js';
import type { LabNodeSpec, SshLab } from '../helpers/ssh-lab.js';

const NODES: LabNodeSpec[] = [
  { name: 'x86', os: 'nixos', roles: ['control-plane'], k3sName: 'x86', groups: ['k3s'] },
  { name: 'pi4-a', os: 'raspios', roles: ['worker'], k3sName: 'pi4-a', groups: ['k3s', 'pis'] },
  { name: 'pi4-b', os: 'raspios', roles: ['worker'], k3sName: 'pi4-b', groups: ['k3s', 'pis'] },
];

let kubeLab: KubeLab;
let lab: SshLab;
let kube: FakeKube;
let app: App;
let stateDir: string;

beforeAll(async () => {
  kubeLab = await startKubeLab(NODES, {
    rebootDelayMs: 500,
    kubelets: { graceMs: 3000, startDelayMs: 300 },
    kube: {
      pods: [
        {
          namespace: 'gitea',
          name: 'gitea-0',
          node: 'pi4-b',
          ownerKind: 'StatefulSet',
          ownerName: 'gitea',
        },
      ],
      longhorn: {
        nodes: ['x86', 'pi4-a', 'pi4-b'],
        rebuildMs: 2500,
        volumes: [
          {
            name: 'pvc-gitea',
            sizeGiB: 8,
            replicas: ['pi4-a', 'pi4-b'],
            pvc: {
              namespace: 'gitea',
              name: 'data-gitea-0',
              pods: [{ name: 'gitea-0', workload: 'StatefulSet/gitea' }],
            },
            backups: [{ ageHours: 3 }],
          },
          {
            name: 'pvc-cache',
            sizeGiB: 2,
            replicas: ['pi4-a'],
            pvc: {
              namespace: 'media',
              name: 'cache',
              pods: [{ name: 'jellyfin-0', workload: 'StatefulSet/jellyfin' }],
            },
            backups: [{ ageHours: 50 }],
          },
        ],
      },
    },
  });
  ({ lab, kube } = kubeLab);
  kube.evictionBehaviour = { deleteAfterMs: 50, reschedule: true };
  const config = testConfig({
    ...labOverrides(lab, kube),
    nodeOps: {
      drainTimeoutSeconds: 10,
      rebootTimeoutSeconds: 20,
      readyTimeoutSeconds: 20,
      statusTimeoutSeconds: 3,
    },
    longhorn: { rebuildTimeoutSeconds: 30 },
  });
  stateDir = config.state.dir;
  app = await startApp(config);
}, 60_000);

afterAll(async () => {
  await app?.stop();
  await kubeLab?.stop();
});

const cordoned = (name: string) =>
  (kube.node(name)?.spec as { unschedulable?: boolean } | undefined)?.unschedulable === true;

describe('Longhorn-aware reboots', () => {
  it('refuses to reboot the node with a volume’s last healthy replica, before any proposal, naming volume, PVC, pod and policy', async () => {
    const r = await runCommand(app, '/node reboot pi4-a');
    const reply = r.last();
    expect(reply.confirm).toBeUndefined();
    expect(reply.severity).toBe('error');
    expect(reply.title).toBe(
      'Not rebooting pi4-a: Longhorn volumes would be unavailable or are degraded already.',
    );
    expect(reply.text).toContain(
      'pvc-cache (PVC media/cache, used by media/jellyfin-0 (StatefulSet/jellyfin)): a single-replica volume whose replica is on pi4-a — goes offline until pi4-a is back',
    );
    expect(reply.text).toContain('node-drain-policy: block-if-contains-last-replica');
    expect(reply.text).toContain('/node reboot pi4-a force:true');
    expect(reply.text).not.toContain('pvc-gitea'); // it has a healthy replica on pi4-b too
    expect(cordoned('pi4-a')).toBe(false);
    expect(lab.node('pi4-a').reboots()).toBe(0);
    // The audit line says why it was refused.
    const audit = readFileSync(path.join(stateDir, 'audit.jsonl'), 'utf8').trim().split('\n');
    const line = JSON.parse(audit.at(-1)!);
    expect(line).toMatchObject({ command: 'node reboot', result: 'user-error' });
    expect(line.message).toMatch(/^Not rebooting pi4-a: Longhorn volumes/);
  });

  it('the dry run shows the policy and what happens to each volume with a replica there', async () => {
    const r = await runCommand(app, '/node reboot pi4-a dry_run:true');
    const plan = r.last();
    const warnings = plan.fields?.map((f) => f.value).join('\n') ?? '';
    expect(warnings).toContain(
      'Longhorn node-drain-policy: block-if-contains-last-replica — Longhorn blocks the drain while the node holds the last healthy replica of a volume.',
    );
    expect(warnings).toContain(
      'Longhorn volume pvc-gitea (PVC gitea/data-gitea-0, used by gitea/gitea-0 (StatefulSet/gitea)): degraded (1 of 2 replicas healthy) until its replica on pi4-a is rebuilt',
    );
    expect(warnings).toContain(
      'Longhorn volume pvc-cache (PVC media/cache, used by media/jellyfin-0 (StatefulSet/jellyfin)): a single-replica volume whose replica is on pi4-a — goes offline until pi4-a is back',
    );
    expect(plan.code).toMatch(
      /poll Longhorn's volumes, replicas and engines until pvc-cache, pvc-gitea are healthy again/,
    );
  });

  it('reboots pi4-b and waits until pvc-gitea is rebuilt, progress in the thread, then says done', async () => {
    const { proposal, result } = await runConfirmed(app, '/node reboot pi4-b');
    const warnings = proposal.fields?.map((f) => f.value).join('\n') ?? '';
    expect(warnings).toContain(
      'pvc-gitea (PVC gitea/data-gitea-0, used by gitea/gitea-0 (StatefulSet/gitea)): degraded (1 of 2 replicas healthy) until its replica on pi4-b is rebuilt',
    );
    const reply = result.last();
    expect(reply.title, JSON.stringify(reply)).toBe('pi4-b rebooted');
    const steps = result.steps;
    const at = (re: RegExp) => steps.findIndex((s) => re.test(s));
    expect(at(/^uncordoned pi4-b$/)).toBeGreaterThan(-1);
    expect(at(/^Longhorn: pvc-gitea degraded/)).toBeGreaterThan(at(/^uncordoned pi4-b$/));
    expect(
      steps.some((s) => /^Longhorn: pvc-gitea degraded, rebuilding on pi4-b \d+%$/.test(s)),
    ).toBe(true);
    expect(steps.at(-1)).toBe('Longhorn volumes healthy again: pvc-gitea');
    // Longhorn really had failed the replica and rebuilt it, and the bot was done only after.
    const ev = kube.longhorn!.events.filter((e) => e.volume === 'pvc-gitea');
    expect(ev.map((e) => e.what)).toEqual(
      expect.arrayContaining(['replica-failed', 'rebuild-started', 'rebuilt']),
    );
    const volume = kube.store.get('lh-volumes', 'longhorn-system', 'pvc-gitea') as unknown as {
      status: { robustness: string };
    };
    expect(volume.status.robustness).toBe('healthy');
    expect(cordoned('pi4-b')).toBe(false);
    expect(lab.node('pi4-b').reboots()).toBe(1);
    expect(kube.longhorn!.schemaProblems).toEqual([]);
  }, 60_000);

  it('/storage status and /storage volume on the console', async () => {
    const status = (await runCommand(app, '/storage status')).last();
    expect(status.title).toBe('Longhorn: 2 volumes — 2 healthy');
    expect(status.code).toMatch(
      /pvc-cache\s+attached\s+healthy\s+2 GiB\s+1\/1: pi4-a ok\s+2 d ago \(STALE\)/,
    );
    expect(status.code).toMatch(
      /pvc-gitea\s+attached\s+healthy\s+8 GiB\s+2\/2: pi4-a ok, pi4-b ok\s+3 h ago/,
    );
    expect(status.code).toMatch(/pi4-b\s+Ready\s+10 GiB \/ 58 GiB used \(17%\)/);
    expect(status.text).toContain('1 volume has no backup in the last 26 h');
    const one = (await runCommand(app, '/storage volume pvc-gitea')).last();
    expect(one.title).toBe('pvc-gitea: healthy, attached');
    expect(one.fields?.find((f) => f.name.startsWith('Replicas'))?.name).toBe(
      'Replicas (2 of 2 healthy)',
    );
    const typo = (await runCommand(app, '/storage volume pvc-gitae')).last();
    expect(typo.title).toBe('Longhorn has no volume "pvc-gitae".');
    expect(typo.text).toBe('Did you mean pvc-gitea?');
  });

  it('force:true reboots it anyway; the single-replica volume comes back with its node', async () => {
    const { result } = await runConfirmed(app, '/node reboot pi4-a force:true');
    expect(result.last().title, JSON.stringify(result.last())).toBe('pi4-a rebooted');
    const audit = readFileSync(path.join(stateDir, 'audit.jsonl'), 'utf8').trim().split('\n');
    expect(JSON.parse(audit.at(-1)!)).toMatchObject({
      command: 'node reboot',
      args: { node: 'pi4-a', force: true },
      decision: 'confirmed',
      result: 'ok',
      // The audit line keeps what force:true overrode.
      overridden: [
        expect.stringMatching(
          /^pi4-a: pvc-cache \(PVC media\/cache, used by media\/jellyfin-0 .*goes offline until pi4-a is back/,
        ),
      ],
    });
    expect(
      kube.longhorn!.events.some((e) => e.volume === 'pvc-cache' && e.detail === 'faulted'),
    ).toBe(true);
  }, 60_000);
});
