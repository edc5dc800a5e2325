/**
 * Issue #14, "RBAC proven both ways": the bot runs every command family that touches the
 * Kubernetes API (real sshd nodes for the reboot, the fake API authorizing each request against
 * the ClusterRole, Role and bindings deploy/ ships, as the bot's ServiceAccount). It must be
 * enough — nothing is denied — and it must be no more than that: every verb × resource of every
 * shipped role is used by at least one request, so a rule nobody needs fails here by name and
 * must leave deploy/. And one rule taken away shows what the user sees when a role is short.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import type { Reply } from '../../src/core/reply.js';
import { type AuthzDecision, FakeKube } from '../fakes/kube/fake-kube.js';
import { markNodeStatusUnknown, postKubeletStatus } from '../fakes/kube/node-status.js';
import { grantKey, grantsOf } from '../fakes/kube/rbac.js';
import { shippedRbac, withoutGrant } from '../fakes/kube/shipped-rbac.js';
import { realSetTimeout } from '../fakes/kube/store.js';
import {
  kubeNodesFor,
  labOverrides,
  runCommand,
  startApp,
  testConfig,
} from '../helpers/app-fixture.js';
import { RecordingResponder } from '../helpers/dispatcher.js';
import { type LabNodeSpec, type SshLab, startSshLab } from '../helpers/ssh-lab.js';

const SA = 'system:serviceaccount:chatops:homelab-chatops';

const NODES: LabNodeSpec[] = [
  { name: 'x86', os: 'nixos', roles: ['control-plane'], k3sName: 'x86', groups: ['k3s'] },
  { name: 'pi4-a', os: 'raspios', roles: ['worker'], k3sName: 'pi4-a', groups: ['k3s', 'pis'] },
  { name: 'pi4-b', os: 'raspios', roles: ['worker'], k3sName: 'pi4-b', groups: ['k3s', 'pis'] },
];

const PODS = [
  {
    namespace: 'home-assistant',
    name: 'home-assistant-0',
    node: 'pi4-a',
    ownerKind: 'StatefulSet' as const,
    ownerName: 'home-assistant',
  },
  {
    namespace: 'default',
    name: 'web-7d9f-abcde',
    node: 'pi4-a',
    ownerKind: 'ReplicaSet' as const,
    ownerName: 'web-7d9f',
  },
  {
    namespace: 'kube-system',
    name: 'svclb-traefik-pi4a',
    node: 'pi4-a',
    ownerKind: 'DaemonSet' as const,
    ownerName: 'svclb-traefik',
  },
];

const APPS = [
  {
    name: 'home-assistant',
    syncStatus: 'OutOfSync' as const,
    health: 'Healthy' as const,
    revision: 'v1',
    headRevision: 'v2',
  },
  {
    name: 'nextcloud',
    syncStatus: 'Synced' as const,
    health: 'Healthy' as const,
    revision: 'n2',
    history: [
      { id: 0, revision: 'n1' },
      { id: 1, revision: 'n2' },
    ],
  },
];

let lab: SshLab;

async function startBot(kube: FakeKube): Promise<App> {
  return startApp(
    testConfig({
      ...labOverrides(lab, kube),
      nodeOps: {
        drainTimeoutSeconds: 10,
        rebootTimeoutSeconds: 20,
        readyTimeoutSeconds: 20,
        statusTimeoutSeconds: 3,
      },
      argo: { syncTimeoutSeconds: 20 },
    }),
  );
}

/** Runs a command, confirming it when it asks; what the conversation saw. */
async function run(app: App, text: string): Promise<RecordingResponder> {
  const r = await runCommand(app, text);
  const code = r.last().confirm?.code;
  if (code)
    await app.dispatcher.confirm(
      code,
      { platform: 'console', id: 'ops', displayName: 'ops' },
      new RecordingResponder(),
    );
  return r;
}

const show = (reply: Reply) => JSON.stringify(reply);
const describeDecision = (d: AuthzDecision) =>
  `${d.verb} ${d.resource}${d.subresource ? `/${d.subresource}` : ''}${d.apiGroup ? `.${d.apiGroup}` : ''}${d.namespace ? ` in ${d.namespace}` : ''}: ${d.reason}`;

beforeAll(async () => {
  lab = await startSshLab({ rebootDelayMs: 1000, nodes: NODES });
}, 60_000);

afterAll(async () => {
  await lab?.stop();
});

describe('the shipped RBAC is enough for every command, and nothing more', () => {
  let kube: FakeKube;
  let app: App;
  /** Decisions per command, for the failure messages. */
  const byCommand = new Map<string, AuthzDecision[]>();

  beforeAll(async () => {
    kube = await FakeKube.start({
      nodes: kubeNodesFor(NODES),
      pods: PODS,
      applications: APPS,
      // Longhorn installed, with no replica on pi4-a (its reboot has no rebuild to wait for).
      longhorn: {
        nodes: ['x86', 'pi4-a', 'pi4-b'],
        volumes: [{ name: 'pvc-ha', replicas: ['x86', 'pi4-b'], backups: [{ ageHours: 2 }] }],
      },
    });
    kube.evictionBehaviour = { deleteAfterMs: 50, reschedule: true };
    app = await startBot(kube);
  }, 60_000);

  afterAll(async () => {
    await app?.stop();
    await kube?.stop();
  });

  /** Runs the command; checks its answer; no request it made was denied. */
  async function step(text: string, expectTitle: string | RegExp): Promise<RecordingResponder> {
    const from = kube.authorizations.length;
    const r = await run(app, text);
    const decisions = kube.authorizations.slice(from);
    byCommand.set(text, decisions);
    expect(decisions.filter((d) => !d.allowed).map(describeDecision), text).toEqual([]);
    expect(r.last().title, show(r.last())).toMatch(expectTitle);
    return r;
  }

  it('/node list, /node status: nodes and their pods', async () => {
    const list = await step('/node list', '3 nodes');
    expect(list.last().code).toMatch(/pi4-a\s+\S+\s+raspios\s+worker\s+Ready/);
    const status = await step('/node status pi4-a', '1 node up');
    expect(status.last().code).toMatch(/pi4-a\s+up\s.*Ready v1\.31\.4\+k3s1 3 pods/);
  }, 30_000);

  it('/node cordon, /node uncordon', async () => {
    await step('/node cordon pi4-b', /pi4-b/);
    expect(kube.node('pi4-b')?.spec).toMatchObject({ unschedulable: true });
    await step('/node uncordon pi4-b', /pi4-b/);
    expect(kube.node('pi4-b')?.spec).toMatchObject({ unschedulable: false });
  }, 30_000);

  it('/node drain (evictions, then a watch until the pods are gone), /node reboot (a watch until Ready)', async () => {
    const drain = await step('/node drain pi4-a', /pi4-a/);
    expect(drain.steps.join('\n')).toContain('evicted default/web-7d9f-abcde');
    await step('/node uncordon pi4-a', /pi4-a/);
    // The kubelet around the reboot: when the bot starts waiting the node controller has marked
    // the silent node Unknown; a moment later the kubelet posts Ready with the new boot id — so
    // the bot has to watch the node, not just read it once.
    kube.beforeRequest(
      (q) =>
        q.method === 'GET' &&
        q.path === '/api/v1/nodes' &&
        q.query.fieldSelector === 'metadata.name=pi4-a' &&
        q.query.watch === undefined,
      () => {
        markNodeStatusUnknown(kube.store, 'pi4-a');
        realSetTimeout(
          () => postKubeletStatus(kube.store, 'pi4-a', lab.node('pi4-a').bootId()),
          300,
        );
      },
    );
    const reboot = await step('/node reboot pi4-a', 'pi4-a rebooted');
    expect(reboot.steps).toContain('uncordoned pi4-a');
    expect(lab.node('pi4-a').reboots()).toBe(1);
  }, 60_000);

  it('/storage status, /storage volume: Longhorn volumes, replicas, engines, nodes, settings, backups', async () => {
    await step('/storage status', 'Longhorn: 1 volume — 1 healthy');
    await step('/storage volume pvc-ha', 'pvc-ha: healthy, attached');
  }, 30_000);

  it('/argo list, /argo status, /argo sync (followed by a watch), /argo refresh, /argo rollback', async () => {
    await step('/argo list', '2 Argo CD applications');
    await step('/argo status home-assistant', 'home-assistant: OutOfSync, Healthy');
    await step('/argo sync home-assistant', /^home-assistant synced to /);
    await step('/argo refresh nextcloud', /^Refreshed nextcloud: /);
    await step('/argo rollback nextcloud 0', /nextcloud/);
    expect(kube.controller.syncs.map((s) => `${s.app} ${s.phase}`)).toEqual([
      'home-assistant Succeeded',
      'nextcloud Succeeded',
    ]);
  }, 60_000);

  it('every request came from the ServiceAccount, and none was denied', () => {
    expect(kube.requests.length).toBeGreaterThan(20);
    expect(kube.requests.filter((r) => r.user !== SA)).toEqual([]);
    expect(kube.denied.map(describeDecision)).toEqual([]);
  });

  it('every verb × resource of every shipped role was used by some command', () => {
    const used = new Set(kube.authorizations.flatMap((d) => (d.grant ? [grantKey(d.grant)] : [])));
    const rules = grantsOf(shippedRbac()).map(grantKey);
    expect(rules.length).toBeGreaterThan(0);
    const unused = rules.filter((k) => !used.has(k));
    expect(
      unused,
      `rules no command exercised — remove them from deploy/ (commands run: ${[...byCommand.keys()].join(', ')})`,
    ).toEqual([]);
    // Which command needed what, e.g. `/node drain pi4-a` → create pods/eviction.
    const need = (text: string) =>
      new Set(
        (byCommand.get(text) ?? []).flatMap((d) =>
          d.grant ? [`${d.grant.verb} ${d.grant.resource}`] : [],
        ),
      );
    expect([...need('/node drain pi4-a')]).toEqual(
      expect.arrayContaining(['patch nodes', 'list pods', 'create pods/eviction', 'watch pods']),
    );
    expect([...need('/node reboot pi4-a')]).toEqual(expect.arrayContaining(['watch nodes']));
    expect([...need('/storage status')].sort()).toEqual([
      'list backups',
      'list engines',
      'list nodes',
      'list replicas',
      'list settings',
      'list volumes',
    ]);
    // The reboot's Longhorn check before the proposal and again before it runs.
    expect([...need('/node reboot pi4-a')]).toEqual(expect.arrayContaining(['list volumes']));
    expect([...need('/argo sync home-assistant')]).toEqual(
      expect.arrayContaining(['get applications', 'patch applications', 'watch applications']),
    );
  });
});

describe('a role without pods/eviction create', () => {
  let kube: FakeKube;
  let app: App;

  beforeAll(async () => {
    kube = await FakeKube.start({
      nodes: kubeNodesFor(NODES),
      pods: PODS,
      rbac: withoutGrant(shippedRbac(), { resource: 'pods/eviction', verb: 'create' }),
    });
    app = await startBot(kube);
  }, 60_000);

  afterAll(async () => {
    await app?.stop();
    await kube?.stop();
  });

  it('/node drain fails with a message that names the forbidden call', async () => {
    const r = await run(app, '/node drain pi4-a');
    const reply = r.last();
    expect(reply.severity).toBe('error');
    expect(reply.title).toMatch(
      /^The Kubernetes API refused the bot \(403 Forbidden\) while evicting (default\/web-7d9f-abcde|home-assistant\/home-assistant-0) from pi4-a\.$/,
    );
    expect(reply.text).toMatch(
      new RegExp(
        `^The bot's account may not do this: pods "(web-7d9f-abcde|home-assistant-0)" is forbidden: User "${SA}" cannot create resource "pods/eviction" in API group "" in the namespace "(default|home-assistant)"\\.$`,
      ),
    );
    // Only evictions were denied (each evictable pod at most once: a 403 is not retried);
    // nothing was evicted, and the cordon before them went through.
    const denied = kube.denied.map(describeDecision);
    expect(denied.length).toBeGreaterThan(0);
    expect(denied.length).toBeLessThanOrEqual(2);
    for (const d of denied)
      expect(d).toMatch(/^create pods\/eviction in (default|home-assistant): /);
    expect(kube.evictions).toEqual([]);
    expect(kube.node('pi4-a')?.spec).toMatchObject({ unschedulable: true });
  }, 30_000);
});
