/**
 * Reads deploy/ the way kustomize does for what these tests need: a kustomization's
 * `resources` (files and directories), `components`, `generators`, `configMapGenerator` and
 * `patches`, every file parsed as multi-document YAML (the `yaml` package, YAML 1.2 core,
 * errors and warnings both fail). No rendering: names and references are checked by the tests.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const DEPLOY = path.join(ROOT, 'deploy');

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML is checked by schema, not by type
export type Obj = Record<string, any>;

export interface Manifest {
  /** Relative to deploy/. */
  file: string;
  /** 0-based document index in the file. */
  index: number;
  doc: Obj;
}

/** Every document of a YAML file; throws with the file and the parser's message. */
export function readYamlDocs(file: string): Obj[] {
  const text = readFileSync(file, 'utf8');
  const docs = parseAllDocuments(text, { prettyErrors: false });
  const list = Array.isArray(docs) ? docs : [docs];
  const out: Obj[] = [];
  for (const d of list) {
    const problems = [...d.errors, ...d.warnings];
    if (problems.length > 0) {
      throw new Error(`${path.relative(ROOT, file)}: ${problems.map((p) => p.message).join('; ')}`);
    }
    const value = d.toJS();
    if (value !== null && value !== undefined) out.push(value as Obj);
  }
  return out;
}

export function readYaml(file: string): Obj {
  const docs = readYamlDocs(file);
  if (docs.length !== 1) throw new Error(`${file}: expected one YAML document, got ${docs.length}`);
  return docs[0]!;
}

export const rel = (file: string) => path.relative(DEPLOY, file);

/** A path a kustomization names, with what it must be. */
export interface Listed {
  /** The kustomization that lists it (relative to deploy/). */
  from: string;
  field: 'resources' | 'components' | 'generators' | 'configMapGenerator' | 'patches';
  path: string;
}

export interface Kustomization {
  dir: string;
  listed: Listed[];
  /** Resource files, from this kustomization and those it includes, in order. */
  resourceFiles: string[];
  /** Generator config files (KSOPS). */
  generatorFiles: string[];
  /** configMapGenerator: name, namespace and the files it reads. */
  configMaps: { name: string; namespace?: string; files: string[] }[];
  patchFiles: string[];
}

function kustomizationFile(dir: string): string {
  for (const name of ['kustomization.yaml', 'kustomization.yml', 'Kustomization']) {
    const f = path.join(dir, name);
    if (existsSync(f)) return f;
  }
  throw new Error(`${rel(dir) || '.'}: no kustomization.yaml`);
}

/** Walks a kustomization and everything it includes (resources dirs, components). */
export function loadKustomization(dir: string, acc?: Kustomization): Kustomization {
  const k: Kustomization = acc ?? {
    dir,
    listed: [],
    resourceFiles: [],
    generatorFiles: [],
    configMaps: [],
    patchFiles: [],
  };
  const file = kustomizationFile(dir);
  const doc = readYaml(file);
  const from = rel(file);
  const at = (p: string) => path.resolve(dir, p);
  const include = (field: 'resources' | 'components', p: string) => {
    const target = at(p);
    k.listed.push({ from, field, path: target });
    if (existsSync(target) && statSync(target).isDirectory()) loadKustomization(target, k);
    else if (field === 'resources') k.resourceFiles.push(target);
  };
  for (const r of (doc.resources ?? []) as string[]) include('resources', r);
  for (const c of (doc.components ?? []) as string[]) include('components', c);
  for (const g of (doc.generators ?? []) as string[]) {
    k.listed.push({ from, field: 'generators', path: at(g) });
    k.generatorFiles.push(at(g));
  }
  for (const cm of (doc.configMapGenerator ?? []) as Obj[]) {
    const files = ((cm.files ?? []) as string[]).map((f) => at(f.split('=').pop()!));
    for (const f of files) k.listed.push({ from, field: 'configMapGenerator', path: f });
    k.configMaps.push({ name: cm.name, namespace: cm.namespace, files });
  }
  for (const p of (doc.patches ?? []) as Obj[]) {
    if (typeof p.path === 'string') {
      k.listed.push({ from, field: 'patches', path: at(p.path) });
      k.patchFiles.push(at(p.path));
    }
  }
  return k;
}

/** The objects the base deploys, from its resource files (generated objects not included). */
export function baseResources(): Manifest[] {
  return loadKustomization(DEPLOY).resourceFiles.flatMap((f) =>
    readYamlDocs(f).map((doc, index) => ({ file: rel(f), index, doc })),
  );
}

/** The one object of a kind (and name) in a list; throws when there is not exactly one. */
export function one(list: Manifest[], kind: string, name?: string): Obj {
  const found = list.filter(
    (m) => m.doc.kind === kind && (name === undefined || m.doc.metadata?.name === name),
  );
  if (found.length !== 1) {
    throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  }
  return found[0]!.doc;
}

/** Every Kubernetes object in deploy/ (any .yaml with apiVersion and kind), kustomize files aside. */
export function allDeployObjects(files: string[]): Manifest[] {
  return files.flatMap((f) =>
    readYamlDocs(f)
      .map((doc, index) => ({ file: rel(f), index, doc }))
      .filter((m) => typeof m.doc.apiVersion === 'string' && typeof m.doc.kind === 'string'),
  );
}
