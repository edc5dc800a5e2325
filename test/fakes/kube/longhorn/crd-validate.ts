/**
 * Longhorn objects checked against Longhorn's own CRDs (the fixtures beside this file, see
 * README.md): the `openAPIV3Schema` of `v1beta2`, made structural like the API server's pruning
 * (`strictSchema` of test/deploy/crd-schema.ts: unknown fields are refused) and compiled with
 * the ajv 8 that kubernetes-models ships, with its Kubernetes formats (int64, date-time …) —
 * the same way test/deploy validates the custom resources deploy/ ships.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { formats } from '@kubernetes-models/validate';
import { parse } from 'yaml';
import { strictSchema } from '../../../deploy/crd-schema.js';

export const LONGHORN_CRD_DIR = import.meta.dirname;

interface ValidateFunction {
  (data: unknown): boolean;
  errors?: { instancePath: string; message?: string; params?: Record<string, unknown> }[] | null;
}
interface AjvType {
  compile(schema: object): ValidateFunction;
  addKeyword(def: { keyword: string }): unknown;
  addFormat(name: string, format: unknown): unknown;
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

/** ajv 8 from beside @kubernetes-models/validate (this project's own `ajv` is 6). */
function loadAjv(): new (opts: object) => AjvType {
  for (let dir = LONGHORN_CRD_DIR; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'node_modules', '@kubernetes-models/validate', 'package.json');
    if (existsSync(pkg)) {
      const require = createRequire(pkg);
      const version = (require('ajv/package.json') as { version: string }).version;
      if (!version.startsWith('8.')) throw new Error(`expected ajv 8, got ${version}`);
      return (require('ajv') as { default: new (opts: object) => AjvType }).default;
    }
    if (path.dirname(dir) === dir) throw new Error('@kubernetes-models/validate not found');
  }
}

let validators: Map<string, ValidateFunction> | undefined;

/** Validators by Kind (Volume, Replica, Engine, Node, Setting, Backup), compiled once. */
function compiled(): Map<string, ValidateFunction> {
  if (validators) return validators;
  const Ajv = loadAjv();
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, unicodeRegExp: false });
  for (const keyword of KUBE_KEYWORDS) ajv.addKeyword({ keyword });
  for (const [name, f] of Object.entries(formats)) ajv.addFormat(name, f);
  validators = new Map();
  for (const file of readdirSync(LONGHORN_CRD_DIR).filter((f) => f.endsWith('.yaml'))) {
    const crd = parse(readFileSync(path.join(LONGHORN_CRD_DIR, file), 'utf8'));
    const v = crd.spec.versions.find((x: { name: string }) => x.name === 'v1beta2');
    validators.set(
      crd.spec.names.kind,
      ajv.compile(strictSchema(v.schema.openAPIV3Schema) as object),
    );
  }
  return validators;
}

/** What is wrong with a Longhorn object by its CRD's schema: [] when it is valid. */
export function longhornSchemaProblems(obj: { kind: string; apiVersion: string }): string[] {
  if (obj.apiVersion !== 'longhorn.io/v1beta2') return [`apiVersion ${obj.apiVersion}`];
  const fn = compiled().get(obj.kind);
  if (!fn) return [`no CRD fixture for kind ${obj.kind}`];
  if (fn(obj)) return [];
  return (fn.errors ?? []).map(
    (e) =>
      `${e.instancePath || '/'} ${e.message ?? 'invalid'}${e.params && 'additionalProperty' in e.params ? ` "${e.params.additionalProperty}"` : ''}`,
  );
}
