/**
 * The three patch formats the API server takes for PATCH, chosen by the Content-Type:
 *   application/merge-patch+json            RFC 7386: objects merge, null deletes, lists replace
 *   application/strategic-merge-patch+json  like merge patch, but lists of objects merge by their
 *                                           key (conditions by type, containers by name, …) and
 *                                           `$patch: delete|replace` work; built-in kinds only
 *   application/json-patch+json             RFC 6902 operations (add, remove, replace, test, move, copy)
 */
import { clone } from './store.js';

export const MERGE = 'application/merge-patch+json';
export const STRATEGIC = 'application/strategic-merge-patch+json';
export const JSON_PATCH = 'application/json-patch+json';

export class PatchError extends Error {
  constructor(
    readonly code: 400 | 415 | 422,
    message: string,
  ) {
    super(message);
  }
}

type Json = unknown;
type JsonObject = Record<string, Json>;
const isObject = (v: Json): v is JsonObject =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** List merge keys of the built-in kinds this fake serves (from the Kubernetes Go types). */
const MERGE_KEYS: Record<string, string> = {
  conditions: 'type',
  containers: 'name',
  initContainers: 'name',
  volumes: 'name',
  env: 'name',
  ports: 'containerPort',
  taints: 'key',
  tolerations: 'key',
  addresses: 'type',
  ownerReferences: 'uid',
  containerStatuses: 'name',
};

export function strategicMergePatch(target: Json, patch: Json, field = ''): Json {
  if (Array.isArray(patch)) {
    const mergeKey = MERGE_KEYS[field];
    if (!mergeKey || !Array.isArray(target)) return clone(patch);
    const out = clone(target) as JsonObject[];
    for (const item of patch) {
      if (!isObject(item)) return clone(patch);
      const at = out.findIndex((o) => isObject(o) && o[mergeKey] === item[mergeKey]);
      const { $patch, ...rest } = item;
      if ($patch === 'delete') {
        if (at >= 0) out.splice(at, 1);
      } else if (at >= 0) {
        out[at] = strategicMergePatch(out[at], rest) as JsonObject;
      } else {
        out.push(rest);
      }
    }
    return out;
  }
  if (!isObject(patch)) return clone(patch);
  if (patch.$patch === 'replace') {
    const { $patch: _, ...rest } = patch;
    return clone(rest);
  }
  if (patch.$patch === 'delete') return undefined;
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else {
      const merged = strategicMergePatch(out[k], v, k);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    }
  }
  return out;
}

interface Op {
  op: string;
  path: string;
  value?: Json;
  from?: string;
}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new PatchError(422, `invalid JSON pointer: ${path}`);
  return path
    .slice(1)
    .split('/')
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
}

function parentOf(doc: Json, parts: string[], path: string): Json {
  let cur = doc;
  for (const p of parts.slice(0, -1)) {
    const next = Array.isArray(cur) ? cur[Number(p)] : isObject(cur) ? cur[p] : undefined;
    if (next === undefined) {
      throw new PatchError(422, `the server rejected our request: doc is missing path: "${path}"`);
    }
    cur = next;
  }
  return cur;
}

function getAt(doc: Json, path: string): Json {
  const parts = pointer(path);
  if (parts.length === 0) return doc;
  const parent = parentOf(doc, parts, path);
  const last = parts.at(-1)!;
  const v = Array.isArray(parent)
    ? parent[Number(last)]
    : isObject(parent)
      ? parent[last]
      : undefined;
  if (v === undefined) {
    throw new PatchError(422, `the server rejected our request: doc is missing path: "${path}"`);
  }
  return v;
}

function removeAt(doc: Json, path: string): Json {
  const parts = pointer(path);
  const parent = parentOf(doc, parts, path);
  const last = parts.at(-1)!;
  const old = getAt(doc, path);
  if (Array.isArray(parent)) parent.splice(Number(last), 1);
  else delete (parent as JsonObject)[last];
  return old;
}

function addAt(doc: Json, path: string, value: Json, replace: boolean): Json {
  const parts = pointer(path);
  if (parts.length === 0) return clone(value);
  if (replace) getAt(doc, path);
  const parent = parentOf(doc, parts, path);
  const last = parts.at(-1)!;
  if (Array.isArray(parent)) {
    const i = last === '-' ? parent.length : Number(last);
    if (replace) parent[i] = clone(value);
    else parent.splice(i, 0, clone(value));
  } else if (isObject(parent)) {
    parent[last] = clone(value);
  } else {
    throw new PatchError(422, `the server rejected our request: cannot add at "${path}"`);
  }
  return doc;
}

export function jsonPatch(target: Json, ops: Json): Json {
  if (!Array.isArray(ops)) {
    // What a client that forgot to set the patch Content-Type gets from the real server.
    throw new PatchError(
      400,
      'json: cannot unmarshal object into Go value of type jsonpatch.Patch (a json-patch+json body must be a list of operations; did you mean application/merge-patch+json?)',
    );
  }
  let doc = clone(target);
  for (const raw of ops as Op[]) {
    switch (raw.op) {
      case 'add':
        doc = addAt(doc, raw.path, raw.value, false);
        break;
      case 'replace':
        doc = addAt(doc, raw.path, raw.value, true);
        break;
      case 'remove':
        removeAt(doc, raw.path);
        break;
      case 'test':
        if (JSON.stringify(getAt(doc, raw.path)) !== JSON.stringify(raw.value)) {
          throw new PatchError(
            422,
            `the server rejected our request: testing value ${raw.path} failed`,
          );
        }
        break;
      case 'move':
        doc = addAt(doc, raw.path, removeAt(doc, raw.from ?? ''), false);
        break;
      case 'copy':
        doc = addAt(doc, raw.path, getAt(doc, raw.from ?? ''), false);
        break;
      default:
        throw new PatchError(400, `unexpected json patch operation: ${String(raw.op)}`);
    }
  }
  return doc;
}

/** Applies a PATCH body by its Content-Type; custom resources refuse strategic merge (415). */
export function applyPatch(target: Json, body: Json, contentType: string, builtIn: boolean): Json {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  if (type === MERGE) {
    if (!isObject(body)) throw new PatchError(400, 'a merge patch must be a JSON object');
    return mergePatch(target, body);
  }
  if (type === STRATEGIC) {
    if (!builtIn) {
      throw new PatchError(
        415,
        'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml',
      );
    }
    if (!isObject(body)) throw new PatchError(400, 'a strategic merge patch must be a JSON object');
    return strategicMergePatch(target, body);
  }
  if (type === JSON_PATCH) return jsonPatch(target, body);
  throw new PatchError(
    415,
    `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json${builtIn ? ', application/strategic-merge-patch+json' : ''} (got "${contentType}"; server-side apply is not modelled by this fake)`,
  );
}
