/**
 * `kube.inCluster: true`, as in the pod deploy/ describes: client-node's loadFromCluster builds
 * https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT and trusts
 * <root>/var/run/secrets/kubernetes.io/serviceaccount/ca.crt, sending that directory's token
 * (the kubelet mounts them; here `kube.inClusterRoot` points at a copy). The fake serves TLS
 * with a self-signed certificate for 127.0.0.1 and authorizes every request against the shipped
 * RBAC as the ServiceAccount the token belongs to.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { Kube } from '../../src/infra/kube.js';
import { FakeKube } from '../fakes/kube/fake-kube.js';
import { selfSignedCert } from '../fakes/kube/tls.js';
import { runCommand, runConfirmed, startApp, testConfig } from '../helpers/app-fixture.js';
import { rejection } from '../helpers/rejection.js';

const SA = 'system:serviceaccount:chatops:homelab-chatops';
const ENV = ['KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT'] as const;

let kube: FakeKube;
let app: App;
let root: string;
const savedEnv = new Map<string, string | undefined>();

beforeAll(async () => {
  kube = await FakeKube.start({
    tls: true,
    nodes: [
      { name: 'x86', ready: true, roles: ['control-plane'], version: 'v1.31.4+k3s1' },
      { name: 'pi4-a', ready: true, roles: ['worker'], version: 'v1.31.4+k3s1' },
    ],
    pods: [
      {
        namespace: 'default',
        name: 'web-7d9f-abcde',
        node: 'pi4-a',
        ownerKind: 'ReplicaSet',
        ownerName: 'web-7d9f',
      },
      {
        namespace: 'kube-system',
        name: 'svclb-traefik-pi4a',
        node: 'pi4-a',
        ownerKind: 'DaemonSet',
        ownerName: 'svclb-traefik',
      },
    ],
  });
  kube.evictionBehaviour = { deleteAfterMs: 50, reschedule: false };
  // What the kubelet mounts into the pod for its ServiceAccount.
  root = mkdtempSync(path.join(tmpdir(), 'in-cluster-'));
  const saDir = path.join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
  mkdirSync(saDir, { recursive: true });
  writeFileSync(path.join(saDir, 'token'), kube.token);
  copyFileSync(kube.caFile, path.join(saDir, 'ca.crt'));
  writeFileSync(path.join(saDir, 'namespace'), 'chatops');
  // What the kubelet sets in every container's environment for the kubernetes Service.
  for (const k of ENV) savedEnv.set(k, process.env[k]);
  process.env.KUBERNETES_SERVICE_HOST = '127.0.0.1';
  process.env.KUBERNETES_SERVICE_PORT = new URL(kube.url).port;
  app = await startApp(
    testConfig({
      inventory: loadConfig({ env: {} }).config.inventory,
      kube: { inCluster: true, inClusterRoot: root },
      access: { roles: { admin: { members: ['console:*'], allow: ['*'] } } },
      nodeOps: { drainTimeoutSeconds: 10 },
    }),
  );
}, 30_000);

afterAll(async () => {
  await app?.stop();
  await kube?.stop();
  for (const [k, v] of savedEnv) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('kube.inCluster: the service account over TLS', () => {
  it('lists the nodes with their K3s state', async () => {
    expect(kube.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const reply = (await runCommand(app, '/node list')).last();
    expect(reply.text).toBeUndefined();
    expect(reply.code).toMatch(/pi4-a\s+\S+\s+raspios\s+worker\s+Ready/);
    expect(reply.code).toMatch(/x86\s+\S+\s+nixos\s+control-plane\s+Ready/);
  });

  it('drains a node through the shipped RBAC', async () => {
    const { result } = await runConfirmed(app, '/node drain pi4-a');
    expect(result.last().title, JSON.stringify(result.last())).toMatch(/pi4-a/);
    expect(result.steps).toContain('evicted default/web-7d9f-abcde');
    expect(kube.evictions.map((e) => `${e.namespace}/${e.name} ${e.outcome}`)).toEqual([
      'default/web-7d9f-abcde evicted',
    ]);
    expect(kube.node('pi4-a')?.spec).toMatchObject({ unschedulable: true });
  });

  it('trusts only the mounted ca.crt: another certificate fails the handshake', async () => {
    const other = mkdtempSync(path.join(tmpdir(), 'in-cluster-other-'));
    try {
      const saDir = path.join(other, 'var/run/secrets/kubernetes.io/serviceaccount');
      mkdirSync(saDir, { recursive: true });
      writeFileSync(path.join(saDir, 'token'), kube.token);
      copyFileSync(selfSignedCert(other).certFile, path.join(saDir, 'ca.crt'));
      const before = kube.requests.length;
      const err = await rejection(Kube.load({ inCluster: true, inClusterRoot: other }).nodes());
      // Node's verdict on the certificate (the request never reached the fake's handler).
      expect(err.message).toContain('(DEPTH_ZERO_SELF_SIGNED_CERT) while listing nodes');
      expect(kube.requests.length).toBe(before);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('every request came over TLS with the service account token, and none was denied', () => {
    expect(kube.requests.length).toBeGreaterThan(3);
    expect(kube.requests.filter((r) => !r.tls || r.user !== SA)).toEqual([]);
    expect(kube.denied).toEqual([]);
    expect(new Set(kube.authorizations.map((d) => `${d.verb} ${d.resource}`))).toEqual(
      // list volumes: the drain's Longhorn check (#16), answered 404 — no Longhorn in this cluster.
      new Set([
        'list nodes',
        'list pods',
        'patch nodes',
        'create pods',
        'watch pods',
        'list volumes',
      ]),
    );
  });
});
