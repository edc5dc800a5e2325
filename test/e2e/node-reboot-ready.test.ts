/**
 * A reboot through the bot against a cluster that behaves like a real one around a reboot
 * (test/helpers/kubelet-sim.ts): while the node is down and for a while after it is back, the
 * API still shows the Ready=True of before the reboot (node-monitor-grace-period). The bot must
 * not uncordon until the node is Ready with its new status.nodeInfo.bootID.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import type { FakeKube } from '../fakes/kube/fake-kube.js';
import { bootIdOf, isReady } from '../fakes/kube/node-status.js';
import { labOverrides, runConfirmed, startApp, testConfig } from '../helpers/app-fixture.js';
import { type KubeLab, startKubeLab } from '../helpers/kube-lab.js';
import type { KubeletSim } from '../helpers/kubelet-sim.js';
import type { LabNodeSpec, SshLab } from '../helpers/ssh-lab.js';

const NODES: LabNodeSpec[] = [
  { name: 'pi4-a', os: 'raspios', roles: ['worker'], k3sName: 'pi4-a', groups: ['k3s', 'pis'] },
];

let kubeLab: KubeLab;
let lab: SshLab;
let kube: FakeKube;
let sim: KubeletSim;
let app: App;

beforeAll(async () => {
  // Down for 0.3 s; the kubelet needs 2 s more; the node controller waits 3 s: the node comes
  // back (as most reboots do) before the stale Ready would turn Unknown.
  kubeLab = await startKubeLab(NODES, {
    rebootDelayMs: 300,
    kubelets: { graceMs: 3000, startDelayMs: 2000 },
    kube: {
      pods: [
        {
          namespace: 'default',
          name: 'web-7d9f-abcde',
          node: 'pi4-a',
          ownerKind: 'ReplicaSet',
          ownerName: 'web-7d9f',
        },
      ],
    },
  });
  ({ lab, kube, kubelets: sim } = kubeLab);
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
  await kubeLab?.stop();
});

describe('a reboot waits for Ready with the new boot id', () => {
  it('does not uncordon on the stale Ready: the uncordon comes after the kubelet posted the new bootID', async () => {
    const node = lab.node('pi4-a');
    const before = node.bootId();
    expect(bootIdOf(kube.node('pi4-a'))).toBe(before);
    // Every write to the node, in the fake's order: [resourceVersion, bootID, Ready, cordoned].
    const writes: [number, string, boolean, boolean][] = [];
    const unsubscribe = kube.store.subscribe((ev) => {
      if (ev.resource !== 'nodes' || ev.object.metadata.name !== 'pi4-a') return;
      const cordoned = (ev.object.spec as { unschedulable?: boolean }).unschedulable === true;
      writes.push([
        Number(ev.object.metadata.resourceVersion),
        bootIdOf(ev.object),
        isReady(ev.object),
        cordoned,
      ]);
    });
    const r = (await runConfirmed(app, '/node reboot pi4-a')).result;
    const reply = r.last();
    expect(reply.title, JSON.stringify(reply)).toBe('pi4-a rebooted');
    expect(r.steps.at(-2)).toBe('pi4-a is Ready with a new boot id (v1.31.4+k3s1)');
    const after = node.bootId();
    expect(after).not.toBe(before);
    expect(node.reboots()).toBe(1);

    // The kubelet posted the new bootID (a bot that did not wait for it is done before that);
    // the node never went Unknown: it was back within the grace period.
    const posted = await kube.waitFor(() =>
      sim.eventsOf('pi4-a').find((e) => e.what === 'posted' && e.bootId === after),
    );
    unsubscribe();
    expect(sim.eventsOf('pi4-a').map((e) => e.what)).toEqual(['posted', 'silent', 'posted']);

    // In the API's requests: the bot was already waiting for Ready (its list of the node) before
    // the new bootID was posted — Ready=True all that time — and uncordoned only after it.
    const requests = kube.requests.map((q, i) => ({ ...q, i }));
    const readyList = requests.find(
      (q) =>
        q.method === 'GET' &&
        q.path === '/api/v1/nodes' &&
        !q.query.watch &&
        q.query.fieldSelector === 'metadata.name=pi4-a',
    );
    const uncordon = requests.find(
      (q) =>
        q.method === 'PATCH' &&
        q.path === '/api/v1/nodes/pi4-a' &&
        (q.body as { spec?: { unschedulable?: boolean } }).spec?.unschedulable === false,
    );
    expect(readyList, kube.dump()).toBeDefined();
    expect(uncordon, kube.dump()).toBeDefined();
    expect(readyList!.i).toBeLessThan(posted.requestIndex);
    expect(uncordon!.i).toBeGreaterThanOrEqual(posted.requestIndex);

    // In the fake's own history: cordoned and Ready with the old bootID (stale) while it
    // rebooted; uncordoned only in a write after the one that brought the new bootID.
    const newBoot = writes.find(([, id]) => id === after);
    const cordonedAt = writes.findIndex(([, , , cordoned]) => cordoned);
    const uncordoned = writes.find(([, , , cordoned], i) => i > cordonedAt && !cordoned);
    expect(newBoot, JSON.stringify(writes)).toBeDefined();
    expect(uncordoned, JSON.stringify(writes)).toBeDefined();
    expect(uncordoned![0]).toBeGreaterThan(newBoot![0]);
    expect(
      writes.filter(([, id, ready, cordoned]) => id === before && ready && cordoned),
    ).not.toEqual([]);
    expect(writes.every(([, , ready]) => ready)).toBe(true);
  }, 60_000);
});
