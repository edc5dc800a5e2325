/**
 * Every /node command from the console, as a lab owner types them into `npm start`: the real
 * CLI (dist/src/main.js) with a config file pointing at real sshd nodes (test/helpers/ssh-lab.ts),
 * the fake Kubernetes API and the real ansible-playbook; confirmations answered with `y` on
 * the next line. What is asserted is what the terminal shows and what the nodes and the
 * cluster received.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeKube } from '../fakes/kube/fake-kube.js';
import { kubeNodesFor, labOverrides } from '../helpers/app-fixture.js';
import { runCli, tempStateDir } from '../helpers/cli.js';
import { type LabNodeSpec, type SshLab, startSshLab } from '../helpers/ssh-lab.js';

const NODES: LabNodeSpec[] = [
  { name: 'x86', os: 'nixos', roles: ['control-plane'], k3sName: 'x86', groups: ['k3s'] },
  {
    name: 'pi4-a',
    os: 'raspios',
    roles: ['worker'],
    k3sName: 'pi4-a',
    groups: ['k3s', 'pis'],
  },
];

let lab: SshLab;
let kube: FakeKube;
let configFile: string;

beforeAll(async () => {
  [lab, kube] = await Promise.all([
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
  configFile = path.join(mkdtempSync(path.join(tmpdir(), 'chatops-node-console-')), 'config.yaml');
  // JSON is YAML: the loader reads it like any config file.
  writeFileSync(
    configFile,
    JSON.stringify({
      log: { level: 'warn' }, // stderr: warnings and errors only
      http: { enabled: false },
      chat: { console: { enabled: true } },
      ...labOverrides(lab, kube),
      nodeOps: {
        drainTimeoutSeconds: 10,
        rebootTimeoutSeconds: 20,
        readyTimeoutSeconds: 20,
        ansible: { skipTags: ['packages', 'apt'] },
      },
    }),
  );
}, 60_000);

afterAll(async () => {
  await Promise.all([lab?.stop(), kube?.stop()]);
});

const console$ = (lines: string[]) =>
  runCli(`${lines.join('\n')}\n`, {
    args: ['--config', configFile],
    env: { CHATOPS_STATE_DIR: tempStateDir(), ANSIBLE_BECOME_ALLOW_SAME_USER: 'true' },
  });

const cordoned = (name: string) =>
  (kube.node(name)?.spec as { unschedulable?: boolean } | undefined)?.unschedulable ?? false;

describe('/node from the console (the real CLI)', () => {
  it('list, status, logs, cordon, uncordon: what the terminal shows', async () => {
    const r = await console$([
      '/node list',
      '/node status',
      '/node logs pi4-a k3s-agent lines:2',
      '/node cordon pi4-a',
      '/node uncordon pi4-a',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /pi4-a\s+127\.0\.0\.\d+:\d+\s+raspios\s+worker\s+Ready v1\.31\.4\+k3s1/,
    );
    expect(r.stdout).toMatch(/pi4-a\s+up\s+.*48\.3°C\s+Ready v1\.31\.4\+k3s1 1 pods/);
    expect(r.stdout).toContain('canned log line 2 of k3s-agent');
    expect(r.stdout).toContain('pi4-a cordoned: no new pods');
    expect(r.stdout).toContain('pi4-a uncordoned: new pods may be scheduled');
    expect(cordoned('pi4-a')).toBe(false);
    expect(
      kube.requests.filter((q) => q.method === 'PATCH' && q.path === '/api/v1/nodes/pi4-a'),
    ).toHaveLength(2);
  }, 60_000);

  it('drain, reboot, provision and update, each confirmed with y', async () => {
    const pi = lab.node('pi4-a');
    const rebootsBefore = pi.reboots();
    const r = await console$([
      '/node drain pi4-a',
      'y',
      '/node uncordon pi4-a',
      '/node reboot pi4-a',
      'y',
      '/node provision x86 check:true',
      'y',
      '/node update pi4-a',
      'y',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = r.stdout;
    expect(out).toContain('⚠ Confirm: /node drain pi4-a');
    expect(out).toContain('› evicted default/web-1');
    expect(out).toContain('pi4-a drained');
    expect(out).toContain('⚠ Confirm: /node reboot pi4-a');
    expect(out).toContain('› sent systemctl reboot to');
    expect(out).toContain('› pi4-a answers SSH again (pinned host key, new boot id)');
    expect(out).toContain('✔ pi4-a rebooted');
    expect(out).toContain('› building the system configuration...');
    expect(out).toContain('nixos-rebuild dry-activate on x86 done');
    expect(out).toContain(
      '› ok: [pi4-a] Report whether a reboot is required — REBOOT_REQUIRED=false',
    );
    expect(out).toContain('Updated 1 node');
    expect(out).toContain('pi4-a: updated, no reboot needed');
    expect(pi.reboots()).toBe(rebootsBefore + 1);
    expect(pi.calls('systemctl').filter((c) => c.argv[1] === 'reboot')).toHaveLength(1);
    expect(lab.node('x86').calls('nixos-rebuild').at(-1)?.argv).toEqual([
      'nixos-rebuild',
      'dry-activate',
      '--flake',
      '/etc/nixos#x86',
    ]);
    expect(cordoned('pi4-a')).toBe(false);
  }, 180_000);
});
