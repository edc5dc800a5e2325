/**
 * /argo end to end: the App in-process, the real @kubernetes/client-node against the fake
 * Kubernetes API with its simulated Argo CD controller.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { UserError } from '../../src/core/errors.js';
import { Inventory } from '../../src/core/inventory.js';
import { silentLogger } from '../../src/core/logger.js';
import { Argo } from '../../src/infra/argo.js';
import { Kube } from '../../src/infra/kube.js';
import { FakeKube, type KObject, type RequestRecord } from '../fakes/kube/fake-kube.js';
import { sha } from '../fakes/kube/seed.js';
import { consoleOps, runCommand, startApp, testConfig } from '../helpers/app-fixture.js';
import { RecordingResponder } from '../helpers/dispatcher.js';

let kube: FakeKube;
let app: App;
const OPS_LABEL = 'console:ops (ops)';
const APPS = '/apis/argoproj.io/v1alpha1/namespaces/argocd/applications';

beforeAll(async () => {
  kube = await FakeKube.start({
    nodes: [{ name: 'x86', ready: true, roles: ['control-plane'] }],
    applications: [
      {
        name: 'home-assistant',
        syncStatus: 'OutOfSync',
        health: 'Healthy',
        revision: 'v1',
        headRevision: 'v2',
      },
      {
        name: 'pihole-exporter',
        syncStatus: 'Synced',
        health: 'Healthy',
        revision: 'v7',
        autoSync: true,
        history: [
          { id: 0, revision: 'v6' },
          { id: 1, revision: 'v7' },
        ],
      },
      {
        name: 'nextcloud',
        syncStatus: 'Synced',
        health: 'Healthy',
        revision: 'n2',
        history: [
          { id: 0, revision: 'n1' },
          { id: 1, revision: 'n2' },
        ],
      },
      {
        name: 'grafana',
        syncStatus: 'OutOfSync',
        health: 'Degraded',
        revision: 'g1',
        headRevision: 'g2',
        retry: { limit: 2 },
        resources: [
          { group: 'apps', kind: 'Deployment', name: 'grafana' },
          { kind: 'Service', name: 'grafana' },
          { kind: 'ConfigMap', name: 'grafana-dashboards' },
          { kind: 'Secret', name: 'grafana-admin' },
        ],
      },
      { name: 'immich', syncStatus: 'OutOfSync', health: 'Healthy', revision: 'i1' },
      { name: 'paperless', syncStatus: 'OutOfSync', health: 'Healthy', revision: 'p1' },
      { name: 'jellyfin', syncStatus: 'OutOfSync', health: 'Healthy', revision: 'j1' },
      {
        name: 'vaultwarden',
        syncStatus: 'OutOfSync',
        health: 'Healthy',
        revision: 'w1',
        headRevision: 'w2',
        targetRevision: 'v1.30.1',
      },
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

/**
 * Runs a command that asks for confirmation and confirms it: the proposal, and what the
 * conversation saw after it (the confirmed run answers where it was asked).
 */
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
/** The bodies of the operation patches the fake received for an app. */
const operationPatches = (name: string): RequestRecord[] =>
  kube.requests.filter(
    (q) =>
      q.method === 'PATCH' && q.path === `${APPS}/${name}` && (q.body as Json)?.operation != null,
  );
const watchesOf = () =>
  kube.requests.filter((q) => q.path === APPS && q.query.watch === 'true').length;

describe('/argo against the fake Kubernetes API and its simulated Argo CD controller', () => {
  it('lists every application with sync, health, short revision and auto-sync', async () => {
    const r = await run('/argo list');
    const reply = r.last();
    expect(reply.title).toBe('8 Argo CD applications');
    const lines = reply.code!.split('\n');
    expect(lines[0]).toMatch(/^APP\s+SYNC\s+HEALTH\s+REVISION\s+AUTO-SYNC$/);
    expect(lines.find((l) => l.startsWith('home-assistant'))).toMatch(
      new RegExp(`^home-assistant\\s+OutOfSync\\s+Healthy\\s+${sha('v1').slice(0, 7)}\\s+off$`),
    );
    expect(lines.find((l) => l.startsWith('pihole-exporter'))).toMatch(
      new RegExp(`^pihole-exporter\\s+Synced\\s+Healthy\\s+${sha('v7').slice(0, 7)}\\s+on$`),
    );
    expect(lines).toHaveLength(9);
  });

  it('shows the status of an app: sync, health, revision, resources that need attention', async () => {
    const reply = (await run('/argo status grafana')).last();
    expect(reply.title).toBe('grafana: OutOfSync, Degraded');
    expect(reply.fields).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'Sync', value: `OutOfSync (${sha('g1').slice(0, 7)})` }),
        expect.objectContaining({ name: 'Health', value: 'Degraded' }),
        expect.objectContaining({ name: 'Auto-sync', value: 'off' }),
      ]),
    );
    expect(reply.text).toBe('4 of 4 resources out of sync or unhealthy:');
    expect(reply.code).toMatch(/Deployment grafana\/grafana\s+OutOfSync\s+Degraded/);
    expect(reply.code).toMatch(/Secret grafana\/grafana-admin\s+OutOfSync\s+Degraded/);
  });

  it('answers an unknown app with a suggestion and the apps there are', async () => {
    const r = await run('/argo status home-asistant');
    expect(r.sent[0]?.ephemeral).toBe(true);
    const reply = r.last();
    expect(reply.severity).toBe('error');
    expect(reply.title).toBe(
      'Argo CD has no application "home-asistant" in namespace argocd. Did you mean "home-assistant"?',
    );
    expect(reply.text).toContain('home-assistant, immich, jellyfin, nextcloud');
    // A sync of an unknown app sends no patch.
    const s = (await run('/argo sync nextclod')).last();
    expect(s.title).toContain('Did you mean "nextcloud"?');
    expect(operationPatches('nextclod')).toEqual([]);
  });

  it('syncs an app and follows it to success: progress in place, a step per resource, history', async () => {
    const r = await run('/argo sync home-assistant');
    const reply = r.last();
    expect(reply.severity, JSON.stringify(reply)).toBe('success');
    expect(reply.title).toBe(`home-assistant synced to ${sha('v2').slice(0, 7)}`);
    expect(reply.text).toMatch(
      /^3 resources synced in \d+ s\. Now: sync Synced, health Healthy\.$/,
    );
    // The progress message, edited in place.
    const texts = r.progressed.map((p) => p.text ?? '');
    expect(texts).toContain('0/3 resources synced — phase Running\none or more tasks are running');
    expect(texts.some((t) => /^[12]\/3 resources synced — phase Running/.test(t))).toBe(true);
    expect(texts.at(-1)).toMatch(/^3\/3 resources synced — phase Succeeded/);
    expect(r.progressed.at(-1)?.progress).toEqual({ done: 3, total: 3, label: 'Succeeded' });
    // One step line per resource as its result is known.
    expect(r.steps).toEqual([
      '✔ Deployment home-assistant/home-assistant: Synced — deployment.apps/home-assistant configured',
      '✔ Service home-assistant/home-assistant: Synced — service/home-assistant configured',
      '✔ ConfigMap home-assistant/home-assistant-config: Synced — configmap/home-assistant-config configured',
    ]);
    // What the API server received: exactly the operation of the design, as a merge patch.
    const patches = operationPatches('home-assistant');
    expect(patches).toHaveLength(1);
    expect(patches[0]?.contentType).toBe('application/merge-patch+json');
    // The app has no syncOptions and no retry: the operation has none either (as Argo CD's).
    expect(patches[0]?.body).toEqual({
      metadata: { resourceVersion: expect.stringMatching(/^\d+$/) },
      operation: {
        initiatedBy: { username: OPS_LABEL },
        sync: { revision: 'HEAD', prune: false, syncStrategy: { hook: {} } },
      },
    });
    // What Argo CD recorded.
    const s = status('home-assistant');
    expect(s.sync).toMatchObject({ status: 'Synced', revision: sha('v2') });
    expect(s.history.at(-1)).toMatchObject({
      id: 1,
      revision: sha('v2'),
      initiatedBy: { username: OPS_LABEL },
    });
    expect(kube.application('home-assistant')?.operation == null).toBe(true);
    // /argo status shows the operation that just ran.
    const st = (await run('/argo status home-assistant')).last();
    expect(st.title).toBe('home-assistant: Synced, Healthy');
    expect(st.fields?.find((f) => f.name === 'Last operation')?.value).toMatch(
      new RegExp(
        `^sync to ${sha('v2').slice(0, 7)} by console:ops \\(ops\\) \\(.+\\): Succeeded — successfully synced`,
      ),
    );
    expect(st.text).toBe('All 3 resources synced and healthy.');
  });

  it('reports a failed sync with the failed resources and their messages', async () => {
    kube.controller.configure('grafana', {
      ticks: 2,
      tickMs: 20,
      fail: {
        resources: [
          {
            kind: 'Deployment',
            name: 'grafana',
            message: 'admission webhook "policy" denied the request: image tag latest not allowed',
          },
          {
            kind: 'Secret',
            name: 'grafana-admin',
            message: 'secrets "grafana-admin" is forbidden',
          },
        ],
      },
    });
    const r = await run('/argo sync grafana');
    const reply = r.last();
    expect(reply.severity, JSON.stringify(reply)).toBe('error');
    expect(reply.title).toBe(`Sync of grafana to ${sha('g2').slice(0, 7)}: Failed`);
    expect(reply.text).toContain(
      'one or more objects failed to apply, reason: admission webhook "policy" denied the request',
    );
    expect(reply.text).toContain('(after 2 retries)');
    expect(reply.text).toContain('Now: sync OutOfSync, health Degraded.');
    expect(reply.fields).toEqual([
      {
        name: 'Deployment grafana/grafana',
        value: 'admission webhook "policy" denied the request: image tag latest not allowed',
      },
      { name: 'Secret grafana/grafana-admin', value: 'secrets "grafana-admin" is forbidden' },
    ]);
    expect(r.steps).toContain(
      '✖ Deployment grafana/grafana: SyncFailed — admission webhook "policy" denied the request: image tag latest not allowed',
    );
    expect(r.progressed.some((p) => /\(retry 2\)/.test(p.text ?? ''))).toBe(true);
    expect(kube.controller.syncs.filter((s) => s.app === 'grafana')).toEqual([
      expect.objectContaining({ phase: 'Failed', attempts: 3 }),
    ]);
    expect(status('grafana').history).toHaveLength(1);
    kube.controller.configure('grafana', { fail: null });
  });

  it('refuses a second sync while one runs, with the reason; only one operation is sent', async () => {
    kube.controller.configure('immich', { ticks: 8, tickMs: 80 });
    const first = run('/argo sync immich');
    await kube.waitFor(() => status('immich').operationState?.phase === 'Running');
    const second = await run('/argo sync immich');
    const refusal = second.last();
    expect(refusal.severity).toBe('error');
    expect(refusal.title).toMatch(
      /^Not syncing immich: another operation is already in progress — a sync is in phase Running to HEAD started by console:ops \(ops\) at \S+/,
    );
    expect(refusal.text).toBe('Wait for it to finish (/argo status immich), then try again.');
    // prune:true asks for confirmation, but a busy app is refused before the proposal.
    const pruned = (await run('/argo sync immich prune:true')).last();
    expect(pruned.confirm).toBeUndefined();
    expect(pruned.title).toMatch(/^Not syncing immich: another operation/);
    expect((await first).last().title).toBe(`immich synced to ${sha('i1-head').slice(0, 7)}`);
    expect(operationPatches('immich')).toHaveLength(1);
    expect(kube.controller.syncs.filter((s) => s.app === 'immich')).toHaveLength(1);
  });

  it('resumes a watch that drops in the middle of a sync and still follows it to the end', async () => {
    kube.controller.configure('paperless', { ticks: 6, tickMs: 80 });
    const watchesBefore = watchesOf();
    const sync = run('/argo sync paperless');
    await kube.waitFor(
      () => (status('paperless').operationState?.syncResult?.resources?.length ?? 0) >= 1,
    );
    await kube.waitFor(() => kube.openWatches.length > 0);
    expect(kube.dropWatches()).toBeGreaterThan(0);
    const r = await sync;
    expect(r.last().severity, JSON.stringify(r.last())).toBe('success');
    expect(r.last().title).toBe(`paperless synced to ${sha('p1-head').slice(0, 7)}`);
    expect(r.steps).toHaveLength(3);
    expect(r.progressed.at(-1)?.text).toMatch(/^3\/3 resources synced — phase Succeeded/);
    // The watch was opened again (from the last resourceVersion seen).
    expect(watchesOf() - watchesBefore).toBeGreaterThanOrEqual(2);
    const resumed = kube.requests.filter((q) => q.path === APPS && q.query.watch === 'true').at(-1);
    expect(resumed?.query.resourceVersion).toMatch(/^\d+$/);
  });

  it('without a revision, syncs to what the app tracks (its target revision), not the default branch', async () => {
    const r = await run('/argo sync vaultwarden');
    expect(r.last().title, JSON.stringify(r.last())).toBe(
      `vaultwarden synced to ${sha('w2').slice(0, 7)}`,
    );
    const patches = operationPatches('vaultwarden');
    expect((patches[0]!.body as Json).operation.sync.revision).toBe('v1.30.1');
    expect(status('vaultwarden').sync).toMatchObject({ status: 'Synced', revision: sha('w2') });
    // A dry run does not read the app: its plan names the field the revision comes from.
    const dry = (await run('/argo sync vaultwarden dry_run:true')).last();
    expect(dry.text).toContain(
      'Sync vaultwarden to its target revision, and follow it to the end.',
    );
    expect(dry.code).toContain('"revision":"<spec.source.targetRevision>"');
  });

  it('asks for confirmation before a sync with prune:true and shows the exact patch', async () => {
    const { proposal, result } = await runConfirmed('/argo sync jellyfin prune:true');
    const p = proposal;
    // The version the plan read is the one the write is conditional on.
    const rv = (operationPatches('jellyfin')[0]!.body as Json).metadata.resourceVersion;
    expect(p.code).toContain(
      `1. PATCH ${APPS}/jellyfin (application/merge-patch+json) {"metadata":{"resourceVersion":"${rv}"},"operation":{"initiatedBy":{"username":"${OPS_LABEL}"},"sync":{"revision":"HEAD","prune":true,"syncStrategy":{"hook":{}}}}}`,
    );
    expect(p.fields?.[0]?.value).toContain('deletes the resources that are no longer in Git');
    expect(result.last().title).toBe(`jellyfin synced to ${sha('j1-head').slice(0, 7)}`);
    const patches = operationPatches('jellyfin');
    expect(patches).toHaveLength(1);
    expect((patches[0]!.body as Json).operation.sync.prune).toBe(true);
    // Without prune there is no confirmation; dry_run only shows the plan.
    const dry = (await run('/argo sync jellyfin v9 dry_run:true')).last();
    expect(dry.code).toContain('"revision":"v9","prune":false');
    expect(operationPatches('jellyfin')).toHaveLength(1);
  });

  it('refuses a rollback while auto-sync is on, with the reason', async () => {
    const reply = (await run('/argo rollback pihole-exporter 0')).last();
    expect(reply.severity).toBe('error');
    expect(reply.confirm).toBeUndefined();
    expect(reply.title).toBe(
      'Not rolling back pihole-exporter: auto-sync is enabled (spec.syncPolicy.automated).',
    );
    expect(reply.text).toContain('Argo CD refuses rollbacks while auto-sync is on');
    expect(operationPatches('pihole-exporter')).toEqual([]);
  });

  it('rolls back to a history entry when auto-sync is off: a sync to that revision', async () => {
    const { proposal, result } = await runConfirmed('/argo rollback nextcloud 0');
    expect(proposal.code).toContain(`"revision":"${sha('n1')}"`);
    const reply = result.last();
    expect(reply.severity, JSON.stringify(reply)).toBe('success');
    expect(reply.title).toBe(`nextcloud synced to ${sha('n1').slice(0, 7)}`);
    expect(reply.text).toContain('Now: sync OutOfSync, health Healthy.');
    expect((operationPatches('nextcloud')[0]!.body as Json).operation).toMatchObject({
      initiatedBy: { username: OPS_LABEL },
      sync: { revision: sha('n1'), prune: false },
    });
    const s = status('nextcloud');
    expect(s.sync).toMatchObject({ status: 'OutOfSync', revision: sha('n1') });
    expect(s.history.map((h: Json) => h.revision)).toEqual([sha('n1'), sha('n2'), sha('n1')]);
    // An id that is not in the history.
    const bad = (await run('/argo rollback nextcloud 7')).last();
    expect(bad.title).toBe('nextcloud has no history entry 7.');
    expect(bad.text).toContain(`0 (${sha('n1').slice(0, 7)})`);
  });

  it('refreshes an app: the annotation, then the new state once Argo CD removed it', async () => {
    kube.controller.configure('pihole-exporter', { headRevision: 'v8' });
    const r = await run('/argo refresh pihole-exporter hard:true');
    const reply = r.last();
    expect(reply.title, JSON.stringify(reply)).toBe(
      'Refreshed pihole-exporter: OutOfSync, Healthy',
    );
    const patch = kube.requests.find(
      (q) => q.method === 'PATCH' && q.path === `${APPS}/pihole-exporter`,
    );
    expect(patch?.body).toEqual({
      metadata: { annotations: { 'argocd.argoproj.io/refresh': 'hard' } },
    });
    const annotations = (kube.application('pihole-exporter') as KObject).metadata.annotations;
    expect(annotations?.['argocd.argoproj.io/refresh']).toBeUndefined();
  });

  it('offers app names for autocomplete', async () => {
    const { suggest } = await import('../../src/core/autocomplete.js');
    const choices = await suggest('argo-apps', 'p', {
      inventory: new Inventory([]),
      services: app.services,
    });
    expect(choices.map((c) => c.value)).toEqual(['paperless', 'pihole-exporter']);
  });

  it('gives up following after the timeout and says where the sync stood', async () => {
    kube.controller.configure('home-assistant', { ticks: 30, tickMs: 100 });
    const argo = new Argo(Kube.load({ kubeconfig: kube.kubeconfigFile }), {
      namespace: 'argocd',
      logger: silentLogger(),
    });
    const err = await argo.sync('home-assistant', { initiatedBy: 'test', timeoutMs: 600 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toMatch(/^The sync of home-assistant did not finish within/);
    expect((err as UserError).hint).toMatch(
      /^It stood at phase Running, \d\/3 resources synced: one or more tasks are running\. Argo CD carries on with it/,
    );
    await kube.waitFor(
      () => status('home-assistant').operationState?.phase === 'Succeeded',
      10_000,
    );
  }, 15_000);
});
