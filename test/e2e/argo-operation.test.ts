/**
 * /argo sync and rollback write the operation Argo CD's own API server writes, race-free
 * (issue #13): the app's syncOptions and retry copied in (the controller reads only the
 * operation's copy), a multi-source rollback to the entry's revisions and sources, and the
 * write conditional on the version read — an operation that started in the meantime is
 * reported and followed, never overwritten.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { FakeKube, type RequestRecord } from '../fakes/kube/fake-kube.js';
import { sha } from '../fakes/kube/seed.js';
import { consoleOps, runCommand, startApp, testConfig } from '../helpers/app-fixture.js';
import { RecordingResponder } from '../helpers/dispatcher.js';

let kube: FakeKube;
let app: App;
const OPS_LABEL = 'console:ops (ops)';
const APPS = '/apis/argoproj.io/v1alpha1/namespaces/argocd/applications';
const short = (rev: string) => sha(rev).slice(0, 7);
const SSA_OPTIONS = ['ServerSideApply=true', 'RespectIgnoreDifferences=true'];
const CHART = { repoURL: 'https://prometheus-community.github.io/helm-charts', path: 'charts' };
const VALUES = { repoURL: 'https://git.lab/homelab/gitops.git', path: 'values/monitoring' };

beforeAll(async () => {
  kube = await FakeKube.start({
    nodes: [{ name: 'x86', ready: true, roles: ['control-plane'] }],
    applications: [
      {
        name: 'mealie',
        syncStatus: 'OutOfSync',
        health: 'Missing',
        revision: 'm1',
        headRevision: 'm2',
        destinationNamespace: 'recipes',
        destinationNamespaceExists: false,
        syncOptions: ['CreateNamespace=true', ...SSA_OPTIONS],
        retry: { limit: 3, backoff: { duration: '5s', factor: 2, maxDuration: '3m' } },
      },
      {
        name: 'tandoor',
        syncStatus: 'OutOfSync',
        health: 'Missing',
        revision: 't1',
        headRevision: 't2',
        destinationNamespace: 'cookbook',
        destinationNamespaceExists: false,
        syncOptions: SSA_OPTIONS,
        retry: { limit: 1 },
      },
      {
        name: 'monitoring',
        syncStatus: 'Synced',
        health: 'Healthy',
        revision: 'unused',
        sources: [
          { ...CHART, targetRevision: '65.1.0', revision: 'chart-65.1.0' },
          { ...VALUES, targetRevision: 'main', revision: 'values-b' },
        ],
        history: [
          { id: 0, revisions: ['chart-61.0.0', 'values-a'] },
          { id: 1, revisions: ['chart-65.1.0', 'values-b'] },
        ],
      },
      {
        name: 'home-assistant',
        syncStatus: 'OutOfSync',
        health: 'Healthy',
        revision: 'h1',
        headRevision: 'h2',
        autoSync: true,
      },
      { name: 'paperless', syncStatus: 'OutOfSync', health: 'Healthy', revision: 'p1' },
    ],
  });
  const config = testConfig({
    access: { roles: { admin: { members: ['console:*'], allow: ['*'] } } },
    kube: { kubeconfig: kube.kubeconfigFile },
    argo: { syncTimeoutSeconds: 20 },
  });
  app = await startApp(config);
}, 30_000);

afterAll(async () => {
  await app?.stop();
  await kube?.stop();
});

const run = (text: string) => runCommand(app, text);

async function runConfirmed(text: string) {
  const r = await run(text);
  const proposal = r.last();
  const code = proposal.confirm?.code;
  expect(code, JSON.stringify(proposal)).toBeDefined();
  await app.dispatcher.confirm(code!, consoleOps, new RecordingResponder());
  return { proposal, result: r };
}

// biome-ignore lint/suspicious/noExplicitAny: Application JSON as the fake stores it
type Json = Record<string, any>;
const status = (name: string) => kube.application(name)?.status as Json;
const isOperationPatch = (name: string) => (q: RequestRecord) =>
  q.method === 'PATCH' && q.path === `${APPS}/${name}` && (q.body as Json)?.operation != null;
const operationPatches = (name: string) => kube.requests.filter(isOperationPatch(name));

describe('/argo writes the operation Argo CD writes', () => {
  it("copies the app's syncOptions and retry: the namespace is created, resources server-side applied", async () => {
    expect(kube.namespace('recipes')).toBeUndefined();
    const r = await run('/argo sync mealie');
    const reply = r.last();
    expect(reply.severity, JSON.stringify(reply)).toBe('success');
    expect(reply.title).toBe(`mealie synced to ${short('m2')}`);
    expect(reply.text).toMatch(
      /^4 resources synced in \d+ s\. Now: sync Synced, health Healthy\.$/,
    );
    expect(r.steps).toEqual([
      '✔ Namespace recipes: Synced — namespace/recipes created',
      '✔ Deployment recipes/mealie: Synced — deployment.apps/mealie serverside-applied',
      '✔ Service recipes/mealie: Synced — service/mealie serverside-applied',
      '✔ ConfigMap recipes/mealie-config: Synced — configmap/mealie-config serverside-applied',
    ]);
    const patches = operationPatches('mealie');
    expect(patches).toHaveLength(1);
    expect(patches[0]?.body).toEqual({
      metadata: { resourceVersion: expect.stringMatching(/^\d+$/) },
      operation: {
        initiatedBy: { username: OPS_LABEL },
        sync: {
          revision: 'HEAD',
          prune: false,
          syncStrategy: { hook: {} },
          syncOptions: [
            'CreateNamespace=true',
            'ServerSideApply=true',
            'RespectIgnoreDifferences=true',
          ],
        },
        retry: { limit: 3, backoff: { duration: '5s', factor: 2, maxDuration: '3m' } },
      },
    });
    expect(kube.namespace('recipes')?.status).toEqual({ phase: 'Active' });
    expect(kube.controller.syncs.filter((s) => s.app === 'mealie')).toEqual([
      expect.objectContaining({ phase: 'Succeeded', attempts: 1, initiatedBy: OPS_LABEL }),
    ]);
  });

  it('without CreateNamespace in the operation, the sync fails on the missing namespace (after the retries)', async () => {
    const r = await run('/argo sync tandoor');
    const reply = r.last();
    expect(reply.severity, JSON.stringify(reply)).toBe('error');
    expect(reply.title).toBe(`Sync of tandoor to ${short('t2')}: Failed`);
    expect(reply.text).toBe(
      'one or more objects failed to apply (dry run) (after 1 retries)\nNow: sync OutOfSync, health Degraded.',
    );
    expect(reply.fields).toEqual([
      { name: 'Deployment cookbook/tandoor', value: 'namespaces "cookbook" not found' },
      { name: 'Service cookbook/tandoor', value: 'namespaces "cookbook" not found' },
      { name: 'ConfigMap cookbook/tandoor-config', value: 'namespaces "cookbook" not found' },
    ]);
    const op = (operationPatches('tandoor')[0]!.body as Json).operation;
    expect(op.sync.syncOptions).toEqual(SSA_OPTIONS);
    expect(op.retry).toEqual({ limit: 1 });
    expect(kube.namespace('cookbook')).toBeUndefined();
    expect(kube.controller.syncs.filter((s) => s.app === 'tandoor')).toEqual([
      expect.objectContaining({ phase: 'Failed', attempts: 2 }),
    ]);
  });

  it("rolls a multi-source app back to the history entry's revisions and sources", async () => {
    const { proposal, result } = await runConfirmed('/argo rollback monitoring 0');
    const back = [sha('chart-61.0.0'), sha('values-a')];
    expect(proposal.text).toContain(
      `Roll monitoring back to history entry 0 (${short('chart-61.0.0')},${short('values-a')}, now at ${short('chart-65.1.0')},${short('values-b')})`,
    );
    expect(proposal.code).toContain(`"revisions":${JSON.stringify(back)}`);
    const reply = result.last();
    expect(reply.severity, JSON.stringify(reply)).toBe('success');
    expect(reply.title).toBe(`monitoring synced to ${short('chart-61.0.0')},${short('values-a')}`);
    expect(reply.text).toContain('Now: sync OutOfSync, health Healthy.');
    // What Argo CD's Rollback writes: the entry's revisions and sources, the apply strategy.
    const sources = [
      { ...CHART, targetRevision: '65.1.0' },
      { ...VALUES, targetRevision: 'main' },
    ];
    const patches = operationPatches('monitoring');
    expect(patches).toHaveLength(1);
    expect((patches[0]!.body as Json).operation).toEqual({
      initiatedBy: { username: OPS_LABEL },
      sync: { revisions: back, prune: false, syncStrategy: { apply: {} }, sources },
    });
    // Where Argo CD says the app is now.
    const s = status('monitoring');
    expect(s.operationState.syncResult.revisions).toEqual(back);
    expect(s.sync).toMatchObject({ status: 'OutOfSync', revisions: back });
    expect(s.history.at(-1)).toMatchObject({ id: 2, revisions: back, sources });
    // A single revision cannot name a source: refused before anything is written.
    const refused = (await run('/argo sync monitoring main')).last();
    expect(refused.title).toBe(
      'monitoring has 2 sources: a single revision cannot say which one it is for.',
    );
    expect(operationPatches('monitoring')).toHaveLength(1);
  });
});

describe('/argo starts an operation race-free', () => {
  it('an auto-sync that starts between read and write: 409, read again, reported and followed, not overwritten', async () => {
    kube.controller.configure('home-assistant', { ticks: 3, tickMs: 40 });
    let started = false;
    kube.beforeRequest(isOperationPatch('home-assistant'), () => {
      started = kube.controller.startAutoSync('home-assistant');
    });
    const r = await run('/argo sync home-assistant');
    expect(started).toBe(true);
    const reply = r.last();
    expect(reply.severity, JSON.stringify(reply)).toBe('warning');
    expect(reply.title).toMatch(
      /^Not started: an auto-sync of home-assistant started at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ by Argo CD \(auto-sync\)$/,
    );
    expect(reply.text).toBe(
      `Followed it instead: Succeeded at ${short('h2')} — successfully synced (all tasks run). Now: sync Synced, health Healthy.`,
    );
    expect(r.steps[0]).toBe(
      `⚠ This sync was not started: another operation began in the meantime (an auto-sync to ${short('h2')} was requested and has not started yet); following it instead.`,
    );
    // The bot's one write was refused; it read again and wrote nothing more.
    const patches = operationPatches('home-assistant');
    expect(patches.map((p) => p.status)).toEqual([409]);
    const after = kube.requests.slice(kube.requests.indexOf(patches[0]!) + 1);
    expect(after[0]).toMatchObject({ method: 'GET', path: `${APPS}/home-assistant` });
    // Exactly one operation ran: the auto-sync, as it asked.
    expect(kube.controller.syncs.filter((s) => s.app === 'home-assistant')).toEqual([
      expect.objectContaining({
        phase: 'Succeeded',
        initiatedBy: 'automated',
        revision: sha('h2'),
      }),
    ]);
    expect(status('home-assistant').history.at(-1).initiatedBy).toEqual({ automated: true });
    expect(kube.application('home-assistant')?.operation == null).toBe(true);
  });

  it('a conflict from any other change: read again and start the sync', async () => {
    kube.beforeRequest(isOperationPatch('paperless'), () => {
      kube.store.mutate('applications', 'argocd', 'paperless', (a) => {
        a.metadata.labels = { team: 'docs' };
      });
    });
    const r = await run('/argo sync paperless');
    expect(r.last().title, JSON.stringify(r.last())).toBe(
      `paperless synced to ${short('p1-head')}`,
    );
    const patches = operationPatches('paperless');
    expect(patches.map((p) => p.status)).toEqual([409, 200]);
    const [first, second] = patches.map((p) => (p.body as Json).metadata.resourceVersion);
    expect(Number(second)).toBeGreaterThan(Number(first));
    expect(kube.controller.syncs.filter((s) => s.app === 'paperless')).toHaveLength(1);
  });
});
