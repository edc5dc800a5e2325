/**
 * The kustomizations in deploy/ hold together: everything they list exists (or is the
 * SOPS-encrypted copy of an example that docs/deployment.md has you create), generated names
 * match their references, the image placeholder is the one `images:` replaces, and the example
 * overlay's patches name base resources and still give valid objects.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { format, validateBuiltin } from './k8s-schema.js';
import {
  baseResources,
  DEPLOY,
  loadKustomization,
  type Obj,
  one,
  ROOT,
  readYaml,
  readYamlDocs,
  rel,
} from './manifests.js';

const base = loadKustomization(DEPLOY);
const example = loadKustomization(path.join(DEPLOY, 'examples'));
const resources = baseResources();
const deployment = one(resources, 'Deployment', 'homelab-chatops');
const podSpec = deployment.spec.template.spec;
const sopsConfig = readYaml(path.join(DEPLOY, '.sops.yaml'));

/** KSOPS generator files and the files they decrypt. */
const generators = [...new Set([...base.generatorFiles, ...example.generatorFiles])].map((f) => ({
  file: f,
  doc: readYaml(f),
  encrypted: (readYaml(f).files as string[]).map((e) => path.resolve(path.dirname(f), e)),
}));

describe('deploy/kustomization.yaml', () => {
  it('lists every resource file of the base (nothing in deploy/ left out by mistake)', () => {
    const listed = new Set(base.resourceFiles.map(rel));
    for (const f of [
      'namespace.yaml',
      'serviceaccount.yaml',
      'clusterrole.yaml',
      'clusterrolebinding.yaml',
      'argocd-role.yaml',
      'argocd-rolebinding.yaml',
      'pvc.yaml',
      'service.yaml',
      'deployment.yaml',
      'monitoring/servicemonitor.yaml',
      'monitoring/prometheusrule.yaml',
      'monitoring/alertmanagerconfig.yaml',
    ]) {
      expect(listed, f).toContain(f);
    }
    // Not for the cluster: the Argo CD app goes to kubernetes/argocd-apps/; examples are examples.
    expect([...listed].filter((f) => /argocd\/|example/.test(f))).toEqual([]);
  });

  it.each([
    ['deploy/', base],
    ['deploy/examples/', example],
  ])('everything %s lists exists', (_name, k) => {
    expect(k.listed.length).toBeGreaterThan(0);
    for (const item of k.listed) {
      expect(existsSync(item.path), `${item.from} ${item.field}: ${rel(item.path)}`).toBe(true);
      if (item.field === 'components') expect(statSync(item.path).isDirectory()).toBe(true);
    }
  });

  it('a Component is declared as one (kustomize refuses a Kustomization under components:)', () => {
    for (const item of base.listed.filter((l) => l.field === 'components')) {
      const doc = readYaml(path.join(item.path, 'kustomization.yaml'));
      expect(doc).toMatchObject({
        apiVersion: 'kustomize.config.k8s.io/v1alpha1',
        kind: 'Component',
      });
    }
  });

  it('every KSOPS generator decrypts a *.sops.yaml you make from the example beside it, with the .sops.yaml rule', () => {
    expect(generators.map((g) => rel(g.file)).sort()).toEqual([
      'monitoring/secret-generator.yaml',
      'secret-generator.yaml',
    ]);
    const [rule] = sopsConfig.creation_rules as Obj[];
    expect(rule!.encrypted_regex).toBe('^(data|stringData)$');
    expect(rule!.age).toMatch(/^age1/);
    for (const g of generators) {
      expect(g.doc).toMatchObject({ apiVersion: 'viaduct.ai/v1', kind: 'ksops' });
      expect(g.doc.metadata.annotations['config.kubernetes.io/function']).toMatch(
        /exec:\s+path: ksops/,
      );
      for (const enc of g.encrypted) {
        expect(enc).toMatch(/\.sops\.yaml$/);
        // sops matches path_regex against the path it is given, relative or absolute.
        expect(new RegExp(rule!.path_regex).test(rel(enc)), rel(enc)).toBe(true);
        expect(new RegExp(rule!.path_regex).test(enc), enc).toBe(true);
        const example = enc.replace(/\.sops\.yaml$/, '.example.yaml');
        expect(existsSync(example), rel(example)).toBe(true);
        const secret = readYaml(example);
        expect(secret.kind).toBe('Secret');
        expect(secret.metadata.name).toBe(g.doc.metadata.name);
        // Only the values are encrypted: the example holds nothing else worth hiding.
        expect(Object.keys(secret).sort()).toEqual([
          'apiVersion',
          'kind',
          'metadata',
          'stringData',
          'type',
        ]);
      }
    }
  });

  it('the generated ConfigMap and Secret are the ones the Deployment mounts', () => {
    const volumes = podSpec.volumes as Obj[];
    const cm = base.configMaps.find((c) => c.name === 'chatops-config');
    expect(cm?.namespace).toBe('chatops');
    expect(cm?.files.map(rel)).toEqual(['config.yaml']);
    expect(volumes.find((v) => v.configMap)?.configMap.name).toBe('chatops-config');
    const secretName = volumes.find((v) => v.secret)?.secret.secretName;
    const botSecret = readYaml(path.join(DEPLOY, 'secret.example.yaml'));
    expect(secretName).toBe(botSecret.metadata.name);
    expect(botSecret.metadata.namespace).toBe(deployment.metadata.namespace);
  });

  it('the AlertmanagerConfig reads the token Secret generated in its own namespace', () => {
    const amc = one(resources, 'AlertmanagerConfig');
    const ref = amc.spec.receivers[0].webhookConfigs[0].httpConfig.authorization.credentials;
    const secret = readYaml(path.join(DEPLOY, 'monitoring/alertmanager-secret.example.yaml'));
    expect(secret.metadata).toMatchObject({ name: ref.name, namespace: amc.metadata.namespace });
    expect(Object.keys(secret.stringData)).toContain(ref.key);
  });

  it('images: replaces the image the Deployment names', () => {
    const k = readYaml(path.join(DEPLOY, 'kustomization.yaml'));
    const [image] = k.images as Obj[];
    const container = podSpec.containers[0];
    expect(container.image.replace(/:[^/:]+$/, '')).toBe(image!.name);
    expect(image!.newTag).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('the image is built for the Pis and the x86 server (scripts/docker-build.sh --push)', () => {
    const script = readFileSync(path.join(ROOT, 'scripts/docker-build.sh'), 'utf8');
    expect(script).toMatch(/^platforms=linux\/arm64,linux\/amd64$/m);
    expect(script).toMatch(/docker buildx build --platform "\$platforms"/);
  });

  it('the Namespace enforces Pod Security "restricted", and the pod meets it', () => {
    const ns = one(resources, 'Namespace', 'chatops');
    expect(ns.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
    const c = podSpec.containers[0];
    expect(podSpec.securityContext.runAsNonRoot).toBe(true);
    expect(podSpec.securityContext.seccompProfile.type).toBe('RuntimeDefault');
    expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
    expect(c.securityContext.capabilities).toEqual({ drop: ['ALL'] });
    const allowed = [
      'configMap',
      'secret',
      'emptyDir',
      'persistentVolumeClaim',
      'downwardAPI',
      'projected',
    ];
    for (const v of podSpec.volumes as Obj[]) {
      expect(Object.keys(v).filter((k) => k !== 'name')).toEqual([
        expect.toSatisfy((k: string) => allowed.includes(k)),
      ]);
    }
  });

  it('the Service keeps the pod while it is not ready (the webhook stores alerts meanwhile)', () => {
    expect(one(resources, 'Service', 'homelab-chatops').spec.publishNotReadyAddresses).toBe(true);
  });

  it('Argo CD never prunes the Namespace or the state PVC', () => {
    for (const kind of ['Namespace', 'PersistentVolumeClaim']) {
      expect(one(resources, kind).metadata.annotations['argocd.argoproj.io/sync-options']).toBe(
        'Prune=false',
      );
    }
  });

  it('the Argo CD Application syncs kubernetes/apps/chatops with prune + selfHeal, no CreateNamespace', () => {
    const app = readYaml(path.join(DEPLOY, 'argocd/application.yaml'));
    expect(app.metadata.namespace).toBe('argocd');
    expect(app.spec.source.path).toBe('kubernetes/apps/chatops');
    expect(app.spec.destination).toEqual({
      server: 'https://kubernetes.default.svc',
      namespace: one(resources, 'Namespace').metadata.name,
    });
    expect(app.spec.syncPolicy.automated).toEqual({ prune: true, selfHeal: true });
    expect(app.spec.syncPolicy.syncOptions).toEqual(['CreateNamespace=false']);
  });

  it('the ServiceMonitor and PrometheusRule carry kube-prometheus-stack’s selector label', () => {
    for (const kind of ['ServiceMonitor', 'PrometheusRule']) {
      expect(one(resources, kind).metadata.labels.release).toBe('kube-prometheus-stack');
    }
  });

  it('sets every namespaced object’s namespace itself (the base has no namespace: override)', () => {
    const k = readYaml(path.join(DEPLOY, 'kustomization.yaml'));
    expect(k.namespace).toBeUndefined();
    const clusterScoped = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding']);
    for (const m of resources) {
      if (clusterScoped.has(m.doc.kind)) expect(m.doc.metadata.namespace).toBeUndefined();
      else expect(m.doc.metadata.namespace, `${m.file} ${m.doc.kind}`).toMatch(/^[a-z]/);
    }
  });
});

/** A strategic merge patch, as far as these patches need it: maps merge, the rest replaces. */
function merge(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Obj = { ...((typeof target === 'object' && target) || {}) };
  for (const [k, v] of Object.entries(patch)) out[k] = merge(out[k], v);
  return out;
}

describe('deploy/examples (an overlay)', () => {
  const patches = example.patchFiles.map((f) => ({ file: rel(f), doc: readYamlDocs(f)[0]! }));

  it.each(patches.map((p) => [p.file, p] as const))(
    '%s patches a base resource and leaves it valid',
    async (_file, p) => {
      const target = resources.find(
        (m) =>
          m.doc.kind === p.doc.kind &&
          m.doc.apiVersion === p.doc.apiVersion &&
          m.doc.metadata.name === p.doc.metadata.name &&
          m.doc.metadata.namespace === p.doc.metadata.namespace,
      );
      expect(target, `${p.doc.kind} ${p.doc.metadata.name} in the base`).toBeDefined();
      const patched = merge(target!.doc, p.doc) as Obj;
      expect(format(await validateBuiltin(patched))).toBe('');
    },
  );

  it('moves the bot to another node and sets a storage class', () => {
    const byKind = Object.fromEntries(patches.map((p) => [p.doc.kind, p.doc]));
    const moved = merge(deployment, byKind.Deployment) as Obj;
    expect(deployment.spec.template.spec.nodeSelector).toEqual({ 'kubernetes.io/hostname': 'pi5' });
    expect(moved.spec.template.spec.nodeSelector).toEqual({ 'kubernetes.io/hostname': 'pi4-a' });
    const pvc = one(resources, 'PersistentVolumeClaim', 'chatops-state');
    expect(pvc.spec.storageClassName).toBeUndefined();
    expect((merge(pvc, byKind.PersistentVolumeClaim) as Obj).spec.storageClassName).toBe(
      'longhorn',
    );
  });
});
