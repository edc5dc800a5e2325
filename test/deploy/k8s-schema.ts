/**
 * Built-in Kubernetes kinds checked two ways, both offline:
 *
 * - `kubernetes-models` (5.x: the OpenAPI schemas of Kubernetes 1.34 compiled to ajv
 *   validators): types, required fields, enums, formats (quantity, int-or-string, …).
 * - Unknown fields, which those schemas allow (Kubernetes' OpenAPI has no
 *   additionalProperties: false) but the API server's strict field validation — what
 *   `kubectl apply` and Argo CD's sync use by default — refuses: every key must be a field of
 *   the model in @kubernetes/client-node (its generated `attributeTypeMap`).
 */
import * as k8s from '@kubernetes/client-node';
import type { Obj } from './manifests.js';

export interface SchemaProblem {
  path: string;
  message: string;
}

/** `rbac.authorization.k8s.io/v1` + `ClusterRole` → the kubernetes-models module and class. */
function modelModule(apiVersion: string, kind: string): string {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  return `kubernetes-models/${group ? `${group}/` : ''}${version}/${kind}`;
}

interface ModelClass {
  new (data: unknown): { validate(): void };
}

export async function validateWithModels(doc: Obj): Promise<SchemaProblem[]> {
  let mod: Record<string, ModelClass>;
  try {
    mod = (await import(modelModule(doc.apiVersion, doc.kind))) as Record<string, ModelClass>;
  } catch {
    return [{ path: '', message: `no Kubernetes schema for ${doc.apiVersion} ${doc.kind}` }];
  }
  const Model = mod[doc.kind];
  if (!Model) return [{ path: '', message: `kubernetes-models has no class ${doc.kind}` }];
  try {
    new Model(doc).validate();
    return [];
  } catch (err) {
    const errors = (err as { errors?: { instancePath: string; message?: string }[] }).errors;
    if (!errors) throw err;
    return errors.map((e) => ({ path: e.instancePath || '/', message: e.message ?? 'invalid' }));
  }
}

type AttributeMap = { baseName: string; type: string }[];
type ModelCtor = { getAttributeTypeMap?: () => AttributeMap };
const models = k8s as unknown as Record<string, ModelCtor | undefined>;

/** The client-node model name of a kind: `apps/v1` `Deployment` → `V1Deployment`. */
export function clientModelName(apiVersion: string, kind: string): string {
  const version = apiVersion.split('/').pop()!;
  return `${version[0]!.toUpperCase()}${version.slice(1)}${kind}`;
}

function walk(value: unknown, type: string, at: string, out: SchemaProblem[]): void {
  if (value === null || value === undefined) return;
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (Array.isArray(value)) {
      value.forEach((v, i) => {
        walk(v, array[1]!, `${at}/${i}`, out);
      });
    }
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (typeof value === 'object')
      for (const [k, v] of Object.entries(value)) walk(v, map[1]!, `${at}/${k}`, out);
    return;
  }
  const fields = models[type]?.getAttributeTypeMap?.();
  if (!fields || typeof value !== 'object' || Array.isArray(value)) return;
  for (const [key, v] of Object.entries(value)) {
    const field = fields.find((f) => f.baseName === key);
    if (!field) {
      out.push({ path: `${at}/${key}`, message: `unknown field "${key}" (${type})` });
      continue;
    }
    walk(v, field.type, `${at}/${key}`, out);
  }
}

export function unknownFields(doc: Obj): SchemaProblem[] {
  const type = clientModelName(doc.apiVersion, doc.kind);
  if (!models[type]?.getAttributeTypeMap) {
    return [{ path: '', message: `@kubernetes/client-node has no model ${type}` }];
  }
  const out: SchemaProblem[] = [];
  walk(doc, type, '', out);
  return out;
}

/** Both checks; empty when the object is valid. */
export async function validateBuiltin(doc: Obj): Promise<SchemaProblem[]> {
  return [...(await validateWithModels(doc)), ...unknownFields(doc)];
}

export const format = (problems: SchemaProblem[]) =>
  problems.map((p) => `${p.path}: ${p.message}`).join('\n');
