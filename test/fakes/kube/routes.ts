/**
 * The REST surface: which paths name which resource, and list / watch / get / patch / put /
 * delete / eviction on them. Paths:
 *   /api/v1/nodes[/{name}]
 *   /api/v1/namespaces[/{name}]                    (the Argo controller creates them: CreateNamespace)
 *   /api/v1/pods                                   (all namespaces: list, watch)
 *   /api/v1/namespaces/{ns}/pods[/{name}[/eviction]]
 *   /apis/argoproj.io/v1alpha1/applications        (all namespaces: list, watch)
 *   /apis/argoproj.io/v1alpha1/namespaces/{ns}/applications[/{name}]
 *   /apis/longhorn.io/v1beta2/namespaces/{ns}/{volumes|replicas|engines|nodes|settings|backups}[/{name}]
 *                                                  (only with Longhorn installed; 404 otherwise)
 *   /version
 */
import type { ServerResponse } from 'node:http';
import type { Cluster } from './cluster.js';
import { applyPatch, PatchError } from './patch.js';
import { fieldSelector, labelSelector, SelectorError } from './selectors.js';
import {
  ApiError,
  badRequest,
  conflict,
  methodNotAllowed,
  notFound,
  unknownPath,
} from './status.js';

/** What the API server answers for a group nobody installed: 404, "could not find". */
function notInstalled(): ApiError {
  return new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
}

import { clone, type KObject, type ObjectStore, type Resource } from './store.js';
import type { WatchHub } from './watch.js';

interface ResourceDef {
  resource: Resource;
  group: string;
  version: string;
  kind: string;
  namespaced: boolean;
  /** Built-in kinds take strategic merge patches and keep `status` out of main-resource writes. */
  builtIn: boolean;
  /** The path's plural when it differs from the store's resource name (Longhorn's `nodes`). */
  plural?: string;
}

/** Longhorn's CRDs (longhorn/README.md), served only when the fake has Longhorn installed. */
const longhornDef = (
  resource: ResourceDef['resource'],
  plural: string,
  kind: string,
): ResourceDef => ({
  resource,
  plural,
  group: 'longhorn.io',
  version: 'v1beta2',
  kind,
  namespaced: true,
  builtIn: false,
});

const DEFS: ResourceDef[] = [
  { resource: 'nodes', group: '', version: 'v1', kind: 'Node', namespaced: false, builtIn: true },
  {
    resource: 'namespaces',
    group: '',
    version: 'v1',
    kind: 'Namespace',
    namespaced: false,
    builtIn: true,
  },
  { resource: 'pods', group: '', version: 'v1', kind: 'Pod', namespaced: true, builtIn: true },
  {
    resource: 'applications',
    group: 'argoproj.io',
    version: 'v1alpha1',
    kind: 'Application',
    namespaced: true,
    builtIn: false,
  },
  longhornDef('lh-volumes', 'volumes', 'Volume'),
  longhornDef('lh-replicas', 'replicas', 'Replica'),
  longhornDef('lh-engines', 'engines', 'Engine'),
  longhornDef('lh-nodes', 'nodes', 'Node'),
  longhornDef('lh-settings', 'settings', 'Setting'),
  longhornDef('lh-backups', 'backups', 'Backup'),
];

export interface ApiRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  contentType: string;
  res: ServerResponse;
}

export interface ApiContext {
  store: ObjectStore;
  cluster: Cluster;
  watches: WatchHub;
  /** API groups of CRDs installed (longhorn.io when the fake has Longhorn). */
  crdGroups?: ReadonlySet<string>;
}

/** What a handler answers; 'streamed' when it wrote the response itself (a watch). */
export type Answer = { status: number; body: unknown } | 'streamed';

interface Target {
  def: ResourceDef;
  namespace?: string;
  name?: string;
  sub?: string;
}

function parsePath(path: string, crdGroups: ReadonlySet<string>): Target | undefined {
  const segs = path.split('/').filter(Boolean).map(decodeURIComponent);
  let group = '';
  let version: string | undefined;
  let rest: string[];
  if (segs[0] === 'api') {
    version = segs[1];
    rest = segs.slice(2);
  } else if (segs[0] === 'apis') {
    group = segs[1] ?? '';
    version = segs[2];
    rest = segs.slice(3);
  } else return undefined;
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const def = DEFS.find(
    (d) =>
      d.group === group &&
      d.version === version &&
      (d.plural ?? d.resource) === rest[0] &&
      (d.group !== 'longhorn.io' || crdGroups.has(d.group)),
  );
  // A CRD group that is not installed: the API server's plain 404 (not a gap in this fake).
  if (!def && group === 'longhorn.io') throw notInstalled();
  if (!def || rest.length > 3 || (namespace !== undefined && !def.namespaced)) return undefined;
  return {
    def,
    ...(namespace !== undefined ? { namespace } : {}),
    ...(rest[1] !== undefined ? { name: rest[1] } : {}),
    ...(rest[2] !== undefined ? { sub: rest[2] } : {}),
  };
}

const truthy = (v: string | undefined) => v === 'true' || v === '1';
const listKind = (def: ResourceDef) => `${def.kind}List`;
const apiVersion = (def: ResourceDef) => (def.group ? `${def.group}/${def.version}` : def.version);

export function handle(ctx: ApiContext, req: ApiRequest): Answer {
  if (req.path === '/version' && req.method === 'GET') {
    return {
      status: 200,
      body: { major: '1', minor: '31', gitVersion: 'v1.31.4+k3s1', platform: 'linux/arm64' },
    };
  }
  const t = parsePath(req.path, ctx.crdGroups ?? new Set());
  if (!t) throw unknownPath();
  const { def } = t;
  if (t.name === undefined) {
    if (req.method !== 'GET') throw methodNotAllowed(req.method);
    return list(ctx, req, t);
  }
  if (t.sub !== undefined) {
    if (def.resource === 'pods' && t.sub === 'eviction' && req.method === 'POST') {
      return { status: 201, body: ctx.cluster.evict(t.namespace!, t.name, req.body) };
    }
    if (t.sub === 'eviction' || t.sub === 'status') throw methodNotAllowed(req.method);
    throw unknownPath();
  }
  const current = ctx.store.get(def.resource, t.namespace, t.name);
  if (!current) throw notFound(def.plural ?? def.resource, t.name, def.group);
  switch (req.method) {
    case 'GET':
      return { status: 200, body: current };
    case 'PATCH': {
      let next: unknown;
      try {
        next = applyPatch(current, req.body, req.contentType, def.builtIn);
      } catch (err) {
        if (err instanceof PatchError) {
          const reason = { 400: 'BadRequest', 415: 'UnsupportedMediaType', 422: 'Invalid' }[
            err.code
          ];
          throw new ApiError(err.code, reason, err.message);
        }
        throw err;
      }
      return { status: 200, body: write(ctx, def, current, next as KObject) };
    }
    case 'PUT':
      return { status: 200, body: write(ctx, def, current, req.body as KObject) };
    case 'DELETE':
      if (def.resource === 'pods') {
        return { status: 200, body: ctx.cluster.deletePod(t.namespace!, t.name) };
      }
      return { status: 200, body: ctx.store.delete(def.resource, t.namespace, t.name) };
    default:
      throw methodNotAllowed(req.method);
  }
}

function list(ctx: ApiContext, req: ApiRequest, t: Target): Answer {
  let matches: (o: KObject) => boolean;
  try {
    const byField = fieldSelector(t.def.resource, req.query.fieldSelector);
    const byLabel = labelSelector(req.query.labelSelector);
    matches = (o) => byField(o) && byLabel(o);
  } catch (err) {
    if (err instanceof SelectorError) throw badRequest(err.message);
    throw err;
  }
  if (truthy(req.query.watch)) {
    const timeout = req.query.timeoutSeconds ? Number(req.query.timeoutSeconds) : undefined;
    ctx.watches.serve(
      req.res,
      {
        resource: t.def.resource,
        ...(t.namespace !== undefined ? { namespace: t.namespace } : {}),
        matches,
        ...(req.query.resourceVersion ? { resourceVersion: req.query.resourceVersion } : {}),
        ...(timeout ? { timeoutSeconds: timeout } : {}),
      },
      new URLSearchParams(req.query).toString(),
    );
    return 'streamed';
  }
  const items = ctx.store.list(t.def.resource, t.namespace).filter(matches);
  return {
    status: 200,
    body: {
      kind: listKind(t.def),
      apiVersion: apiVersion(t.def),
      metadata: { resourceVersion: ctx.store.resourceVersion },
      // Lists of built-in kinds carry kind/apiVersion only on the list, as the real server does.
      items: t.def.builtIn ? items.map(({ kind: _k, apiVersion: _a, ...rest }) => rest) : items,
    },
  };
}

/**
 * PATCH/PUT result → the store. A resourceVersion in the new object that is not the current one
 * answers 409 (optimistic concurrency). Name, namespace, uid and creation time cannot change;
 * for built-in kinds `status` is kept (it has its own subresource).
 */
function write(ctx: ApiContext, def: ResourceDef, current: KObject, next: KObject): KObject {
  if (!next || typeof next !== 'object' || typeof next.metadata !== 'object') {
    throw badRequest('the object must have metadata');
  }
  const rv = next.metadata.resourceVersion;
  if (rv !== undefined && rv !== '' && rv !== current.metadata.resourceVersion) {
    throw conflict(def.resource, current.metadata.name, def.group);
  }
  if (next.metadata.name !== current.metadata.name) {
    throw badRequest(
      `metadata.name: Invalid value: "${String(next.metadata.name)}": field is immutable`,
    );
  }
  const obj = clone(next);
  obj.apiVersion = apiVersion(def);
  obj.kind = def.kind;
  for (const k of ['namespace', 'uid', 'creationTimestamp'] as const) {
    if (current.metadata[k] !== undefined) obj.metadata[k] = current.metadata[k];
  }
  if (def.builtIn) obj.status = current.status;
  const generation = current.metadata.generation;
  if (generation !== undefined) {
    const specChanged = JSON.stringify(obj.spec) !== JSON.stringify(current.spec);
    obj.metadata.generation = specChanged ? generation + 1 : generation;
  }
  return ctx.store.update(def.resource, obj);
}
