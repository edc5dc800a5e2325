/**
 * The fake Kubernetes API server behind the real, unmodified @kubernetes/client-node (no bot
 * code): the simulated Argo CD controller seen through CustomObjectsApi and Watch, and the
 * client-node 1.x behaviours the bot relies on (patch content types, watch endings, error shapes).
 */
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  Watch,
} from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeKube, type FakeKubeOptions, type KObject } from './fake-kube.js';
import { sha } from './seed.js';

const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const APP = {
  group: 'argoproj.io',
  version: 'v1alpha1',
  namespace: 'argocd',
  plural: 'applications',
};
const APPS_PATH = '/apis/argoproj.io/v1alpha1/namespaces/argocd/applications';

const LAB: FakeKubeOptions = {
  nodes: [
    { name: 'x86', roles: ['control-plane'] },
    { name: 'pi4-a', roles: ['worker'] },
  ],
  applications: [
    {
      name: 'home-assistant',
      syncStatus: 'OutOfSync',
      health: 'Healthy',
      revision: 'v1',
      headRevision: 'v2',
    },
    { name: 'pihole-exporter', syncStatus: 'Synced', health: 'Healthy', revision: 'v7' },
  ],
};

const SYNC = {
  operation: {
    initiatedBy: { username: 'alice' },
    sync: { revision: 'HEAD', prune: false, syncStrategy: { hook: {} } },
    retry: { limit: 1 },
  },
};

type App = KObject & {
  operation?: unknown;
  status: {
    sync: { status: string; revision: string };
    health: { status: string };
    history: { id: number; revision: string; initiatedBy?: { username: string } }[];
    reconciledAt: string;
    operationState?: {
      phase: string;
      message: string;
      retryCount?: number;
      syncResult: {
        revision: string;
        resources: {
          kind: string;
          name: string;
          status: string;
          message: string;
          hookPhase: string;
        }[];
      };
    };
  };
};

let fake: FakeKube | undefined;
let stopWatch: AbortController | undefined;
afterEach(async () => {
  stopWatch?.abort();
  stopWatch = undefined;
  await fake?.stop();
  fake = undefined;
});

async function start(opts = LAB) {
  fake = await FakeKube.start(opts);
  const kc = new KubeConfig();
  kc.loadFromFile(fake.kubeconfigFile);
  return { fake, kc, custom: kc.makeApiClient(CustomObjectsApi) };
}

/** Watches one Application from now on with the real Watch; every object seen lands in `seen`. */
async function watchApp(kc: KubeConfig, custom: CustomObjectsApi, name: string) {
  const list = (await custom.listNamespacedCustomObject({ ...APP })) as {
    metadata: { resourceVersion: string };
  };
  const seen: App[] = [];
  stopWatch = await new Watch(kc).watch(
    APPS_PATH,
    { resourceVersion: list.metadata.resourceVersion, fieldSelector: `metadata.name=${name}` },
    (_type, obj: App) => seen.push(obj),
    () => {},
  );
  return seen;
}

const phases = (seen: App[]) =>
  seen
    .map((a) => a.status.operationState?.phase)
    .filter((p, i, all) => p !== undefined && p !== all[i - 1]);

async function rejection(p: Promise<unknown>): Promise<ApiException<string>> {
  try {
    await p;
  } catch (err) {
    return err as ApiException<string>;
  }
  throw new Error('expected a rejection');
}

describe('FakeKube: the simulated Argo CD controller', () => {
  it('runs a sync set by a merge patch: Running → Succeeded, history appended, operation cleared', async () => {
    const { fake, kc, custom } = await start();
    const seen = await watchApp(kc, custom, 'home-assistant');
    await custom.patchNamespacedCustomObject({ ...APP, name: 'home-assistant', body: SYNC }, MERGE);
    const done = await fake.waitFor(() =>
      seen.find((a) => a.status.operationState?.phase === 'Succeeded'),
    );

    expect(phases(seen)).toEqual(['Running', 'Succeeded']);
    const running = seen.filter((a) => a.status.operationState?.phase === 'Running');
    expect(running[0]?.status.operationState?.message).toBe('one or more tasks are running');
    expect(running[0]?.status.health.status).toBe('Progressing');
    // The resources are applied over a few ticks.
    expect(running.map((a) => a.status.operationState?.syncResult.resources.length)).toEqual([
      0, 1, 2,
    ]);
    expect(done.status.operationState).toMatchObject({
      phase: 'Succeeded',
      message: 'successfully synced (all tasks run)',
      syncResult: { revision: sha('v2') },
    });
    expect(done.status.operationState?.syncResult.resources).toEqual([
      expect.objectContaining({
        kind: 'Deployment',
        name: 'home-assistant',
        status: 'Synced',
        message: 'deployment.apps/home-assistant configured',
        hookPhase: 'Succeeded',
      }),
      expect.objectContaining({ kind: 'Service', status: 'Synced' }),
      expect.objectContaining({
        kind: 'ConfigMap',
        name: 'home-assistant-config',
        status: 'Synced',
      }),
    ]);
    expect(done.operation).toBeUndefined();
    expect(done.status.sync).toMatchObject({ status: 'Synced', revision: sha('v2') });
    expect(done.status.health.status).toBe('Healthy');
    expect(done.status.history.map((h) => [h.id, h.revision])).toEqual([
      [0, sha('v1')],
      [1, sha('v2')],
    ]);
    expect(done.status.history[1]?.initiatedBy).toEqual({ username: 'alice' });
    // What a later GET shows, and what the controller recorded.
    const app = (await custom.getNamespacedCustomObject({ ...APP, name: 'home-assistant' })) as App;
    expect('operation' in app).toBe(false);
    expect(fake.controller.syncs).toEqual([
      {
        app: 'home-assistant',
        namespace: 'argocd',
        revision: sha('v2'),
        phase: 'Succeeded',
        attempts: 1,
        initiatedBy: 'alice',
      },
    ]);
    expect(fake.application('pihole-exporter')?.status).toMatchObject({ history: [{ id: 0 }] });
  });

  it('fails a sync with per-resource messages after the retries the operation allows', async () => {
    const { fake, kc, custom } = await start();
    fake.controller.configure('home-assistant', {
      ticks: 2,
      tickMs: 15,
      fail: {
        resources: [
          {
            kind: 'Deployment',
            name: 'home-assistant',
            message: 'admission webhook "policy" denied the request: image tag latest not allowed',
          },
        ],
      },
    });
    const seen = await watchApp(kc, custom, 'home-assistant');
    await custom.patchNamespacedCustomObject({ ...APP, name: 'home-assistant', body: SYNC }, MERGE);
    const done = await fake.waitFor(() =>
      seen.find((a) => a.status.operationState?.phase === 'Failed'),
    );

    expect(phases(seen)).toEqual(['Running', 'Failed']);
    const retry = seen.find((a) => a.status.operationState?.retryCount === 1);
    expect(retry?.status.operationState?.message).toMatch(
      /^Retrying attempt #1 at \d\d:\d\d: one or more objects failed to apply/,
    );
    expect(done.status.operationState?.message).toBe(
      'one or more objects failed to apply, reason: admission webhook "policy" denied the request: image tag latest not allowed',
    );
    expect(
      done.status.operationState?.syncResult.resources.map((r) => [r.kind, r.status, r.hookPhase]),
    ).toEqual([
      ['Deployment', 'SyncFailed', 'Failed'],
      ['Service', 'Synced', 'Succeeded'],
      ['ConfigMap', 'Synced', 'Succeeded'],
    ]);
    expect(done.status.operationState?.syncResult.resources[0]?.message).toContain(
      'image tag latest not allowed',
    );
    expect(done.operation).toBeUndefined();
    expect(done.status.sync.status).toBe('OutOfSync');
    expect(done.status.health.status).toBe('Degraded');
    expect(done.status.history).toHaveLength(1);
    expect(fake.controller.syncs.at(-1)).toMatchObject({ phase: 'Failed', attempts: 2 });
  });

  it('syncs to an older revision from the history (a rollback) and stays OutOfSync with HEAD', async () => {
    const { fake, custom } = await start();
    await custom.patchNamespacedCustomObject(
      { ...APP, name: 'pihole-exporter', body: { operation: { sync: { revision: 'v6' } } } },
      MERGE,
    );
    const app = (await fake.waitFor(() => {
      const a = fake.application('pihole-exporter') as App;
      return a.status.operationState?.phase === 'Succeeded' && a;
    })) as App;
    expect(app.status.sync).toMatchObject({ status: 'OutOfSync', revision: sha('v6') });
    expect(app.status.history.at(-1)?.revision).toBe(sha('v6'));
  });

  it('answers the refresh annotation: reconciledAt, sync status against a new HEAD, annotation removed', async () => {
    const { fake, custom } = await start();
    fake.controller.configure('pihole-exporter', { headRevision: 'v8' });
    await custom.patchNamespacedCustomObject(
      {
        ...APP,
        name: 'pihole-exporter',
        body: { metadata: { annotations: { 'argocd.argoproj.io/refresh': 'normal' } } },
      },
      MERGE,
    );
    const app = (await fake.waitFor(() => {
      const a = fake.application('pihole-exporter') as App;
      return !a.metadata.annotations?.['argocd.argoproj.io/refresh'] && a;
    })) as App;
    expect(app.status.sync.status).toBe('OutOfSync');
    expect(app.status.reconciledAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });
});

describe('FakeKube: what client-node 1.x does against it', () => {
  it('sends json-patch+json unless told otherwise, which the server refuses for an object body', async () => {
    const { fake, custom } = await start();
    const err = await rejection(
      custom.patchNamespacedCustomObject({ ...APP, name: 'home-assistant', body: SYNC }),
    );
    expect(err).toBeInstanceOf(ApiException);
    expect(err.code).toBe(400);
    expect(fake.requests.at(-1)?.contentType).toBe('application/json-patch+json');
    // The body is the Status as text.
    expect(JSON.parse(err.body)).toMatchObject({ kind: 'Status', reason: 'BadRequest', code: 400 });
    expect(fake.application('home-assistant')?.operation).toBeUndefined();
    // A custom resource takes no strategic merge patch.
    const smp = await rejection(
      custom.patchNamespacedCustomObject(
        { ...APP, name: 'home-assistant', body: SYNC },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      ),
    );
    expect(smp.code).toBe(415);
  });

  it('gets Status objects for 404, 409 and 401 in ApiException.body', async () => {
    const { fake, kc, custom } = await start();
    const missing = await rejection(
      custom.getNamespacedCustomObject({ ...APP, name: 'nextcloud' }),
    );
    expect(missing.code).toBe(404);
    expect(JSON.parse(missing.body)).toMatchObject({
      reason: 'NotFound',
      message: 'applications.argoproj.io "nextcloud" not found',
      details: { name: 'nextcloud', group: 'argoproj.io', kind: 'applications' },
    });
    expect(fake.unhandled).toEqual([]);

    const stale = await rejection(
      custom.patchNamespacedCustomObject(
        {
          ...APP,
          name: 'home-assistant',
          body: { metadata: { resourceVersion: '1' }, spec: { project: 'x' } },
        },
        MERGE,
      ),
    );
    expect(stale.code).toBe(409);
    expect(JSON.parse(stale.body)).toMatchObject({ reason: 'Conflict' });

    kc.setCurrentContext('fake-stale-token');
    const refused = await rejection(kc.makeApiClient(CoreV1Api).listNode());
    expect(refused.code).toBe(401);
    expect(refused.body).toBeUndefined();
  });

  it('records what it does not serve as 404 Status objects in unhandled', async () => {
    const { fake, kc } = await start();
    // The bot's account would get 403 first (authorization comes before routing): as admin.
    kc.loadFromFile(fake.adminKubeconfigFile);
    const err = await rejection(
      kc.makeApiClient(AppsV1Api).listNamespacedDeployment({ namespace: 'default' }),
    );
    expect(err.code).toBe(404);
    expect(fake.unhandled.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /apis/apps/v1/namespaces/default/deployments',
    ]);
  });

  it('ends watches on demand (done(null)), replays from a version, and answers 410 after compaction', async () => {
    const { fake, kc } = await start();
    const core = kc.makeApiClient(CoreV1Api);
    const rv = (await core.listNode()).metadata?.resourceVersion ?? '';
    const events: string[] = [];
    let ended: unknown = 'open';
    stopWatch = await new Watch(kc).watch(
      '/api/v1/nodes',
      { resourceVersion: rv, fieldSelector: 'spec.unschedulable=false' },
      (type, obj) => events.push(`${type} ${obj.metadata?.name ?? obj.reason}`),
      (err) => {
        ended = err;
      },
    );
    await core.patchNode({ name: 'pi4-a', body: { spec: { unschedulable: true } } }, MERGE);
    fake.setNodeReady('x86', false);
    await fake.waitFor(() => events.length === 2);
    // pi4-a no longer matches the field selector: it leaves this watch as DELETED.
    expect(events).toEqual(['DELETED pi4-a', 'MODIFIED x86']);
    fake.dropWatches();
    await fake.waitFor(() => ended !== 'open');
    expect(ended).toBeNull();

    // Resuming from the old version replays what happened since.
    const replay: string[] = [];
    stopWatch = await new Watch(kc).watch(
      '/api/v1/nodes',
      { resourceVersion: rv },
      (type, obj) => replay.push(`${type} ${obj.metadata.name}`),
      () => {},
    );
    await fake.waitFor(() => replay.length === 2);
    expect(replay).toEqual(['MODIFIED pi4-a', 'MODIFIED x86']);

    fake.compact();
    const expired: { type: string; code?: number }[] = [];
    await new Watch(kc).watch(
      '/api/v1/nodes',
      { resourceVersion: rv },
      (type, obj) => expired.push({ type, code: obj.code }),
      () => {},
    );
    await fake.waitFor(() => expired.length === 1);
    expect(expired).toEqual([{ type: 'ERROR', code: 410 }]);
  });
});
