/**
 * Issue #14: the Deployment deploy/ ships, run through the fake Kubernetes API. Its pod template
 * becomes a pod as the ReplicaSet would create it (homelab-chatops-<pod-template-hash>-<suffix>,
 * the template's labels, owned by the ReplicaSet) on the node its nodeSelector picks; the
 * container's env is what the kubelet gives it (the image's ENV, the plain values, the downward
 * API fieldRefs resolved against that pod); the config is deploy/config.yaml loaded with that
 * env by the bot's own loader. `/node drain pi5` then evicts every other pod on pi5 and leaves
 * the bot's — nothing here names the pod, its namespace or its node by hand.
 */
import { randomInt } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import type { ChatUser } from '../../src/core/invocation.js';
import { FakeKube, type KObject, type NodeSpec } from '../fakes/kube/fake-kube.js';
import { taintCordonedNodes, UNSCHEDULABLE_TAINT } from '../fakes/kube/node-lifecycle.js';
import { runCommand, runConfirmed, startApp } from '../helpers/app-fixture.js';
import { baseResources, DEPLOY, type Obj, one, ROOT, readYaml } from './manifests.js';

const resources = baseResources();
const deployment = one(resources, 'Deployment', 'homelab-chatops');
const template = deployment.spec.template;
const container = template.spec.containers[0];
const namespace: string = deployment.metadata.namespace;
const rawConfig = readYaml(path.join(DEPLOY, 'config.yaml'));

// --- the ReplicaSet controller -----------------------------------------------------------------

/** k8s.io/apimachinery util/rand: the alphabet of generated names (no vowels, no 0/1/3). */
const ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789';
const safeEncode = (s: string) =>
  [...s].map((c) => ALPHANUMS[c.charCodeAt(0) % ALPHANUMS.length]).join('');

/**
 * The pod-template-hash label and the ReplicaSet's name suffix (pkg/controller
 * controller_utils.go ComputeHash: FNV-32a of the template, its decimal digits safe-encoded).
 * The real hash prints the Go struct; the template's JSON stands in for it.
 */
function podTemplateHash(tpl: Obj): string {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(JSON.stringify(tpl))) {
    hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  }
  return safeEncode(String(hash));
}

/** generateName `<replicaset>-`: five random characters of the same alphabet. */
const generatedSuffix = () =>
  Array.from({ length: 5 }, () => ALPHANUMS[randomInt(ALPHANUMS.length)]).join('');

// --- the scheduler -----------------------------------------------------------------------------

interface Toleration {
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: string;
}

/** k8s.io/api core/v1 toleration.go ToleratesTaint. */
function tolerates(t: Toleration, taint: { key: string; value?: string; effect: string }) {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  if (t.operator === 'Exists') return true;
  return !!t.key && (t.value ?? '') === (taint.value ?? '');
}

/** The nodes the pod may run on: nodeSelector, Ready, and (cordoned) NodeUnschedulable's check. */
function feasibleNodes(nodes: KObject[], spec: Obj): string[] {
  const tolerations = (spec.tolerations ?? []) as Toleration[];
  return nodes
    .filter((n) =>
      Object.entries((spec.nodeSelector ?? {}) as Record<string, string>).every(
        ([k, v]) => n.metadata.labels?.[k] === v,
      ),
    )
    .filter((n) =>
      (n.status as { conditions: { type: string; status: string }[] }).conditions.some(
        (c) => c.type === 'Ready' && c.status === 'True',
      ),
    )
    .filter(
      (n) =>
        !(n.spec as { unschedulable?: boolean }).unschedulable ||
        tolerations.some((t) => tolerates(t, UNSCHEDULABLE_TAINT)),
    )
    .filter((n) =>
      ((n.spec as { taints?: { key: string; value?: string; effect: string }[] }).taints ?? [])
        .filter((taint) => taint.effect === 'NoSchedule' || taint.effect === 'NoExecute')
        .every((taint) => tolerations.some((t) => tolerates(t, taint))),
    )
    .map((n) => n.metadata.name);
}

// --- the kubelet -------------------------------------------------------------------------------

/** A downward API fieldRef (pkg/api/v1/pod util.go + fieldpath): what the kubelet resolves. */
function resolveFieldRef(pod: KObject, ref: { fieldPath: string; apiVersion?: string }): string {
  if (ref.apiVersion && ref.apiVersion !== 'v1') {
    throw new Error(`fieldRef ${ref.fieldPath}: apiVersion ${ref.apiVersion} not resolved here`);
  }
  const spec = pod.spec as { nodeName?: string; serviceAccountName?: string };
  const byPath: Record<string, string | undefined> = {
    'metadata.name': pod.metadata.name,
    'metadata.namespace': pod.metadata.namespace,
    'metadata.uid': pod.metadata.uid,
    'spec.nodeName': spec.nodeName,
    'spec.serviceAccountName': spec.serviceAccountName,
  };
  const label = /^metadata\.labels\['(.+)'\]$/.exec(ref.fieldPath);
  const value = label ? pod.metadata.labels?.[label[1]!] : byPath[ref.fieldPath];
  if (value === undefined) throw new Error(`fieldRef ${ref.fieldPath}: not resolved here`);
  return value;
}

/** ENV of the Dockerfile's last stage (what the image sets before the Deployment's env). */
function imageEnv(): Record<string, string> {
  const text = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const lastStage = text.split(/^FROM /m).pop()!;
  const env: Record<string, string> = {};
  for (const line of lastStage.split('\n').filter((l) => l.startsWith('ENV '))) {
    for (const [, k, v] of line.slice(4).matchAll(/(\w+)=(\S+)/g)) env[k!] = v!;
  }
  return env;
}

/** The container's environment in `pod`: the image's ENV, then each env entry in order. */
function containerEnv(pod: KObject, entries: Obj[]): Record<string, string> {
  const env = imageEnv();
  for (const e of entries) {
    if (typeof e.value === 'string') {
      env[e.name] = e.value.replace(/\$\((\w+)\)/g, (m: string, n: string) => env[n] ?? m);
    } else if (e.valueFrom?.fieldRef && Object.keys(e.valueFrom).length === 1) {
      env[e.name] = resolveFieldRef(pod, e.valueFrom.fieldRef);
    } else {
      throw new Error(`env ${e.name}: ${JSON.stringify(e.valueFrom)} not resolved here`);
    }
  }
  return env;
}

// --- the cluster and the bot -------------------------------------------------------------------

/** The lab's K3s nodes, as deploy/config.yaml's inventory names them. */
const labNodes: NodeSpec[] = (rawConfig.inventory.nodes as Obj[])
  .filter((n) => n.k3sName)
  .map((n) => ({
    name: n.k3sName,
    ready: true,
    roles: [n.roles.includes('control-plane') ? 'control-plane' : 'worker'],
    version: 'v1.31.4+k3s1',
  }));

/** The shipped config's admin (access.roles.admin), on Discord. */
const admin: ChatUser = {
  platform: 'discord',
  id: String(rawConfig.access.roles.admin.members[0]).replace(/^discord:/, ''),
  displayName: 'alice',
};

const tmp = mkdtempSync(path.join(tmpdir(), 'chatops-own-drain-'));
let kube: FakeKube;
let app: App;
let stopTainting: () => void;
let botPod: KObject;
let podEnv: Record<string, string>;
let config: Config;

/** deploy/config.yaml as the pod loads it: secret files as temp files, the state dir a temp dir. */
function loadAsThePod(env: Record<string, string>): Config {
  const mount = (container.volumeMounts as Obj[]).find((m) => m.name === 'secrets')!.mountPath;
  const secrets = path.join(tmp, 'secrets');
  mkdirSync(secrets, { recursive: true });
  const keys = Object.keys(readYaml(path.join(DEPLOY, 'secret.example.yaml')).stringData);
  for (const key of keys) writeFileSync(path.join(secrets, key), `placeholder ${key}\n`);
  const file = path.join(tmp, 'config.yaml');
  const text = readFileSync(path.join(DEPLOY, 'config.yaml'), 'utf8');
  writeFileSync(file, text.replaceAll(`${mount}/`, `${secrets}/`));
  return loadConfig({ file, env: { ...env, CHATOPS_STATE_DIR: path.join(tmp, 'state') } }).config;
}

beforeAll(async () => {
  kube = await FakeKube.start({
    nodes: labNodes,
    pods: [
      { namespace: 'default', name: 'web-5d8c7f9b6d-x2k4q', node: 'pi5', ownerKind: 'ReplicaSet' },
      { namespace: 'home', name: 'vikunja-0', node: 'pi5', ownerKind: 'StatefulSet' },
      {
        namespace,
        name: 'chatops-backup-29015040-j7d2m',
        node: 'pi5',
        ownerKind: 'Job',
      },
      {
        namespace: 'default',
        name: 'grafana-6b9d5c7f84-m9p2t',
        node: 'pi4-a',
        ownerKind: 'ReplicaSet',
      },
    ],
  });
  kube.evictionBehaviour = { deleteAfterMs: 50, reschedule: true };
  stopTainting = taintCordonedNodes(kube.store);

  // The ReplicaSet the Deployment makes, and the pod it creates; the scheduler binds it.
  const hash = podTemplateHash(template);
  const replicaSet = `${deployment.metadata.name}-${hash}`;
  const [node, ...more] = feasibleNodes(kube.store.list('nodes'), template.spec);
  expect(more).toEqual([]);
  const created = kube.addPod({
    namespace,
    name: `${replicaSet}-${generatedSuffix()}`,
    node: node!,
    ownerKind: 'ReplicaSet',
    ownerName: replicaSet,
  });
  botPod = kube.store.mutate('pods', namespace, created.metadata.name, (p) => {
    p.metadata.labels = { ...template.metadata.labels, 'pod-template-hash': hash };
    const spec = p.spec as Obj;
    spec.serviceAccountName = template.spec.serviceAccountName;
    spec.nodeSelector = template.spec.nodeSelector;
    spec.tolerations = template.spec.tolerations;
    spec.containers = [
      { ...spec.containers[0], name: container.name, image: container.image, env: container.env },
    ];
  })!;

  podEnv = containerEnv(botPod, container.env);
  config = loadAsThePod(podEnv);
  app = await startApp({
    ...config,
    // No Discord or Matrix server here: commands reach the dispatcher directly, as from a chat.
    chat: { ...config.chat, discord: undefined, matrix: undefined },
    http: { ...config.http, enabled: false },
    alerts: { ...config.alerts, enabled: false },
    // The lab's repo is out of reach: a local task repo in the state dir.
    tasks: { ...config.tasks, repo: undefined },
    // The fake API server, as the ServiceAccount (the shipped RBAC is enforced).
    kube: { ...config.kube, inCluster: false, kubeconfig: kube.kubeconfigFile },
  });
}, 30_000);

afterAll(async () => {
  await app?.stop();
  stopTainting?.();
  await kube?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('the pod deploy/ describes', () => {
  it('is the ReplicaSet’s pod, in the namespace deploy/ creates, as the ServiceAccount the fake authorizes', () => {
    expect(one(resources, 'Namespace', namespace).metadata.name).toBe('chatops');
    const sa = one(resources, 'ServiceAccount', template.spec.serviceAccountName);
    expect(sa.metadata.namespace).toBe(namespace);
    expect(botPod.metadata.name).toMatch(
      new RegExp(`^homelab-chatops-[${ALPHANUMS}]{1,10}-[${ALPHANUMS}]{5}$`),
    );
    expect(botPod.metadata.ownerReferences).toMatchObject([
      { kind: 'ReplicaSet', controller: true, name: botPod.metadata.name.replace(/-[^-]+$/, '') },
    ]);
    expect(deployment.spec.selector.matchLabels).toEqual(template.metadata.labels);
    expect(botPod.metadata.labels).toMatchObject(deployment.spec.selector.matchLabels);
    expect((botPod.spec as Obj).nodeName).toBe('pi5');
  });

  it('gets its name, namespace and node from the downward API, and the config takes them', () => {
    expect({
      POD_NAME: podEnv.POD_NAME,
      POD_NAMESPACE: podEnv.POD_NAMESPACE,
      NODE_NAME: podEnv.NODE_NAME,
    }).toEqual({ POD_NAME: botPod.metadata.name, POD_NAMESPACE: namespace, NODE_NAME: 'pi5' });
    expect(config.self).toEqual({ pod: botPod.metadata.name, namespace, node: 'pi5' });
  });

  it('a fieldRef the resolver does not know fails instead of passing through', () => {
    expect(() =>
      containerEnv(botPod, [{ name: 'X', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }]),
    ).toThrow(/status\.podIP: not resolved/);
    expect(() =>
      containerEnv(botPod, [
        { name: 'X', valueFrom: { resourceFieldRef: { resource: 'limits.memory' } } },
      ]),
    ).toThrow(/env X/);
  });
});

describe('/node drain pi5, the bot’s own node', () => {
  const own = () => `${namespace}/${botPod.metadata.name}`;

  it('the plan leaves the bot’s pod running', async () => {
    const r = await runCommand(app, '/node drain pi5 dry_run:true', admin);
    expect(r.last().code).toMatch(
      new RegExp(`\\n\\d+\\. leave ${own()} \\(this bot\\) running: every other pod goes first$`),
    );
  });

  it('evicts every other pod on pi5 and leaves the bot’s', async () => {
    const { proposal, result } = await runConfirmed(app, '/node drain pi5', admin);
    expect(proposal.code).toContain(`leave ${own()} (this bot) running`);
    const reply = result.last();
    expect(reply.severity).not.toBe('error');
    expect(reply.text).toContain(`${own()} (this bot) stays`);
    expect(kube.evictions.map((e) => `${e.namespace}/${e.name} ${e.outcome}`).sort()).toEqual([
      `${namespace}/chatops-backup-29015040-j7d2m evicted`,
      'default/web-5d8c7f9b6d-x2k4q evicted',
      'home/vikunja-0 evicted',
    ]);
    expect(kube.pods('pi5').map((p) => p.metadata.name)).toEqual([botPod.metadata.name]);
    expect(kube.pods('pi5')[0]!.metadata.uid).toBe(botPod.metadata.uid);
    expect(kube.pods('pi4-a').map((p) => p.metadata.name)).toContain('grafana-6b9d5c7f84-m9p2t');
    // As system:serviceaccount:<namespace>:<serviceAccountName>, within the shipped RBAC.
    const sa = template.spec.serviceAccountName;
    expect(new Set(kube.requests.map((r) => r.user))).toEqual(
      new Set([`system:serviceaccount:${namespace}:${sa}`]),
    );
    expect(kube.denied).toEqual([]);
  });

  it('pi5 cordoned carries the taint the Deployment tolerates: the pod could be scheduled back', async () => {
    const pi5 = await kube.waitFor(() => {
      const n = kube.node('pi5');
      return (n?.spec as Obj | undefined)?.taints?.length ? n : undefined;
    });
    expect(pi5.spec).toMatchObject({
      unschedulable: true,
      taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }],
    });
    const taints = (pi5.spec as Obj).taints as { key: string; effect: string }[];
    const tolerations = template.spec.tolerations as Toleration[];
    for (const taint of taints) expect(tolerations.some((t) => tolerates(t, taint))).toBe(true);
    // The scheduler would bind a replacement of the bot's pod to pi5 again, and only there.
    expect(feasibleNodes(kube.store.list('nodes'), template.spec)).toEqual(['pi5']);
    // Without the toleration it would stay Pending.
    expect(feasibleNodes(kube.store.list('nodes'), { ...template.spec, tolerations: [] })).toEqual(
      [],
    );
  });
});
