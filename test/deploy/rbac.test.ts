/**
 * The RBAC in deploy/ is exactly what the code calls: every Kubernetes API call in src/ (the
 * client-node methods on `.core` / `.custom`, and the watch paths) has an entry in CALLS, and
 * the rules grant the union of those entries, nothing more. A new call fails this test until
 * it is added here and to the roles. Also: the names that tie the pieces together.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { baseResources, DEPLOY, type Obj, one, ROOT, readYaml } from './manifests.js';

type Scope = 'cluster' | 'argocd';
interface Need {
  scope: Scope;
  apiGroup: string;
  resource: string;
  verb: string;
}

/** client-node call (or watch path) → the permission it needs. */
const CALLS: Record<string, Need> = {
  'core.readNode': { scope: 'cluster', apiGroup: '', resource: 'nodes', verb: 'get' },
  'core.listNode': { scope: 'cluster', apiGroup: '', resource: 'nodes', verb: 'list' },
  'watch /api/v1/nodes': { scope: 'cluster', apiGroup: '', resource: 'nodes', verb: 'watch' },
  'core.patchNode': { scope: 'cluster', apiGroup: '', resource: 'nodes', verb: 'patch' },
  'core.listPodForAllNamespaces': {
    scope: 'cluster',
    apiGroup: '',
    resource: 'pods',
    verb: 'list',
  },
  'watch /api/v1/pods': { scope: 'cluster', apiGroup: '', resource: 'pods', verb: 'watch' },
  'core.createNamespacedPodEviction': {
    scope: 'cluster',
    apiGroup: '',
    resource: 'pods/eviction',
    verb: 'create',
  },
  'custom.getNamespacedCustomObject': {
    scope: 'argocd',
    apiGroup: 'argoproj.io',
    resource: 'applications',
    verb: 'get',
  },
  'custom.listNamespacedCustomObject': {
    scope: 'argocd',
    apiGroup: 'argoproj.io',
    resource: 'applications',
    verb: 'list',
  },
  'watch appPath': {
    scope: 'argocd',
    apiGroup: 'argoproj.io',
    resource: 'applications',
    verb: 'watch',
  },
  'custom.patchNamespacedCustomObject': {
    scope: 'argocd',
    apiGroup: 'argoproj.io',
    resource: 'applications',
    verb: 'patch',
  },
  // src/infra/longhorn.ts: listNamespacedCustomObject for each of LONGHORN_PLURALS (#16).
  ...Object.fromEntries(
    ['volumes', 'replicas', 'engines', 'nodes', 'settings', 'backups'].map((r) => [
      `longhorn.list ${r}`,
      { scope: 'cluster' as const, apiGroup: 'longhorn.io', resource: r, verb: 'list' },
    ]),
  ),
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Every API call in the bot's code, as CALLS names them. */
function callsInCode(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const add = (call: string, file: string) => {
    found.set(call, [...(found.get(call) ?? []), path.relative(ROOT, file)]);
  };
  for (const file of [
    ...sourceFiles(path.join(ROOT, 'src')),
    ...sourceFiles(path.join(ROOT, 'commands')),
  ]) {
    const text = readFileSync(file, 'utf8');
    // Calls on a client-node API object: this.core.x(, kube.core.x(, this.custom.x(, …
    for (const m of text.matchAll(/\.(core|custom)\.(\w+)\(/g)) add(`${m[1]}.${m[2]}`, file);
    // Watches (kube-watch.ts follow()): `path: '/api/v1/…'` or `path: appPath(…)`.
    // (Kubernetes paths only: /api/v1/…, /apis/…; Pi-hole's /api/… are not.)
    for (const m of text.matchAll(/\bpath: '(\/api\/v1\/[^']*|\/apis\/[^']*)'/g)) {
      add(`watch ${m[1]}`, file);
    }
    for (const m of text.matchAll(/\bpath: (appPath)\(/g)) add(`watch ${m[1]}`, file);
    // Longhorn (src/infra/longhorn.ts): one list call per name in LONGHORN_PLURALS.
    const plurals = /LONGHORN_PLURALS = \[([^\]]*)\]/.exec(text);
    if (plurals && text.includes('.listNamespacedCustomObject(')) {
      for (const m of plurals[1]!.matchAll(/'(\w+)'/g)) add(`longhorn.list ${m[1]}`, file);
    }
  }
  return found;
}

const resources = baseResources();
const clusterRole = readYaml(path.join(DEPLOY, 'clusterrole.yaml'));
const argoRole = readYaml(path.join(DEPLOY, 'argocd-role.yaml'));

/** A role's rules as "group resource verb" lines. */
function grants(role: Obj): string[] {
  return (role.rules as Obj[])
    .flatMap((r) =>
      (r.apiGroups as string[]).flatMap((g) =>
        (r.resources as string[]).flatMap((res) =>
          (r.verbs as string[]).map((v) => `${g} ${res} ${v}`),
        ),
      ),
    )
    .sort();
}

const needs = (scope: Scope) =>
  [
    ...new Set(
      Object.values(CALLS)
        .filter((n) => n.scope === scope)
        .map((n) => `${n.apiGroup} ${n.resource} ${n.verb}`),
    ),
  ].sort();

describe('RBAC from the code', () => {
  it('every Kubernetes API call in src/ and commands/ is known here', () => {
    const found = callsInCode();
    const unknown = [...found.entries()].filter(([call]) => !(call in CALLS));
    expect(unknown, 'new calls: add them to CALLS and to the roles in deploy/').toEqual([]);
    // And nothing here that the code no longer calls (the roles would grant too much).
    expect([...found.keys()].sort()).toEqual(Object.keys(CALLS).sort());
  });

  it('the ClusterRole grants exactly the cluster-wide calls, and no wildcard', () => {
    expect(grants(clusterRole)).toEqual(needs('cluster'));
    expect(JSON.stringify(clusterRole.rules)).not.toContain('*');
  });

  it('the Role in argocd grants exactly the Application calls', () => {
    expect(argoRole.metadata.namespace).toBe('argocd');
    expect(grants(argoRole)).toEqual(needs('argocd'));
    const config = readYaml(path.join(DEPLOY, 'config.yaml'));
    expect(config.argo.namespace).toBe(argoRole.metadata.namespace);
  });

  it('the role files name each call next to its rule', () => {
    const text = [
      readFileSync(path.join(DEPLOY, 'clusterrole.yaml'), 'utf8'),
      readFileSync(path.join(DEPLOY, 'argocd-role.yaml'), 'utf8'),
    ].join('\n');
    for (const call of Object.keys(CALLS)) {
      const name = call.startsWith('watch ') ? call.slice(6) : call.split('.')[1]!;
      expect(text, call).toContain(name);
    }
  });
});

describe('the names that tie the pieces together', () => {
  const deployment = one(resources, 'Deployment', 'homelab-chatops');
  const podLabels = deployment.spec.template.metadata.labels;

  it('the Deployment selects its own pods; the Service selects them too', () => {
    expect(podLabels).toMatchObject(deployment.spec.selector.matchLabels);
    const service = one(resources, 'Service', 'homelab-chatops');
    expect(podLabels).toMatchObject(service.spec.selector);
    expect(service.metadata.namespace).toBe(deployment.metadata.namespace);
  });

  it('the pod runs as the ServiceAccount both bindings name, bound to the roles above', () => {
    const sa = one(resources, 'ServiceAccount');
    expect(deployment.spec.template.spec.serviceAccountName).toBe(sa.metadata.name);
    expect(sa.metadata.namespace).toBe(deployment.metadata.namespace);
    for (const [bindingKind, role] of [
      ['ClusterRoleBinding', clusterRole],
      ['RoleBinding', argoRole],
    ] as const) {
      const binding = one(resources, bindingKind);
      expect(binding.subjects).toEqual([
        { kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace },
      ]);
      expect(binding.roleRef).toEqual({
        apiGroup: 'rbac.authorization.k8s.io',
        kind: role.kind,
        name: role.metadata.name,
      });
      if (bindingKind === 'RoleBinding') expect(binding.metadata.namespace).toBe('argocd');
    }
  });

  it('everything lives in the chatops Namespace the base creates (RBAC for argocd aside)', () => {
    const ns = one(resources, 'Namespace').metadata.name;
    expect(ns).toBe('chatops');
    const elsewhere = resources
      .filter((m) => m.doc.metadata.namespace && m.doc.metadata.namespace !== ns)
      .map((m) => `${m.doc.kind} ${m.doc.metadata.namespace}`)
      .sort();
    expect(elsewhere).toEqual([
      'AlertmanagerConfig monitoring',
      'Role argocd',
      'RoleBinding argocd',
    ]);
  });
});
