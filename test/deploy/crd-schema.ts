/**
 * Custom resources checked against the CustomResourceDefinitions their projects publish
 * (fixtures in test/deploy/crds/, see the README there): the `openAPIV3Schema` of the served
 * version, compiled with ajv 8 — the one kubernetes-models' validators are built with, loaded
 * from its dependency tree, with its Kubernetes formats (int32, int64, date-time, quantity …).
 *
 * Like the API server (structural schemas prune unknown fields; strict field validation
 * refuses them), an object schema with `properties` accepts no other keys unless it says
 * `x-kubernetes-preserve-unknown-fields` or has `additionalProperties`. The x-kubernetes-*
 * keywords are registered so that ajv's strict mode still refuses any keyword it does not
 * know; `x-kubernetes-validations` (CEL rules) are not evaluated here.
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { formats } from '@kubernetes-models/validate';
import type { SchemaProblem } from './k8s-schema.js';
import { type Obj, ROOT, readYaml } from './manifests.js';

export const CRD_DIR = path.join(ROOT, 'test/deploy/crds');

/** What is used of ajv 8 (typed here: the `ajv` next to this project's root is ajv 6). */
interface ValidateFunction {
  (data: unknown): boolean;
  errors?: { instancePath: string; message?: string; params?: Record<string, unknown> }[] | null;
}
interface AjvType {
  compile(schema: object): ValidateFunction;
  addKeyword(def: { keyword: string }): unknown;
  addFormat(name: string, format: unknown): unknown;
}

/** node_modules/<name> as Node would find it from `fromDir`. */
function packageDir(name: string, fromDir: string): string {
  for (let dir = fromDir; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (path.dirname(dir) === dir) throw new Error(`${name} not found from ${fromDir}`);
  }
}

function loadAjv(): new (opts: object) => AjvType {
  const validateDir = packageDir('@kubernetes-models/validate', ROOT);
  const require = createRequire(path.join(validateDir, 'package.json'));
  const version = (require('ajv/package.json') as { version: string }).version;
  if (!version.startsWith('8.'))
    throw new Error(`expected ajv 8 beside kubernetes-models, got ${version}`);
  const mod = require('ajv') as { default: new (opts: object) => AjvType };
  return mod.default;
}

const KUBE_KEYWORDS = [
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-int-or-string',
  'x-kubernetes-embedded-resource',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
  'x-kubernetes-validations',
];

/** A copy of the schema where objects with `properties` refuse other keys (structural pruning). */
export function strictSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(strictSchema);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Obj = {};
  for (const [k, v] of Object.entries(schema)) {
    // `properties` and `x-kubernetes-validations` hold data, not schema keywords, at their top.
    out[k] =
      k === 'properties'
        ? Object.fromEntries(Object.entries(v as Obj).map(([p, s]) => [p, strictSchema(s)]))
        : k === 'x-kubernetes-validations' || k === 'enum' || k === 'default'
          ? v
          : strictSchema(v);
  }
  if (
    out.properties &&
    out.additionalProperties === undefined &&
    out['x-kubernetes-preserve-unknown-fields'] !== true
  ) {
    out.additionalProperties = false;
  }
  return out;
}

export interface CrdValidator {
  group: string;
  kind: string;
  versions: string[];
  validate(doc: Obj): SchemaProblem[];
}

function compileCrd(ajv: AjvType, crd: Obj, file: string): CrdValidator {
  const group: string = crd.spec.group;
  const kind: string = crd.spec.names.kind;
  const compiled = new Map<string, ValidateFunction>();
  for (const v of crd.spec.versions as Obj[]) {
    if (!v.served) continue;
    const schema = v.schema?.openAPIV3Schema;
    if (!schema) throw new Error(`${file}: ${v.name} has no openAPIV3Schema`);
    compiled.set(v.name, ajv.compile(strictSchema(schema) as object));
  }
  return {
    group,
    kind,
    versions: [...compiled.keys()],
    validate(doc) {
      const version = String(doc.apiVersion).split('/')[1] ?? '';
      const fn = compiled.get(version);
      if (!fn) return [{ path: '', message: `${kind} ${group} does not serve ${version}` }];
      if (fn(doc)) return [];
      return (fn.errors ?? []).map((e) => ({
        path: e.instancePath || '/',
        message: `${e.message ?? 'invalid'}${e.params && 'additionalProperty' in e.params ? ` "${e.params.additionalProperty}"` : ''}`,
      }));
    },
  };
}

/**
 * The API server matches `pattern` with Go's RE2. JS has no inline `(?i)`; such a pattern is
 * matched case-insensitively as a whole (slightly more permissive than Go; only the month and
 * weekday names of AlertmanagerConfig time intervals use it).
 */
const goRegExp = Object.assign(
  (pattern: string, flags: string): RegExp => {
    try {
      return new RegExp(pattern, flags);
    } catch (err) {
      if (!pattern.includes('(?i)')) throw err;
      return new RegExp(pattern.replaceAll('(?i)', ''), `${flags}i`);
    }
  },
  { code: 'goRegExp' },
);

let cache: Map<string, CrdValidator> | undefined;

/** Validators of every CRD fixture, by `<group>/<Kind>`. */
export function crdValidators(): Map<string, CrdValidator> {
  if (cache) return cache;
  const Ajv = loadAjv();
  const ajv = new Ajv({
    allErrors: true,
    strict: true,
    strictTypes: false,
    unicodeRegExp: false,
    code: { regExp: goRegExp },
  });
  for (const keyword of KUBE_KEYWORDS) ajv.addKeyword({ keyword });
  for (const [name, f] of Object.entries(formats)) ajv.addFormat(name, f);
  const validators = new Map<string, CrdValidator>();
  for (const name of readdirSync(CRD_DIR).filter((f) => f.endsWith('.yaml'))) {
    const v = compileCrd(ajv, readYaml(path.join(CRD_DIR, name)), name);
    validators.set(`${v.group}/${v.kind}`, v);
  }
  cache = validators;
  return cache;
}

/** The validator for a custom resource, or undefined for a kind no fixture defines. */
export function crdFor(doc: Obj): CrdValidator | undefined {
  const group = String(doc.apiVersion).split('/')[0];
  return crdValidators().get(`${group}/${doc.kind}`);
}
