/**
 * Kube.waitReady after a reboot (`notBootId`): a Ready=True the node controller keeps from
 * before the reboot (node-monitor-grace-period) must not end the wait — only Ready with a new
 * status.nodeInfo.bootID does; without boot ids to compare, "NotReady seen, then Ready".
 * Real @kubernetes/client-node against the fake API; the kubelet's and the node controller's
 * writes as in test/fakes/kube/node-status.ts.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { UserError } from '../../src/core/errors.js';
import { Kube } from '../../src/infra/kube.js';
import type { NodeInfo } from '../../src/infra/kube-objects.js';
import { FakeKube, type FakeKubeOptions } from '../fakes/kube/fake-kube.js';
import { markNodeStatusUnknown, postKubeletStatus } from '../fakes/kube/node-status.js';
import { rejection } from '../helpers/rejection.js';

const OLD = randomUUID();
const NEW = randomUUID();

let fake: FakeKube | undefined;
afterEach(async () => {
  await fake?.stop();
  fake = undefined;
});

async function start(bootId: string | null = OLD) {
  const opts: FakeKubeOptions = {
    nodes: [
      { name: 'pi4-a', roles: ['worker'], bootId },
      { name: 'pi4-b', roles: ['worker'] },
    ],
  };
  fake = await FakeKube.start(opts);
  return { fake, kube: Kube.load({ kubeconfig: fake.kubeconfigFile }) };
}

/** Whether a waitReady listed the node (its first request). */
const listed = (fake: FakeKube, node: string) =>
  fake.requests.some(
    (r) => r.path === '/api/v1/nodes' && r.query.fieldSelector === `metadata.name=${node}`,
  );

/** The promise's outcome so far, without waiting for it. */
function track<T>(p: Promise<T>) {
  const state: { settled: boolean; value?: T } = { settled: false };
  p.then(
    (v) => Object.assign(state, { settled: true, value: v }),
    () => Object.assign(state, { settled: true }),
  );
  return state;
}

describe('Kube.waitReady after a reboot (notBootId)', () => {
  it('keeps waiting on a stale Ready with the old bootID, resolves when the new bootID arrives', async () => {
    const { fake, kube } = await start();
    const seen: NodeInfo[] = [];
    const wait = kube.waitReady('pi4-a', {
      timeoutMs: 5000,
      notBootId: OLD,
      onChange: (n) => seen.push(n),
    });
    const state = track(wait);
    await fake.waitFor(() => listed(fake, 'pi4-a'));
    await sleep(300);
    // Ready=True all along — but it is the status from before the reboot.
    expect(state.settled).toBe(false);
    expect(fake.openWatches).toHaveLength(1);
    expect(seen.map((n) => [n.ready, n.bootId])).toEqual([[true, OLD]]);
    postKubeletStatus(fake.store, 'pi4-a', NEW);
    const node = await wait;
    expect(node).toMatchObject({ name: 'pi4-a', ready: true, bootId: NEW });
    expect(seen.map((n) => [n.ready, n.bootId])).toEqual([
      [true, OLD],
      [true, NEW],
    ]);
  });

  it('goes on through Unknown (a reboot longer than the grace period) to Ready with the new bootID', async () => {
    const { fake, kube } = await start();
    const seen: NodeInfo[] = [];
    const wait = kube.waitReady('pi4-a', {
      timeoutMs: 5000,
      notBootId: OLD,
      onChange: (n) => seen.push(n),
    });
    const state = track(wait);
    await fake.waitFor(() => listed(fake, 'pi4-a'));
    await sleep(100);
    expect(state.settled).toBe(false);
    markNodeStatusUnknown(fake.store, 'pi4-a');
    await fake.waitFor(() => seen.length === 2);
    postKubeletStatus(fake.store, 'pi4-a', NEW);
    expect((await wait).bootId).toBe(NEW);
    expect(seen.map((n) => n.conditions.find((c) => c.type === 'Ready')?.status)).toEqual([
      'True',
      'Unknown',
      'True',
    ]);
  });

  it('returns at once when the node is already Ready with a new bootID', async () => {
    const { fake, kube } = await start(NEW);
    expect((await kube.waitReady('pi4-a', { timeoutMs: 1000, notBootId: OLD })).bootId).toBe(NEW);
    expect(fake.watchesOpened).toBe(0);
  });

  it('times out on a stale Ready and says that it is the Ready of before the reboot', async () => {
    const { kube } = await start();
    const err = await rejection(kube.waitReady('pi4-a', { timeoutMs: 300, notBootId: OLD }));
    expect(err.message).toBe('pi4-a did not become Ready with a new boot id within 300 ms.');
    expect((err as UserError).hint).toBe(
      `Last known conditions: MemoryPressure=False, DiskPressure=False, PIDPressure=False, Ready=True (KubeletReady: kubelet is posting ready status) — that Ready is from before the reboot (boot id still ${OLD.slice(0, 8)}…).`,
    );
  });

  it('without a bootID to compare: a Ready counts only after NotReady was seen', async () => {
    // The node reports no bootID …
    const { fake, kube } = await start(null);
    const wait = kube.waitReady('pi4-a', { timeoutMs: 5000, notBootId: OLD });
    const state = track(wait);
    // … and the boot id before the reboot is not known.
    const unknownBefore = track(kube.waitReady('pi4-b', { timeoutMs: 5000, notBootId: null }));
    await fake.waitFor(() => listed(fake, 'pi4-a') && listed(fake, 'pi4-b'));
    await sleep(300);
    expect([state.settled, unknownBefore.settled]).toEqual([false, false]);
    fake.setNodeReady('pi4-a', false);
    fake.setNodeReady('pi4-b', false);
    await sleep(100);
    expect([state.settled, unknownBefore.settled]).toEqual([false, false]);
    fake.setNodeReady('pi4-a', true);
    fake.setNodeReady('pi4-b', true);
    expect((await wait).ready).toBe(true);
    await fake.waitFor(() => unknownBefore.settled);
    expect(unknownBefore.value?.ready).toBe(true);
  });

  it('without notBootId (not after a reboot) any Ready counts, as before', async () => {
    const { kube } = await start();
    expect((await kube.waitReady('pi4-a', { timeoutMs: 1000 })).bootId).toBe(OLD);
  });
});
