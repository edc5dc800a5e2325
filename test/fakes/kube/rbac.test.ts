/**
 * The fake's RBAC, seen through the real @kubernetes/client-node: RequestInfo as the API server
 * derives it, the decisions the shipped roles give the bot's ServiceAccount, resourceNames,
 * RoleBindings limited to their namespace, and the exact 403 Status a denial answers.
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
import { rejection as rejectionOf } from '../../helpers/rejection.js';
import { FakeKube, type FakeKubeOptions, type RbacObject } from './fake-kube.js';
import { grantKey, grantsOf } from './rbac.js';
import { requestInfo } from './request-info.js';
import { shippedRbac, withoutGrant } from './shipped-rbac.js';

const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const SA = 'system:serviceaccount:chatops:homelab-chatops';
const APP = { group: 'argoproj.io', version: 'v1alpha1', plural: 'applications' };

const LAB: FakeKubeOptions = {
  nodes: [{ name: 'pi4-a', roles: ['worker'] }],
  pods: [{ namespace: 'apps', name: 'web-1', node: 'pi4-a', ownerKind: 'ReplicaSet' }],
  applications: [
    { name: 'home-assistant', syncStatus: 'Synced', health: 'Healthy', revision: 'v1' },
    { name: 'pihole-exporter', syncStatus: 'Synced', health: 'Healthy', revision: 'v7' },
  ],
};

let fake: FakeKube | undefined;
afterEach(async () => {
  await fake?.stop();
  fake = undefined;
});

async function start(rbac?: RbacObject[]) {
  fake = await FakeKube.start({ ...LAB, ...(rbac ? { rbac } : {}) });
  const kc = new KubeConfig();
  kc.loadFromFile(fake.kubeconfigFile);
  return {
    fake,
    core: kc.makeApiClient(CoreV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
  };
}

/** What client-node rejected with: an ApiException whose body is the response text. */
const rejection = async (p: Promise<unknown>) => (await rejectionOf(p)) as ApiException<string>;

const info = (method: string, url: string) => {
  const u = new URL(url, 'http://x');
  const i = requestInfo(method, u.pathname, u.searchParams);
  return [i.verb, i.apiGroup, i.resource, i.subresource, i.namespace, i.name].join('|');
};

describe('RequestInfo (requestinfo.go NewRequestInfo)', () => {
  it('derives verb, group, resource, subresource, namespace and name like the API server', () => {
    expect(info('GET', '/api/v1/nodes')).toBe('list||nodes|||');
    expect(info('GET', '/api/v1/nodes?watch=true')).toBe('watch||nodes|||');
    expect(info('GET', '/api/v1/nodes?watch=1')).toBe('watch||nodes|||');
    expect(info('GET', '/api/v1/nodes?watch=false')).toBe('list||nodes|||');
    expect(info('GET', '/api/v1/watch/nodes')).toBe('watch||nodes|||');
    expect(info('GET', '/api/v1/nodes/pi4-a')).toBe('get||nodes|||pi4-a');
    expect(info('PATCH', '/api/v1/nodes/pi4-a')).toBe('patch||nodes|||pi4-a');
    expect(info('PUT', '/api/v1/nodes/pi4-a')).toBe('update||nodes|||pi4-a');
    expect(info('DELETE', '/api/v1/nodes/pi4-a')).toBe('delete||nodes|||pi4-a');
    expect(info('DELETE', '/api/v1/namespaces/apps/pods')).toBe('deletecollection||pods||apps|');
    expect(info('POST', '/api/v1/namespaces/apps/pods/web-1/eviction')).toBe(
      'create||pods|eviction|apps|web-1',
    );
    expect(info('GET', '/api/v1/namespaces/apps/pods/web-1/log')).toBe('get||pods|log|apps|web-1');
    expect(info('GET', '/api/v1/namespaces/apps')).toBe('get||namespaces||apps|apps');
    expect(info('PUT', '/api/v1/namespaces/apps/finalize')).toBe(
      'update||namespaces|finalize|apps|apps',
    );
    expect(
      info('GET', '/apis/argoproj.io/v1alpha1/namespaces/argocd/applications?watch=true'),
    ).toBe('watch|argoproj.io|applications||argocd|');
    expect(info('GET', '/version')).toBe('get|||||');
    const v = requestInfo('GET', '/version', new URLSearchParams());
    expect(v.isResourceRequest).toBe(false);
  });
});

describe('FakeKube authorizes every request against RBAC', () => {
  it('lets the bot do what the shipped roles grant, recording the rule and binding used', async () => {
    const { fake, core, custom } = await start();
    await core.patchNode({ name: 'pi4-a', body: { spec: { unschedulable: true } } }, MERGE);
    await custom.getNamespacedCustomObject({ ...APP, namespace: 'argocd', name: 'home-assistant' });
    expect(fake.requests.map((r) => r.user)).toEqual([SA, SA]);
    expect(fake.authorizations.map((d) => [d.reason, d.grant && grantKey(d.grant)])).toEqual([
      [
        `RBAC: allowed by ClusterRoleBinding "homelab-chatops" of ClusterRole "homelab-chatops" to ServiceAccount "homelab-chatops/chatops"`,
        'ClusterRole homelab-chatops rules[0]: patch nodes',
      ],
      [
        `RBAC: allowed by RoleBinding "homelab-chatops/argocd" of Role "homelab-chatops" to ServiceAccount "homelab-chatops/chatops"`,
        'Role argocd/homelab-chatops rules[0]: get applications.argoproj.io',
      ],
    ]);
    expect(fake.denied).toEqual([]);
  });

  it('answers a missing rule with the API server’s 403 Status, at the cluster scope', async () => {
    const { fake, core } = await start(
      withoutGrant(shippedRbac(), { resource: 'nodes', verb: 'patch' }),
    );
    const err = await rejection(
      core.patchNode({ name: 'pi4-a', body: { spec: { unschedulable: true } } }, MERGE),
    );
    expect(err.code).toBe(403);
    expect(err.body).toBe(
      JSON.stringify({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: `nodes "pi4-a" is forbidden: User "${SA}" cannot patch resource "nodes" in API group "" at the cluster scope`,
        reason: 'Forbidden',
        details: { name: 'pi4-a', kind: 'nodes' },
        code: 403,
      }),
    );
    expect(fake.node('pi4-a')?.spec).not.toHaveProperty('unschedulable');
    expect(fake.denied).toMatchObject([
      { user: SA, verb: 'patch', resource: 'nodes', allowed: false },
    ]);
    expect(fake.dump()).toContain('FORBIDDEN (RBAC):');
  });

  it('keeps a Role to its namespace and names the namespace and group in the denial', async () => {
    const { fake, custom, core } = await start();
    fake.store.create('applications', {
      ...structuredClone(fake.application('home-assistant')!),
      metadata: { name: 'elsewhere', namespace: 'default' },
    });
    const err = await rejection(
      custom.patchNamespacedCustomObject(
        { ...APP, namespace: 'default', name: 'elsewhere', body: { metadata: {} } },
        MERGE,
      ),
    );
    expect(err.code).toBe(403);
    expect(JSON.parse(err.body)).toMatchObject({
      message: `applications.argoproj.io "elsewhere" is forbidden: User "${SA}" cannot patch resource "applications" in API group "argoproj.io" in the namespace "default"`,
      details: { name: 'elsewhere', group: 'argoproj.io', kind: 'applications' },
    });
    // A collection has no name: `applications.argoproj.io is forbidden`.
    const list = await rejection(
      custom.listNamespacedCustomObject({ ...APP, namespace: 'default' }),
    );
    expect(JSON.parse(list.body).message).toBe(
      `applications.argoproj.io is forbidden: User "${SA}" cannot list resource "applications" in API group "argoproj.io" in the namespace "default"`,
    );
    expect(JSON.parse(list.body).details).toEqual({ group: 'argoproj.io', kind: 'applications' });
    // No rule grants get on a pod, in any namespace.
    const pod = await rejection(core.readNamespacedPod({ namespace: 'apps', name: 'web-1' }));
    expect(JSON.parse(pod.body).message).toBe(
      `pods "web-1" is forbidden: User "${SA}" cannot get resource "pods" in API group "" in the namespace "apps"`,
    );
    // The ClusterRole's pods list applies in every namespace; its pods/eviction too.
    await core.listPodForAllNamespaces();
    await core.createNamespacedPodEviction({
      namespace: 'apps',
      name: 'web-1',
      body: {
        apiVersion: 'policy/v1',
        kind: 'Eviction',
        metadata: { name: 'web-1', namespace: 'apps' },
      },
    });
    expect(fake.evictions.map((e) => e.outcome)).toEqual(['evicted']);
  });

  it('respects resourceNames, `*/subresource`, and reports a binding to a missing role', async () => {
    const rbac: RbacObject[] = [
      {
        kind: 'Role',
        metadata: { name: 'one-app', namespace: 'argocd' },
        rules: [
          {
            apiGroups: ['argoproj.io'],
            resources: ['applications'],
            verbs: ['get'],
            resourceNames: ['home-assistant'],
          },
          { apiGroups: [''], resources: ['*/eviction'], verbs: ['create'] },
        ],
      },
      {
        kind: 'RoleBinding',
        metadata: { name: 'one-app', namespace: 'argocd' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'one-app' },
        subjects: [{ kind: 'ServiceAccount', name: 'homelab-chatops', namespace: 'chatops' }],
      },
      {
        kind: 'ClusterRoleBinding',
        metadata: { name: 'dangling' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'gone' },
        subjects: [{ kind: 'Group', name: 'system:serviceaccounts' }],
      },
    ];
    const { fake, custom } = await start(rbac);
    await custom.getNamespacedCustomObject({ ...APP, namespace: 'argocd', name: 'home-assistant' });
    const other = await rejection(
      custom.getNamespacedCustomObject({ ...APP, namespace: 'argocd', name: 'pihole-exporter' }),
    );
    expect(JSON.parse(other.body).message).toBe(
      `applications.argoproj.io "pihole-exporter" is forbidden: User "${SA}" cannot get resource "applications" in API group "argoproj.io" in the namespace "argocd": RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found`,
    );
    const list = await rejection(
      custom.listNamespacedCustomObject({ ...APP, namespace: 'argocd' }),
    );
    expect(list.code).toBe(403);
    expect(grantsOf(rbac).map(grantKey)).toEqual([
      'Role argocd/one-app rules[0]: get applications.argoproj.io',
      'Role argocd/one-app rules[1]: create */eviction',
    ]);
    expect(fake.authorizations.map((d) => d.allowed)).toEqual([true, false, false]);
  });

  it('lets the admin token do anything, and every user read /version', async () => {
    const { fake, core } = await start();
    const admin = new KubeConfig();
    admin.loadFromFile(fake.adminKubeconfigFile);
    await admin.makeApiClient(CoreV1Api).readNamespace({ name: 'apps' });
    const res = await fetch(`${fake.url}/version`, {
      headers: { Authorization: `Bearer ${fake.token}` },
    });
    expect(res.status).toBe(200);
    expect((await rejection(core.readNamespace({ name: 'apps' }))).code).toBe(403);
    expect(fake.authorizations.map((d) => [d.user, d.allowed])).toEqual([
      ['fake-admin', true],
      [SA, true],
      [SA, false],
    ]);
    expect(fake.authorizations.map((d) => d.reason)).toEqual([
      'system:masters',
      `RBAC: allowed by ClusterRoleBinding "system:public-info-viewer" of ClusterRole "system:public-info-viewer" to Group "system:authenticated"`,
      `namespaces "apps" is forbidden: User "${SA}" cannot get resource "namespaces" in API group "" in the namespace "apps"`,
    ]);
  });
});
