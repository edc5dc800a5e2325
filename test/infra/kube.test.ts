/**
 * Kube (src/infra/kube.ts) with the real @kubernetes/client-node against the fake API server:
 * what the cluster looks like afterwards (cordoned nodes, pods gone and rescheduled) and what a
 * user would read (UserErrors), not just which calls were made.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { isUserError, type UserError } from '../../src/core/errors.js';
import { Kube, UnmanagedPodsError } from '../../src/infra/kube.js';
import type { NodeInfo } from '../../src/infra/kube-objects.js';
import { evictedStep, evictedSummary } from '../../src/nodes/drain-report.js';
import {
  FakeKube,
  type FakeKubeOptions,
  type KObject,
  type PodSpec,
} from '../fakes/kube/fake-kube.js';
import { podObject } from '../fakes/kube/seed.js';
import { rejection } from '../helpers/rejection.js';

const LAB: FakeKubeOptions = {
  nodes: [
    { name: 'x86', roles: ['control-plane', 'master'], arch: 'amd64' },
    { name: 'pi5', roles: ['worker'] },
    { name: 'pi4-a', roles: ['worker'], version: 'v1.31.4+k3s1' },
    { name: 'pi4-b', roles: ['worker'] },
  ],
  pods: [
    { namespace: 'default', name: 'web-7d9f8c-x2b4q', node: 'pi4-a', ownerKind: 'ReplicaSet' },
    { namespace: 'media', name: 'jellyfin-0', node: 'pi4-a', ownerKind: 'StatefulSet' },
    {
      namespace: 'kube-system',
      name: 'svclb-traefik-k8s2p',
      node: 'pi4-a',
      ownerKind: 'DaemonSet',
    },
    { namespace: 'kube-system', name: 'kube-vip-pi4-a', node: 'pi4-a', mirror: true },
    {
      namespace: 'backup',
      name: 'restic-28999-abcde',
      node: 'pi4-a',
      ownerKind: 'Job',
      phase: 'Succeeded',
    },
    { namespace: 'default', name: 'web-7d9f8c-p9r7t', node: 'pi4-b', ownerKind: 'ReplicaSet' },
  ],
};

let fake: FakeKube | undefined;
afterEach(async () => {
  await fake?.stop();
  fake = undefined;
});

async function start(opts: FakeKubeOptions = LAB): Promise<{ fake: FakeKube; kube: Kube }> {
  fake = await FakeKube.start(opts);
  return { fake, kube: Kube.load({ kubeconfig: fake.kubeconfigFile }) };
}

const names = (pods: { namespace: string; name: string }[]) =>
  pods.map((p) => `${p.namespace}/${p.name}`).sort();
const nodeOf = (p: KObject) => (p.spec as { nodeName?: string }).nodeName;
const unschedulable = (f: FakeKube, name: string) =>
  (f.node(name)?.spec as { unschedulable?: boolean } | undefined)?.unschedulable === true;

describe('Kube nodes', () => {
  it('lists the nodes with roles, readiness and versions', async () => {
    const { kube } = await start();
    const nodes = await kube.nodes();
    expect(nodes.map((n) => [n.name, n.roles.join('+'), n.ready, n.unschedulable])).toEqual([
      ['pi4-a', 'worker', true, false],
      ['pi4-b', 'worker', true, false],
      ['pi5', 'worker', true, false],
      ['x86', 'control-plane+master', true, false],
    ]);
    const pi4a = await kube.node('pi4-a');
    expect(pi4a.kubeletVersion).toBe('v1.31.4+k3s1');
    expect(pi4a.conditions.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'True',
      reason: 'KubeletReady',
    });
  });

  it('answers an unknown node with a UserError that names the known ones', async () => {
    const { kube } = await start();
    const err = await rejection(kube.node('pi9'));
    expect(isUserError(err)).toBe(true);
    expect(err.message).toBe('Kubernetes has no node "pi9".');
    expect((err as UserError).hint).toBe('Known nodes: pi4-a, pi4-b, pi5, x86.');
    expect((await rejection(kube.cordon('pi9'))).message).toBe('Kubernetes has no node "pi9".');
  });

  it('cordons and uncordons with a JSON merge patch the fake applies', async () => {
    const { fake, kube } = await start();
    await kube.cordon('pi4-a');
    expect(unschedulable(fake, 'pi4-a')).toBe(true);
    expect((await kube.node('pi4-a')).unschedulable).toBe(true);
    const patch = fake.requests.find((r) => r.method === 'PATCH');
    expect(patch).toMatchObject({
      path: '/api/v1/nodes/pi4-a',
      contentType: 'application/merge-patch+json',
      body: { spec: { unschedulable: true } },
      status: 200,
    });
    await kube.uncordon('pi4-a');
    expect(unschedulable(fake, 'pi4-a')).toBe(false);
    expect(unschedulable(fake, 'pi4-b')).toBe(false);
  });

  it('lists the pods of one node in every namespace and counts the unfinished ones', async () => {
    const { fake, kube } = await start();
    const pods = await kube.podsOn('pi4-a');
    expect(names(pods)).toEqual([
      'backup/restic-28999-abcde',
      'default/web-7d9f8c-x2b4q',
      'kube-system/kube-vip-pi4-a',
      'kube-system/svclb-traefik-k8s2p',
      'media/jellyfin-0',
    ]);
    const byName = Object.fromEntries(pods.map((p) => [p.name, p]));
    expect(byName['svclb-traefik-k8s2p']).toMatchObject({ daemonSet: true, mirror: false });
    expect(byName['kube-vip-pi4-a']).toMatchObject({ mirror: true, ownerKind: 'Node' });
    expect(byName['jellyfin-0']).toMatchObject({ ownerKind: 'StatefulSet', phase: 'Running' });
    expect(await kube.podCount('pi4-a')).toBe(4);
    expect(fake.requests.at(-1)).toMatchObject({
      path: '/api/v1/pods',
      query: { fieldSelector: 'spec.nodeName=pi4-a' },
    });
  });

  it('says so when the credentials are refused or the server does not answer', async () => {
    const { fake: server } = await start();
    const stale = Kube.load({ kubeconfig: server.kubeconfigFile, context: 'fake-stale-token' });
    const refused = await rejection(stale.nodes());
    expect(isUserError(refused)).toBe(true);
    expect(refused.message).toBe(
      'The Kubernetes API refused the bot (401 Unauthorized) while listing nodes.',
    );
    const missing = await rejection(
      Promise.resolve().then(() =>
        Kube.load({ kubeconfig: server.kubeconfigFile, context: 'prod' }),
      ),
    );
    expect(missing.message).toBe('The kubeconfig has no context "prod".');
    expect((missing as UserError).hint).toBe('Contexts: fake, fake-stale-token.');

    const kube = Kube.load({ kubeconfig: server.kubeconfigFile });
    await server.stop();
    fake = undefined;
    const down = await rejection(kube.node('pi4-a'));
    expect(isUserError(down)).toBe(true);
    expect(down.message).toMatch(
      /^The Kubernetes API at http:\/\/127\.0\.0\.1:\d+ did not answer \(ECONNREFUSED\) while reading node pi4-a\.$/,
    );
  });
});

describe('Kube.drain', () => {
  it('cordons, evicts only the pods a controller moves, and waits until they are gone', async () => {
    const { fake, kube } = await start();
    const evicted: string[] = [];
    const result = await kube.drain('pi4-a', {
      timeoutMs: 5000,
      pollMs: 20,
      onEvicted: (p) => evicted.push(`${p.namespace}/${p.name}`),
    });
    expect(names(result.evicted)).toEqual(['default/web-7d9f8c-x2b4q', 'media/jellyfin-0']);
    expect(evicted.sort()).toEqual(['default/web-7d9f8c-x2b4q', 'media/jellyfin-0']);
    expect(names(result.skipped)).toEqual([
      'backup/restic-28999-abcde',
      'kube-system/kube-vip-pi4-a',
      'kube-system/svclb-traefik-k8s2p',
    ]);
    // The cluster afterwards: cordoned, only the skipped pods left, the others elsewhere.
    expect(unschedulable(fake, 'pi4-a')).toBe(true);
    expect(
      names(
        fake
          .pods('pi4-a')
          .map((p) => ({ namespace: p.metadata.namespace!, name: p.metadata.name })),
      ),
    ).toEqual(names(result.skipped));
    const jellyfin = fake.pods().find((p) => p.metadata.name === 'jellyfin-0');
    expect(nodeOf(jellyfin!)).not.toBe('pi4-a');
    const webs = fake.pods().filter((p) => p.metadata.name.startsWith('web-7d9f8c-'));
    expect(webs).toHaveLength(2);
    expect(webs.map(nodeOf)).not.toContain('pi4-a');
    // Evictions went through the policy/v1 subresource, for those two pods only.
    const posts = fake.requests.filter((r) => r.method === 'POST');
    expect(posts.map((r) => r.path).sort()).toEqual([
      '/api/v1/namespaces/default/pods/web-7d9f8c-x2b4q/eviction',
      '/api/v1/namespaces/media/pods/jellyfin-0/eviction',
    ]);
    expect(posts[0]?.body).toMatchObject({ apiVersion: 'policy/v1', kind: 'Eviction' });
    // Lists: the check before cordoning, the pods to evict after it, the start of the wait;
    // waiting for the pods to go used a watch, not repeated lists.
    expect(fake.requests.filter((r) => r.path === '/api/v1/pods' && !r.query.watch)).toHaveLength(
      3,
    );
  });

  const withPods = (...pods: PodSpec[]): FakeKubeOptions => ({
    ...LAB,
    pods: [...(LAB.pods ?? []), ...pods],
  });
  /** A pod nothing recreates: no ownerReference at all (kubectl run, a debug pod). */
  const bare = (name: string, namespace = 'default'): PodSpec => ({
    namespace,
    name,
    node: 'pi4-a',
  });
  const changes = (f: FakeKube) =>
    f.requests.filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.path}`);

  it('refuses to drain when pods have no controller: names them, changes nothing', async () => {
    const { fake, kube } = await start(
      withPods(bare('debug-shell'), {
        ...bare('netshoot-run', 'tools'),
        phase: 'Succeeded', // finished: stays, like before, and is no reason to refuse
      }),
    );
    // An owner that is not the controller recreates nothing either (kubectl agrees).
    const orphan = podObject({ namespace: 'media', name: 'transcode-once', node: 'pi4-a' });
    orphan.metadata.ownerReferences = [
      { apiVersion: 'v1', kind: 'ConfigMap', name: 'transcode', uid: 'u-1', controller: false },
    ];
    fake.store.create('pods', orphan);
    const err = await rejection(kube.drain('pi4-a', { timeoutMs: 5000, pollMs: 20 }));
    expect(err).toBeInstanceOf(UnmanagedPodsError);
    expect(isUserError(err)).toBe(true);
    expect(err.message).toBe(
      'Not draining pi4-a: 2 pods have no controller that would recreate them elsewhere, so evicting would delete them for good: default/debug-shell, media/transcode-once. Nothing was changed: pi4-a was not cordoned, no pod was evicted.',
    );
    expect((err as UserError).hint).toBe(
      'Delete or move them yourself (e.g. under a Deployment), then try again — or run it again with evict_unmanaged:true to evict them too: they will be gone for good.',
    );
    // The cluster: not cordoned, no eviction asked for, every pod still there.
    expect(unschedulable(fake, 'pi4-a')).toBe(false);
    expect(fake.node('pi4-a')?.spec).not.toHaveProperty('unschedulable');
    expect(changes(fake)).toEqual([]);
    expect(fake.evictions).toEqual([]);
    expect(fake.pods('pi4-a')).toHaveLength(8);
  });

  it('names at most 10 of them, then how many more', async () => {
    const many = Array.from({ length: 12 }, (_, i) => bare(`job-${String(i).padStart(2, '0')}`));
    const { fake, kube } = await start(withPods(...many));
    const err = await rejection(kube.drain('pi4-a', { timeoutMs: 5000 }));
    expect(err.message).toContain(
      'evicting would delete them for good: default/job-00, default/job-01, default/job-02, default/job-03, default/job-04, default/job-05, default/job-06, default/job-07, default/job-08, default/job-09 and 2 more. Nothing was changed',
    );
    expect(changes(fake)).toEqual([]);
  });

  it('with evictUnmanaged evicts them too: gone for good, nothing brings them back', async () => {
    const { fake, kube } = await start(withPods(bare('debug-shell')));
    const steps: string[] = [];
    const result = await kube.drain('pi4-a', {
      timeoutMs: 5000,
      pollMs: 20,
      evictUnmanaged: true,
      onEvicted: (p) => steps.push(evictedStep(p)),
    });
    expect(names(result.evicted)).toEqual([
      'default/debug-shell',
      'default/web-7d9f8c-x2b4q',
      'media/jellyfin-0',
    ]);
    expect(steps).toContain('evicted default/debug-shell (no controller: gone for good)');
    expect(evictedSummary(result.evicted)).toBe(
      '3 pods evicted (1 without a controller: gone for good)',
    );
    expect(unschedulable(fake, 'pi4-a')).toBe(true);
    expect(fake.evictions.map((e) => e.name)).toContain('debug-shell');
    // The ReplicaSet and StatefulSet pods came back elsewhere; the bare pod is nowhere.
    expect(fake.pods().map((p) => p.metadata.name)).toContain('jellyfin-0');
    expect(fake.pods().map((p) => p.metadata.name)).not.toContain('debug-shell');
  });

  it('refuses, cordoned, when a bare pod came up between the check and the cordon', async () => {
    const { fake, kube } = await start();
    expect(await kube.cordonForDrain('pi4-a', {})).toEqual([]);
    fake.addPod(bare('late-debug'));
    const err = await rejection(kube.evictCordoned('pi4-a', { timeoutMs: 5000 }));
    expect(err.message).toBe(
      'Not evicting pods from pi4-a: 1 pod without a controller came up after the check: default/late-debug. pi4-a stays cordoned; no pod was evicted.',
    );
    expect((err as UserError).hint).toMatch(
      /evict_unmanaged:true.* Or uncordon pi4-a to give up\.$/,
    );
    expect(unschedulable(fake, 'pi4-a')).toBe(true);
    expect(fake.evictions).toEqual([]);
  });

  it('evicts pods with emptyDir volumes and says whose data went (memory ones too)', async () => {
    const { fake, kube } = await start({
      ...LAB,
      pods: (LAB.pods ?? []).map((p) =>
        p.name === 'jellyfin-0'
          ? { ...p, emptyDirs: ['cache', { name: 'tmp', medium: 'Memory' }] }
          : p,
      ),
    });
    const pods = Object.fromEntries((await kube.podsOn('pi4-a')).map((p) => [p.name, p]));
    expect(pods['jellyfin-0']?.emptyDirs).toEqual(['cache', 'tmp']);
    // The projected service-account token every pod has is no emptyDir.
    expect(pods['web-7d9f8c-x2b4q']?.emptyDirs).toEqual([]);
    const steps: string[] = [];
    const result = await kube.drain('pi4-a', {
      timeoutMs: 5000,
      pollMs: 20,
      onEvicted: (p) => steps.push(evictedStep(p)),
    });
    expect(steps.sort()).toEqual([
      'evicted default/web-7d9f8c-x2b4q',
      'evicted media/jellyfin-0 (emptyDir data dropped: cache, tmp)',
    ]);
    expect(evictedSummary(result.evicted)).toBe('2 pods evicted (1 with emptyDir data dropped)');
    expect(fake.pods('pi4-a').map((p) => p.metadata.name)).not.toContain('jellyfin-0');
  });

  it('retries a pod a PodDisruptionBudget blocks, reports each refusal, then evicts it', async () => {
    const { fake, kube } = await start();
    fake.setPdb({ namespace: 'media', name: 'jellyfin-0', blockTimes: 2, pdbName: 'jellyfin-pdb' });
    const blocked: [string, number, string][] = [];
    const result = await kube.drain('pi4-a', {
      timeoutMs: 5000,
      pollMs: 20,
      onBlocked: (p, attempt, reason) => blocked.push([p.name, attempt, reason]),
    });
    expect(blocked).toEqual([
      [
        'jellyfin-0',
        1,
        'The disruption budget jellyfin-pdb needs 1 healthy pods and has 1 currently',
      ],
      [
        'jellyfin-0',
        2,
        'The disruption budget jellyfin-pdb needs 1 healthy pods and has 1 currently',
      ],
    ]);
    expect(names(result.evicted)).toEqual(['default/web-7d9f8c-x2b4q', 'media/jellyfin-0']);
    expect(fake.evictions.filter((e) => e.name === 'jellyfin-0').map((e) => e.outcome)).toEqual([
      'blocked',
      'blocked',
      'evicted',
    ]);
    expect(fake.pods('pi4-a').map((p) => p.metadata.name)).not.toContain('jellyfin-0');
  });

  it('gives up on an always-blocked pod with a UserError and leaves the node cordoned', async () => {
    const { fake, kube } = await start();
    fake.setPdb({ namespace: 'media', blockTimes: 'always', pdbName: 'jellyfin-pdb' });
    let attempts = 0;
    const err = await rejection(
      kube.drain('pi4-a', { timeoutMs: 400, pollMs: 20, onBlocked: () => attempts++ }),
    );
    expect(isUserError(err)).toBe(true);
    expect(err.message).toMatch(
      /^Drain of pi4-a gave up after \d+ ms: a PodDisruptionBudget still blocks evicting 1 pod: media\/jellyfin-0 \(The disruption budget jellyfin-pdb needs 1 healthy pods and has 1 currently\)\. pi4-a stays cordoned\.$/,
    );
    expect((err as UserError).hint).toMatch(/^1 pod was evicted\./);
    expect(attempts).toBeGreaterThanOrEqual(3);
    expect(unschedulable(fake, 'pi4-a')).toBe(true);
    expect(fake.pods('pi4-a').map((p) => p.metadata.name)).toContain('jellyfin-0');
    expect(fake.pods('pi4-a').map((p) => p.metadata.name)).not.toContain('web-7d9f8c-x2b4q');
  });

  it('stops at once when the signal aborts', async () => {
    const { fake, kube } = await start();
    fake.setPdb({ namespace: 'media', blockTimes: 'always' });
    const ac = new AbortController();
    const p = kube.drain('pi4-a', {
      timeoutMs: 60_000,
      pollMs: 50,
      signal: ac.signal,
      onBlocked: () => ac.abort(new Error('cancelled by alice')),
    });
    expect((await rejection(p)).message).toBe('cancelled by alice');
    expect(unschedulable(fake, 'pi4-a')).toBe(true);
  });
});

describe('Kube.waitReady', () => {
  const notReady: FakeKubeOptions = {
    nodes: [
      { name: 'pi4-a', ready: false, roles: ['worker'] },
      { name: 'pi4-b', roles: ['worker'] },
    ],
  };

  it('watches the node until Ready, resuming when the watch drops midway', async () => {
    const { fake, kube } = await start(notReady);
    const seen: NodeInfo[] = [];
    const ready = kube.waitReady('pi4-a', { timeoutMs: 5000, onChange: (n) => seen.push(n) });
    await fake.waitFor(() => fake.openWatches.length === 1);
    fake.setNodeReady('pi4-b', false); // another node: not this watch's business
    expect(fake.dropWatches()).toBe(1);
    await fake.waitFor(() => fake.openWatches.length === 1 && fake.watchesOpened === 2);
    fake.setNodeReady('pi4-a', true);
    const node = await ready;
    expect(node).toMatchObject({ name: 'pi4-a', ready: true });
    expect(seen.map((n) => n.ready)).toEqual([false, true]);
    const nodeRequests = fake.requests.filter((r) => r.path === '/api/v1/nodes');
    // One list, then two watches; the second resumed from where the first stopped.
    expect(nodeRequests.map((r) => (r.query.watch ? 'watch' : 'list'))).toEqual([
      'list',
      'watch',
      'watch',
    ]);
    expect(nodeRequests.every((r) => r.query.fieldSelector === 'metadata.name=pi4-a')).toBe(true);
    expect(Number(nodeRequests[2]?.query.resourceVersion)).toBeGreaterThanOrEqual(
      Number(nodeRequests[1]?.query.resourceVersion),
    );
  });

  it('lists again when the version it would resume from has expired (410)', async () => {
    const { fake, kube } = await start(notReady);
    const ready = kube.waitReady('pi4-a', { timeoutMs: 5000 });
    await fake.waitFor(() => fake.openWatches.length === 1);
    fake.setNodeReady('pi4-b', false);
    fake.compact();
    fake.dropWatches();
    await fake.waitFor(() => fake.openWatches.length === 1 && fake.watchesOpened === 3);
    fake.setNodeReady('pi4-a', true);
    expect((await ready).ready).toBe(true);
    const lists = fake.requests.filter((r) => r.path === '/api/v1/nodes' && !r.query.watch);
    expect(lists).toHaveLength(2);
  });

  it('returns at once for a node that is already Ready', async () => {
    const { fake, kube } = await start();
    expect((await kube.waitReady('pi4-b', { timeoutMs: 1000 })).ready).toBe(true);
    expect(fake.watchesOpened).toBe(0);
  });

  it('times out with a UserError that shows the last known conditions', async () => {
    const { kube } = await start(notReady);
    const err = await rejection(kube.waitReady('pi4-a', { timeoutMs: 300 }));
    expect(isUserError(err)).toBe(true);
    expect(err.message).toBe('pi4-a did not become Ready within 300 ms.');
    expect((err as UserError).hint).toBe(
      'Last known conditions: MemoryPressure=False, DiskPressure=False, PIDPressure=False, Ready=Unknown (NodeStatusUnknown: Kubelet stopped posting node status.).',
    );
  });

  it('refuses an unknown node, and stops when the signal aborts', async () => {
    const { kube } = await start(notReady);
    const err = await rejection(kube.waitReady('pi9', { timeoutMs: 1000 }));
    expect(err.message).toBe('Kubernetes has no node "pi9".');
    const ac = new AbortController();
    const p = kube.waitReady('pi4-a', { timeoutMs: 5000, signal: ac.signal });
    setTimeout(() => ac.abort(new Error('shutting down')), 50);
    expect((await rejection(p)).message).toBe('shutting down');
  });
});
