/**
 * The simulated kubelet + node lifecycle controller (kubelet-sim.ts) against a real sshd lab node
 * and the fake API: what a node's status looks like while its lab node is down, comes back, and
 * reboots — the stale Ready of node-monitor-grace-period included.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { SshPool } from '../../src/infra/ssh.js';
import { FakeKube, type KObject } from '../fakes/kube/fake-kube.js';
import { bootIdOf, isReady } from '../fakes/kube/node-status.js';
import { kubeNodesFor } from './app-fixture.js';
import { type KubeletSim, simulateKubelets } from './kubelet-sim.js';
import { type LabNodeSpec, type SshLab, startSshLab } from './ssh-lab.js';

const NODES: LabNodeSpec[] = [
  { name: 'pi4-a', os: 'raspios', roles: ['worker'], k3sName: 'pi4-a' },
  { name: 'pi1', os: 'raspios', roles: ['support'] },
];
const GRACE = 800;
const START = 200;

let lab: SshLab;
let kube: FakeKube;
let sim: KubeletSim | undefined;

beforeAll(async () => {
  [lab, kube] = await Promise.all([
    startSshLab({ nodes: NODES, rebootDelayMs: 300 }),
    FakeKube.start({ nodes: kubeNodesFor(NODES) }),
  ]);
}, 60_000);

afterEach(async () => {
  sim?.stop();
  sim = undefined;
  await lab.node('pi4-a').start();
});

afterAll(async () => {
  await Promise.all([lab?.stop(), kube?.stop()]);
});

type Condition = {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastHeartbeatTime?: string;
  lastTransitionTime?: string;
};
const conditions = (n: KObject | undefined) =>
  ((n?.status as { conditions?: Condition[] } | undefined)?.conditions ?? []) as Condition[];
const ready = (n: KObject | undefined) => conditions(n).find((c) => c.type === 'Ready');

describe('simulateKubelets', () => {
  it('posts Ready with the lab node’s boot id; a silent node stays Ready for the grace period, then Unknown', async () => {
    const node = lab.node('pi4-a');
    sim = simulateKubelets(lab, kube, { graceMs: GRACE, startDelayMs: START });
    // Linked by k3sName; pi1 has none.
    expect(sim.events.map((e) => [e.node, e.what, e.bootId])).toEqual([
      ['pi4-a', 'posted', node.bootId()],
    ]);
    const posted = kube.node('pi4-a');
    expect(isReady(posted)).toBe(true);
    expect(bootIdOf(posted)).toBe(node.bootId());

    await node.stop();
    const down = Date.now();
    await sleep(GRACE / 2);
    // The stale window: nothing changed, not even the heartbeat.
    expect(ready(kube.node('pi4-a'))).toEqual(ready(posted));
    expect(bootIdOf(kube.node('pi4-a'))).toBe(node.bootId());

    await kube.waitFor(() => ready(kube.node('pi4-a'))?.status === 'Unknown');
    expect(Date.now() - down).toBeGreaterThanOrEqual(GRACE);
    const unknown = kube.node('pi4-a');
    for (const type of ['MemoryPressure', 'DiskPressure', 'PIDPressure', 'Ready']) {
      const c = conditions(unknown).find((x) => x.type === type);
      expect(c, type).toMatchObject({
        status: 'Unknown',
        reason: 'NodeStatusUnknown',
        message: 'Kubelet stopped posting node status.',
        // The last time the controller heard from the kubelet.
        lastHeartbeatTime: conditions(posted).find((x) => x.type === type)?.lastHeartbeatTime,
      });
    }
    expect(bootIdOf(unknown)).toBe(node.bootId()); // only the kubelet writes nodeInfo

    await node.start();
    const up = Date.now();
    await kube.waitFor(() => isReady(kube.node('pi4-a')));
    expect(Date.now() - up).toBeGreaterThanOrEqual(START - 50);
    expect(ready(kube.node('pi4-a'))).toMatchObject({ reason: 'KubeletReady' });
    expect(sim.eventsOf('pi4-a').map((e) => e.what)).toEqual([
      'posted',
      'silent',
      'unknown',
      'posted',
    ]);
  });

  it('after a reboot posts the new bootID, only once sshd is back and the kubelet has started', async () => {
    const node = lab.node('pi4-a');
    const before = node.bootId();
    sim = simulateKubelets(lab, kube, { graceMs: 3000, startDelayMs: START });
    const pool = new SshPool({
      privateKeyFile: lab.privateKeyFile,
      knownHostsFile: lab.knownHostsFile,
      connectTimeoutMs: 3000,
      logger: silentLogger(),
    });
    // Watch the lab node and the API side by side.
    const seen: { at: number; up: boolean; bootId: string; ready: boolean }[] = [];
    let watching = true;
    const watch = (async () => {
      while (watching) {
        const n = kube.node('pi4-a');
        seen.push({ at: Date.now(), up: node.isUp(), bootId: bootIdOf(n), ready: isReady(n) });
        await sleep(10);
      }
    })();
    try {
      await pool.execDetached(node.target, ['systemctl', 'reboot'], { sudo: true });
      await kube.waitFor(() => node.reboots() === 1 && bootIdOf(kube.node('pi4-a')) !== before);
    } finally {
      watching = false;
      await watch;
      await pool.close();
    }
    // The last state, as the wait saw it (the watcher may have stopped just before it).
    const last = kube.node('pi4-a');
    seen.push({ at: Date.now(), up: node.isUp(), bootId: bootIdOf(last), ready: isReady(last) });
    const after = node.bootId();
    expect(after).not.toBe(before);
    expect(bootIdOf(kube.node('pi4-a'))).toBe(after);
    // Ready=True throughout (back within the grace period) — with the old bootID until the
    // kubelet posted, which was never while the lab node was down.
    expect(seen.every((s) => s.ready)).toBe(true);
    const wentDown = seen.findIndex((s) => !s.up);
    const cameBack = seen.findIndex((s, i) => i > wentDown && s.up);
    const newId = seen.findIndex((s) => s.bootId === after);
    expect(wentDown).toBeGreaterThan(0);
    expect(cameBack).toBeGreaterThan(wentDown);
    expect(seen.slice(0, cameBack).every((s) => s.bootId === before)).toBe(true);
    expect(newId).toBeGreaterThan(cameBack);
    expect(seen[newId]!.at - seen[cameBack]!.at).toBeGreaterThanOrEqual(START - 50);
    expect(sim.eventsOf('pi4-a').map((e) => [e.what, e.bootId])).toEqual([
      ['posted', before],
      ['silent', before],
      ['posted', after],
    ]);
  });

  it('stops cleanly: nothing is written after stop()', async () => {
    const node = lab.node('pi4-a');
    const s = simulateKubelets(lab, kube, { graceMs: 100, startDelayMs: 0, pollMs: 10 });
    s.stop();
    const rv = kube.node('pi4-a')?.metadata.resourceVersion;
    await node.stop();
    await sleep(300);
    expect(kube.node('pi4-a')?.metadata.resourceVersion).toBe(rv);
    expect(s.events.map((e) => e.what)).toEqual(['posted']);
  });
});
