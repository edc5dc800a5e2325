import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { FakeKube } from '../fakes/kube/fake-kube.js';
import {
  kubeNodesFor,
  labOverrides,
  runCommand,
  runConfirmed,
  startApp,
  testConfig,
} from '../helpers/app-fixture.js';
import type { RecordingResponder } from '../helpers/dispatcher.js';
import { type LabNodeSpec, type SshLab, startSshLab } from '../helpers/ssh-lab.js';

const NODES: LabNodeSpec[] = [
  { name: 'x86', os: 'nixos', roles: ['control-plane'], k3sName: 'x86', groups: ['k3s'] },
  {
    name: 'pi5',
    os: 'raspios',
    roles: ['worker', 'bot-host'],
    k3sName: 'pi5',
    groups: ['k3s', 'pis'],
  },
  {
    name: 'pi4-a',
    os: 'raspios',
    roles: ['worker'],
    k3sName: 'pi4-a',
    groups: ['k3s', 'pis'],
  },
  { name: 'pi1', os: 'raspios', roles: ['support'], groups: ['pis'] },
];

let lab: SshLab;
let kube: FakeKube;
let app: App;

beforeAll(async () => {
  [lab, kube] = await Promise.all([
    startSshLab({
      rebootDelayMs: 1500,
      nodes: NODES,
    }),
    FakeKube.start({
      nodes: kubeNodesFor(NODES),
      pods: [
        {
          namespace: 'home-assistant',
          name: 'home-assistant-0',
          node: 'pi4-a',
          ownerKind: 'StatefulSet',
          ownerName: 'home-assistant',
        },
        {
          namespace: 'default',
          name: 'web-7d9f-abcde',
          node: 'pi4-a',
          ownerKind: 'ReplicaSet',
          ownerName: 'web-7d9f',
        },
        {
          namespace: 'kube-system',
          name: 'svclb-traefik-pi4a',
          node: 'pi4-a',
          ownerKind: 'DaemonSet',
          ownerName: 'svclb-traefik',
        },
      ],
    }),
  ]);
  kube.evictionBehaviour = { deleteAfterMs: 50, reschedule: true };
  app = await startApp(
    testConfig({
      ...labOverrides(lab, kube),
      nodeOps: {
        drainTimeoutSeconds: 10,
        rebootTimeoutSeconds: 20,
        readyTimeoutSeconds: 20,
        statusTimeoutSeconds: 3,
      },
    }),
  );
}, 60_000);

afterAll(async () => {
  await app?.stop();
  await Promise.all([lab?.stop(), kube?.stop()]);
});

const cordoned = (name: string) =>
  (kube.node(name)?.spec as { unschedulable?: boolean } | undefined)?.unschedulable;

async function run(text: string, confirm = false): Promise<RecordingResponder> {
  return confirm ? (await runConfirmed(app, text)).result : runCommand(app, text);
}

describe('node operations against real sshd nodes and a fake Kubernetes API', () => {
  it('reports every node in parallel; a node that is down does not hold up the others', async () => {
    await lab.node('pi1').stop();
    const started = Date.now();
    const r = await run('/node status');
    const reply = r.last();
    expect(reply.title).toBe('1 of 4 nodes unreachable');
    expect(reply.code).toMatch(/pi4-a\s+up\s+\S+.*\s48\.3°C\s+Ready v1\.31\.4\+k3s1 3 pods/);
    expect(reply.code).toMatch(/pi1\s+DOWN/);
    expect(reply.fields?.[0]?.name).toBe('pi1');
    expect(Date.now() - started).toBeLessThan(10_000);
    await lab.node('pi1').start();
  }, 20_000);

  it('tells a Pi running on a weak power supply, and what to check', async () => {
    lab.node('pi1').setScript(
      'vcgencmd',
      `case "$1" in
  measure_temp) echo "temp=71.2'C" ;;
  get_throttled) echo "throttled=0x50005" ;;
esac`,
    );
    const reply = (await run('/node status pi1')).last();
    expect(reply.severity).toBe('warning');
    expect(reply.title).toBe('1 node up; pi1: a power or heat problem now');
    expect(reply.code).toMatch(/pi1\s+up\s+.*71\.2°C/);
    expect(reply.fields).toEqual([
      {
        name: 'pi1: power and heat',
        value: expect.stringMatching(
          /^now: under-voltage, throttled; since boot: under-voltage, throttled \(vcgencmd get_throttled\) — check the power supply/,
        ),
      },
    ]);
    expect(
      lab
        .node('pi1')
        .calls('vcgencmd')
        .map((c) => c.argv[1])
        .sort(),
    ).toEqual(['get_throttled', 'measure_temp']);
  });

  it('reboots a worker safely: cordon, drain, reboot, wait, Ready, uncordon — step by step', async () => {
    const node = lab.node('pi4-a');
    node.clearCalls();
    const r = await run('/node reboot pi4-a', true);
    const reply = r.last();
    expect(reply.title, JSON.stringify(reply)).toBe('pi4-a rebooted');
    expect(r.steps).toEqual([
      'cordoned pi4-a',
      expect.stringMatching(/^evicted (home-assistant\/home-assistant-0|default\/web-7d9f-abcde)$/),
      expect.stringMatching(/^evicted (home-assistant\/home-assistant-0|default\/web-7d9f-abcde)$/),
      'drained pi4-a: 2 pods evicted, 1 pod stays (DaemonSet, mirror or finished)',
      `sent systemctl reboot to ${node.user}@${node.host}`,
      'pi4-a went down',
      'pi4-a answers SSH again (pinned host key, new boot id)',
      expect.stringMatching(/^pi4-a is Ready/),
      'uncordoned pi4-a',
    ]);
    expect(r.progressed.map((p) => p.progress?.label)).toContain('wait for SSH to come back');
    // What the node received, and what the cluster saw.
    expect(node.calls('systemctl').map((c) => [c.argv, c.sudo])).toEqual([
      [['systemctl', 'reboot'], true],
    ]);
    expect(node.reboots()).toBe(1);
    expect(
      kube.evictions
        .filter((e) => e.node === 'pi4-a')
        .map((e) => e.name)
        .sort(),
    ).toEqual(['home-assistant-0', 'web-7d9f-abcde']);
    expect(cordoned('pi4-a') ?? false).toBe(false);
  }, 60_000);

  it('notices a node that answers again without having rebooted (same boot id)', async () => {
    const node = lab.node('pi4-a');
    // sshd goes down and comes back, but the kernel's boot id says it never rebooted.
    const stuck = node.bootId();
    node.setScript(
      'cat',
      `if [ "$1" = /proc/sys/kernel/random/boot_id ]; then echo ${stuck}; exit 0; fi\nexec /bin/cat "$@"`,
    );
    try {
      const r = await run('/node reboot pi4-a', true);
      const reply = r.last();
      expect(reply.severity).toBe('error');
      expect(reply.title).toBe('Reboot of pi4-a stopped at step 5 of 7: wait for SSH to come back');
      expect(reply.text).toContain(
        `pi4-a answers SSH again but did not reboot: its boot id is still ${stuck.slice(0, 8)}….`,
      );
      expect(reply.fields?.[0]?.value).toBe(
        'pi4-a is up, not rebooted and still cordoned. Try /node reboot pi4-a again, or /node uncordon pi4-a to give up.',
      );
      expect(cordoned('pi4-a')).toBe(true);
    } finally {
      node.setScript(
        'cat',
        `if [ $# -eq 1 ] && [ "$1" = /proc/sys/kernel/random/boot_id ]; then exec /bin/cat "$LAB_NODE_DIR/boot_id"; fi\nexec /bin/cat "$@"`,
      );
      await run('/node uncordon pi4-a');
    }
    expect(cordoned('pi4-a') ?? false).toBe(false);
  }, 60_000);

  it('reports a node that never comes back: stopped, still cordoned, what to do next', async () => {
    const node = lab.node('pi4-a');
    node.rebootDelayMs = 120_000; // "power supply died"
    const r = await run('/node reboot pi4-a', true);
    const reply = r.last();
    expect(reply.severity).toBe('error');
    expect(reply.title).toBe('Reboot of pi4-a stopped at step 5 of 7: wait for SSH to come back');
    expect(reply.fields?.[0]?.value).toBe(
      'pi4-a has not come back and is still cordoned. Check its console/power; once it is back and Ready, run /node uncordon pi4-a.',
    );
    expect(cordoned('pi4-a')).toBe(true);
    node.rebootDelayMs = 1500;
    await node.start();
    const un = await run('/node uncordon pi4-a');
    expect(un.last().severity).toBe('success');
  }, 30_000);

  it('refuses the bot host and the only control plane without force:true, and says why', async () => {
    const r = await run('/node reboot pi5');
    expect(r.last().title).toBe('Not rebooting pi5 without force:true.');
    expect(r.last().text).toContain('pi5 runs this bot');
    const x = await run('/node reboot x86');
    expect(x.last().text).toContain('only control-plane node');
    expect(lab.node('pi5').calls('systemctl')).toEqual([]);
  });

  it('stops a drain blocked by a PodDisruptionBudget and says the node stays cordoned', async () => {
    const rebootsBefore = lab.node('pi4-a').calls('systemctl').length;
    kube.addPod({
      namespace: 'zigbee',
      name: 'zigbee2mqtt-0',
      node: 'pi4-a',
      ownerKind: 'StatefulSet',
      ownerName: 'zigbee2mqtt',
    });
    kube.setPdb({ namespace: 'zigbee', blockTimes: 'always' });
    const r = await run('/node reboot pi4-a', true);
    const reply = r.last();
    expect(reply.severity).toBe('error');
    expect(reply.title).toBe('Reboot of pi4-a stopped at step 2 of 7: drain pi4-a');
    expect(reply.fields?.[0]?.value).toContain('pi4-a is cordoned and partly drained');
    expect(
      r.steps.some((s) => /zigbee\/zigbee2mqtt-0 blocked by a PodDisruptionBudget/.test(s)),
    ).toBe(true);
    // Never got as far as rebooting.
    expect(lab.node('pi4-a').calls('systemctl')).toHaveLength(rebootsBefore);
    expect(cordoned('pi4-a')).toBe(true);
    kube.clearPdbs();
    const un = await run('/node uncordon pi4-a');
    expect(un.last().title).toBe('pi4-a uncordoned: new pods may be scheduled');
    expect(cordoned('pi4-a') ?? false).toBe(false);
  }, 30_000);

  it('will not delete a bare pod for good unless evict_unmanaged:true: refused, nothing touched', async () => {
    const node = lab.node('pi4-a');
    node.clearCalls();
    kube.addPod({
      namespace: 'default',
      name: 'debug-shell',
      node: 'pi4-a',
      emptyDirs: [{ name: 'scratch', medium: 'Memory' }],
    });
    const evictionsBefore = kube.evictions.length;
    // Refused before the proposal: nobody confirms a reboot that would then be refused.
    const r = await run('/node reboot pi4-a');
    const reply = r.last();
    expect(reply.severity).toBe('error');
    expect(reply.confirm).toBeUndefined();
    expect(reply.title).toBe(
      'Not draining pi4-a: 1 pod has no controller that would recreate it elsewhere, so evicting would delete it for good: default/debug-shell. Nothing was changed: pi4-a was not cordoned, no pod was evicted.',
    );
    expect(reply.text).toBe(
      'Delete or move it yourself (e.g. under a Deployment), then try again — or run it again with evict_unmanaged:true to evict it too: it will be gone for good.',
    );
    expect(cordoned('pi4-a') ?? false).toBe(false);
    expect(kube.evictions).toHaveLength(evictionsBefore);
    expect(node.calls('systemctl')).toEqual([]);

    // With the option: the proposal says what goes for good, and the reboot goes through.
    const again = await run('/node reboot pi4-a evict_unmanaged:true', true);
    expect(again.sent[0]?.reply.fields?.[0]?.value).toContain(
      'evict_unmanaged:true: pods on pi4-a that no controller manages (bare pods) are evicted too and deleted for good',
    );
    expect(again.last().title, JSON.stringify(again.last())).toBe('pi4-a rebooted');
    expect(again.steps).toContain(
      'evicted default/debug-shell (no controller: gone for good; emptyDir data dropped: scratch)',
    );
    expect(again.steps).toContainEqual(
      expect.stringMatching(
        /^drained pi4-a: \d+ pods evicted \(1 with emptyDir data dropped, 1 without a controller: gone for good\), 1 pod stays/,
      ),
    );
    expect(node.calls('systemctl').map((c) => c.argv)).toEqual([['systemctl', 'reboot']]);
    expect(kube.pods().map((p) => p.metadata.name)).not.toContain('debug-shell');
    expect(cordoned('pi4-a') ?? false).toBe(false);
  }, 60_000);

  it('shows a unit journal; refuses unit names that are not unit names', async () => {
    const r = await run('/node logs pi4-a k3s-agent lines:5');
    expect(r.last().title).toBe('k3s-agent on pi4-a (last 5 lines)');
    expect(lab.node('pi4-a').calls('journalctl').at(-1)?.argv).toEqual([
      'journalctl',
      '-u',
      'k3s-agent',
      '-n',
      '5',
      '--no-pager',
      '-o',
      'short-iso',
    ]);
    const bad = await run('/node logs pi4-a "k3s; rm -rf /"');
    expect(bad.last().title).toMatch(/^Option unit: a systemd unit name/);
  });

  it('provisions the NixOS server with nixos-rebuild, streaming its output', async () => {
    const r = await run('/node provision x86 check:true', true);
    expect(r.last().severity, JSON.stringify(r.last())).toBe('success');
    expect(lab.node('x86').calls('nixos-rebuild').at(-1)?.argv).toEqual([
      'nixos-rebuild',
      'dry-activate',
      '--flake',
      '/etc/nixos#x86',
    ]);
    expect(r.steps.length).toBeGreaterThan(0);
  });

  it('refuses a node whose host key changed, loudly, and runs nothing there', async () => {
    const node = lab.node('pi1');
    await node.rotateHostKey();
    node.clearCalls();
    const r = await run('/node logs pi1 pihole-FTL');
    expect(JSON.stringify(r.last())).toMatch(/HOST KEY MISMATCH/);
    expect(node.calls()).toEqual([]);
  });
});
