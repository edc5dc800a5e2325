/**
 * Every manifest in deploy/ parses and is valid for the API it is written for: built-in kinds
 * against Kubernetes 1.34's schemas (kubernetes-models) with unknown fields refused; Argo CD
 * and prometheus-operator resources against the CRDs those projects publish.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { crdFor, crdValidators } from './crd-schema.js';
import { format, validateBuiltin } from './k8s-schema.js';
import {
  allDeployObjects,
  DEPLOY,
  loadKustomization,
  type Manifest,
  type Obj,
  readYamlDocs,
  rel,
} from './manifests.js';

/** Every .yaml/.yml under deploy/ (the dot file .sops.yaml too). */
function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return yamlFiles(p);
    return /\.ya?ml$/.test(e.name) ? [p] : [];
  });
}

const files = yamlFiles(DEPLOY);
/** Partial objects by design; kustomization.test.ts checks what they produce. */
const patches = new Set(loadKustomization(path.join(DEPLOY, 'examples')).patchFiles.map(rel));
/** kustomize's own files and KSOPS generators: not sent to the API server. */
const isKustomizeConfig = (m: Manifest) =>
  m.doc.apiVersion.startsWith('kustomize.config.k8s.io/') || m.doc.kind === 'ksops';
const objects = allDeployObjects(files).filter(
  (m) => !isKustomizeConfig(m) && !patches.has(m.file),
);
const isCustom = (doc: Obj) => /^(argoproj\.io|monitoring\.coreos\.com)\//.test(doc.apiVersion);

describe('deploy/ manifests', () => {
  it('every YAML file parses (all documents, no warnings)', () => {
    expect(files.length).toBeGreaterThan(15);
    for (const f of files) expect(() => readYamlDocs(f), f).not.toThrow();
  });

  it('covers the kinds the bot needs', () => {
    const kinds = new Set(objects.map((m) => m.doc.kind));
    for (const kind of [
      'Namespace',
      'ServiceAccount',
      'ClusterRole',
      'ClusterRoleBinding',
      'Role',
      'RoleBinding',
      'Deployment',
      'PersistentVolumeClaim',
      'Service',
      'Secret',
      'Application',
      'ServiceMonitor',
      'PrometheusRule',
      'AlertmanagerConfig',
    ]) {
      expect(kinds, kind).toContain(kind);
    }
  });

  it.each(
    objects.filter((m) => !isCustom(m.doc)).map((m) => [`${m.file} ${m.doc.kind}`, m] as const),
  )('%s is valid for Kubernetes 1.34, no unknown fields', async (_name, m) => {
    expect(format(await validateBuiltin(m.doc))).toBe('');
  });

  it.each(
    objects.filter((m) => isCustom(m.doc)).map((m) => [`${m.file} ${m.doc.kind}`, m] as const),
  )('%s is valid for its published CRD', (_name, m) => {
    const crd = crdFor(m.doc);
    expect(crd, `a CRD fixture for ${m.doc.apiVersion} ${m.doc.kind}`).toBeDefined();
    expect(format(crd!.validate(m.doc))).toBe('');
  });
});

describe('the validators refuse what the API server refuses', () => {
  const deployment = objects.find((m) => m.doc.kind === 'Deployment')!.doc;

  it('a wrong type', async () => {
    const bad = structuredClone(deployment);
    bad.spec.replicas = 'one';
    expect(format(await validateBuiltin(bad))).toMatch(/spec\/replicas: must be integer/);
  });

  it('a misspelt field deep in the pod template', async () => {
    const bad = structuredClone(deployment);
    bad.spec.template.spec.containers[0].readinesProbe = {};
    expect(format(await validateBuiltin(bad))).toContain('unknown field "readinesProbe"');
  });

  it('a missing required field', async () => {
    const bad = structuredClone(deployment);
    delete bad.spec.selector;
    expect(format(await validateBuiltin(bad))).toMatch(/selector/);
  });

  it('custom resources: unknown fields, wrong enums and types', () => {
    const app = objects.find((m) => m.doc.kind === 'Application')!.doc;
    const typo = structuredClone(app);
    typo.spec.syncPolicy.automated.selfheal = true;
    expect(format(crdFor(typo)!.validate(typo))).toContain('"selfheal"');

    const rule = objects.find((m) => m.doc.kind === 'PrometheusRule')!.doc;
    const noExpr = structuredClone(rule);
    delete noExpr.spec.groups[0].rules[0].expr;
    expect(format(crdFor(noExpr)!.validate(noExpr))).toMatch(/expr/);

    const amc = objects.find((m) => m.doc.kind === 'AlertmanagerConfig')!.doc;
    const badType = structuredClone(amc);
    badType.spec.receivers[0].webhookConfigs[0].maxAlerts = 'fifty';
    expect(format(crdFor(badType)!.validate(badType))).toMatch(/maxAlerts: must be integer/);
  });

  it('the CRD fixtures load: Argo CD Application, ServiceMonitor, PrometheusRule, AlertmanagerConfig', () => {
    expect([...crdValidators().keys()].sort()).toEqual([
      'argoproj.io/Application',
      'monitoring.coreos.com/AlertmanagerConfig',
      'monitoring.coreos.com/PrometheusRule',
      'monitoring.coreos.com/ServiceMonitor',
    ]);
  });
});
