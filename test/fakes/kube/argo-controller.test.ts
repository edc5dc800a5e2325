/**
 * The simulated Argo CD controller reads only the operation (as controller/sync.go does):
 * syncOptions and revisions in the app's spec do nothing unless the operation carries them.
 * And the API server's optimistic concurrency on Applications. No bot code.
 */
import {
  type ApiException,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeKube, type FakeKubeOptions } from './fake-kube.js';
import { sha } from './seed.js';

const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const APP = {
  group: 'argoproj.io',
  version: 'v1alpha1',
  namespace: 'argocd',
  plural: 'applications',
};
// biome-ignore lint/suspicious/noExplicitAny: Application JSON
type Json = Record<string, any>;

const LAB: FakeKubeOptions = {
  nodes: [{ name: 'x86' }],
  applications: [
    {
      name: 'mealie',
      syncStatus: 'OutOfSync',
      health: 'Missing',
      revision: 'm1',
      destinationNamespaceExists: false,
      syncOptions: ['CreateNamespace=true', 'ServerSideApply=true'],
    },
    {
      name: 'monitoring',
      syncStatus: 'Synced',
      health: 'Healthy',
      revision: 'unused',
      sources: [
        { targetRevision: '65.1.0', revision: 'chart-65' },
        { targetRevision: 'main', revision: 'values-b' },
      ],
    },
  ],
};

let fake: FakeKube | undefined;
afterEach(async () => {
  await fake?.stop();
  fake = undefined;
});

/** The fake and client-node as a cluster admin (namespaces, PUT: beyond the bot's roles). */
async function start() {
  fake = await FakeKube.start(LAB);
  const kc = new KubeConfig();
  kc.loadFromFile(fake.adminKubeconfigFile);
  return { fake, kc, custom: kc.makeApiClient(CustomObjectsApi) };
}

const operate = (custom: CustomObjectsApi, name: string, operation: Json) =>
  custom.patchNamespacedCustomObject({ ...APP, name, body: { operation } }, MERGE);

async function finished(f: FakeKube, name: string): Promise<Json> {
  return f.waitFor(() => {
    const s = f.application(name)?.status as Json;
    return ['Succeeded', 'Failed'].includes(s.operationState?.phase) &&
      !f.controller.isRunning(name)
      ? s
      : undefined;
  });
}

describe('FakeKube: the Argo CD controller reads the operation, not the spec', () => {
  it("ignores the spec's CreateNamespace: without it in the operation the dry run fails", async () => {
    const { fake, custom } = await start();
    await operate(custom, 'mealie', { sync: { revision: 'HEAD' } });
    const s = await finished(fake, 'mealie');
    expect(s.operationState).toMatchObject({
      phase: 'Failed',
      message: 'one or more objects failed to apply (dry run)',
    });
    expect(s.operationState.syncResult.resources[0]).toMatchObject({
      kind: 'Deployment',
      namespace: 'mealie',
      status: 'SyncFailed',
      message: 'namespaces "mealie" not found',
    });
    expect(fake.namespace('mealie')).toBeUndefined();
  });

  it('creates the namespace and applies server-side when the operation says so', async () => {
    const { fake, kc, custom } = await start();
    await operate(custom, 'mealie', {
      sync: { revision: 'HEAD', syncOptions: ['CreateNamespace=true', 'ServerSideApply=true'] },
    });
    const s = await finished(fake, 'mealie');
    expect(s.operationState.phase).toBe('Succeeded');
    expect(s.operationState.syncResult.resources.map((r: Json) => r.message)).toEqual([
      'namespace/mealie created',
      'deployment.apps/mealie serverside-applied',
      'service/mealie serverside-applied',
      'configmap/mealie-config serverside-applied',
    ]);
    const ns = await kc.makeApiClient(CoreV1Api).readNamespace({ name: 'mealie' });
    expect(ns.status?.phase).toBe('Active');
  });

  it("syncs a multi-source app to the operation's revisions, else to each source's target", async () => {
    const { fake, custom } = await start();
    const back = [sha('chart-61'), sha('values-a')];
    await operate(custom, 'monitoring', { sync: { revisions: back } });
    let s = await finished(fake, 'monitoring');
    expect(s.operationState.syncResult.revisions).toEqual(back);
    expect(s.sync).toMatchObject({ status: 'OutOfSync', revisions: back });
    expect(s.history.at(-1)).toMatchObject({ revisions: back, sources: [{}, {}] });
    expect(s.history.at(-1).revision).toBeUndefined();
    // No revisions: each source to what its targetRevision resolves to.
    await operate(custom, 'monitoring', { sync: {} });
    await fake.waitFor(() => fake.controller.syncs.length === 2);
    s = await finished(fake, 'monitoring');
    expect(s.sync).toMatchObject({
      status: 'Synced',
      revisions: [sha('chart-65'), sha('values-b')],
    });
  });

  it('starts an auto-sync like SetAppOperation: refused while an operation is set', async () => {
    const { fake } = await start();
    expect(fake.controller.startAutoSync('monitoring')).toBe(true);
    expect(fake.application('monitoring')?.operation).toMatchObject({
      initiatedBy: { automated: true },
      sync: { revisions: [sha('chart-65'), sha('values-b')] },
      retry: { limit: 5 },
    });
    expect(fake.controller.startAutoSync('monitoring')).toBe(false);
    await finished(fake, 'monitoring');
    expect(fake.controller.syncs).toEqual([
      expect.objectContaining({ app: 'monitoring', initiatedBy: 'automated', attempts: 1 }),
    ]);
  });
});

describe('FakeKube: optimistic concurrency on Applications', () => {
  it('answers 409 Conflict to a merge patch or PUT with a stale resourceVersion', async () => {
    const { fake, custom } = await start();
    const read = (await custom.getNamespacedCustomObject({ ...APP, name: 'mealie' })) as Json;
    const rv = read.metadata.resourceVersion;
    fake.controller.startAutoSync('mealie');
    const stale = await custom
      .patchNamespacedCustomObject(
        { ...APP, name: 'mealie', body: { metadata: { resourceVersion: rv }, operation: {} } },
        MERGE,
      )
      .then(
        () => undefined,
        (e: ApiException<string>) => e,
      );
    expect(stale?.code).toBe(409);
    expect(JSON.parse(String(stale?.body))).toMatchObject({
      kind: 'Status',
      status: 'Failure',
      reason: 'Conflict',
      message:
        'Operation cannot be fulfilled on applications.argoproj.io "mealie": the object has been modified; please apply your changes to the latest version and try again',
    });
    const put = await custom
      .replaceNamespacedCustomObject({ ...APP, name: 'mealie', body: read })
      .then(
        () => undefined,
        (e: ApiException<string>) => e,
      );
    expect(put?.code).toBe(409);
    // The auto-sync's operation is untouched.
    expect(fake.application('mealie')?.operation).toMatchObject({
      initiatedBy: { automated: true },
    });
  });
});
