/**
 * Issue #16: a rolling /node update of two Pis with the real update.yml (apt skipped with
 * skipTags) that both ask for a reboot, on the ssh lab with the simulated kubelet and
 * longhorn-manager: a volume with a replica on each Pi is degraded by the first reboot, and
 * the second Pi is not taken down before Longhorn has rebuilt the first one's replica.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import type { FakeKube } from '../fakes/kube/fake-kube.js';
import { labOverrides, runConfirmed, startApp, testConfig } from '../helpers/app-fixture.js';
import { type KubeLab, startKubeLab } from '../helpers/kube-lab.js';
import { giteaOnBothPis } from '../helpers/longhorn-sim.js';
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
const becomeBefore = process.env.ANSIBLE_BECOME_ALLOW_SAME_USER;

beforeAll(async () => {
  process.env.ANSIBLE_BECOME_ALLOW_SAME_USER = 'true';
  kubeLab = await startKubeLab(NODES, {
    rebootDelayMs: 500,
    kubelets: { graceMs: 3000, startDelayMs: 300 },
    kube: { longhorn: giteaOnBothPis(2500) },
  });
  ({ lab, kube } = kubeLab);
  app = await startApp(
    testConfig({
      ...labOverrides(lab, kube),
      nodeOps: {
        drainTimeoutSeconds: 10,
        rebootTimeoutSeconds: 20,
        readyTimeoutSeconds: 20,
        ansible: { skipTags: ['packages', 'apt'] },
      },
      longhorn: { rebuildTimeoutSeconds: 30 },
    }),
  );
}, 60_000);

afterAll(async () => {
  await app?.stop();
  await kubeLab?.stop();
  if (becomeBefore === undefined) delete process.env.ANSIBLE_BECOME_ALLOW_SAME_USER;
  else process.env.ANSIBLE_BECOME_ALLOW_SAME_USER = becomeBefore;
});

describe('a rolling update with Longhorn', () => {
  it('updates and reboots pi4-a, waits until its replica is rebuilt, then pi4-b', async () => {
    for (const name of ['pi4-a', 'pi4-b']) {
      const file = path.join(lab.node(name).dir, 'run', 'reboot-required');
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, '*** System restart required ***\n');
    }
    const { proposal, result } = await runConfirmed(app, '/node update pis');
    expect(proposal.code).toContain(
      'before each node after the first: wait until no Longhorn volume is degraded',
    );
    const warnings = proposal.fields?.map((f) => f.value).join('\n') ?? '';
    expect(warnings).toContain(
      'Longhorn volume pvc-gitea (PVC gitea/data-gitea-0, used by gitea/gitea-0 (StatefulSet/gitea)): degraded (1 of 2 replicas healthy) until its replica on pi4-a is rebuilt',
    );
    expect(warnings).toContain('until its replica on pi4-b is rebuilt');
    const reply = result.last();
    expect(reply.title, JSON.stringify(reply)).toBe('Updated 2 nodes');
    expect(reply.text).toBe(
      'pi4-a: updated, then rebooted safely (it asked for a reboot)\npi4-b: updated, then rebooted safely (it asked for a reboot)',
    );
    expect(lab.node('pi4-a').reboots()).toBe(1);
    expect(lab.node('pi4-b').reboots()).toBe(1);
    // Longhorn's own record: pi4-a's replica failed and was rebuilt before pi4-b's failed.
    const ev = kube.longhorn!.events.filter(
      (e) => e.volume === 'pvc-gitea' && e.what !== 'rebuild-progress',
    );
    expect(ev.map((e) => `${e.what} ${e.node ?? e.detail}`)).toEqual([
      'robustness healthy', // the controller's first pass
      'replica-failed pi4-a',
      'robustness degraded',
      'rebuild-started pi4-a',
      'rebuilt pi4-a',
      'robustness healthy',
      'replica-failed pi4-b',
      'robustness degraded',
      'rebuild-started pi4-b',
      'rebuilt pi4-b',
      'robustness healthy',
    ]);
    const steps = result.steps;
    expect(steps.filter((s) => s === 'Longhorn volumes healthy again: pvc-gitea')).toHaveLength(2);
    expect(kube.longhorn!.schemaProblems).toEqual([]);
  }, 120_000);
});
