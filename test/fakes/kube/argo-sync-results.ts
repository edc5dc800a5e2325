/**
 * What the simulated Argo CD controller records per resource and how it resolves revisions —
 * the messages as gitops-engine/pkg/sync/sync_context.go and kubectl produce them.
 */
import type { ControllerConfig } from './argo-controller.js';
import { sha } from './seed.js';

// biome-ignore lint/suspicious/noExplicitAny: a resource result's JSON
type Json = Record<string, any>;

export interface SyncedResource {
  group?: string;
  version: string;
  kind: string;
  namespace: string;
  name: string;
}

/** `kubectl apply` of one resource: "configured", or "serverside-applied" with ServerSideApply. */
export function applyResult(
  r: SyncedResource,
  cfg: ControllerConfig,
  final: boolean,
  serverSide: boolean,
): Json {
  const failure = cfg.fail?.resources.find((f) => f.kind === r.kind && f.name === r.name);
  const group = r.group ? `.${r.group}` : '';
  const verb = serverSide ? 'serverside-applied' : 'configured';
  return {
    ...r,
    status: failure ? 'SyncFailed' : 'Synced',
    message: failure ? failure.message : `${r.kind.toLowerCase()}${group}/${r.name} ${verb}`,
    hookPhase: final ? (failure ? 'Failed' : 'Succeeded') : 'Running',
    syncPhase: 'Sync',
  };
}

/** The dry run of a resource whose namespace does not exist. */
export function namespaceNotFound(r: SyncedResource): Json {
  return {
    ...r,
    status: 'SyncFailed',
    message: `namespaces "${r.namespace}" not found`,
    hookPhase: 'Failed',
    syncPhase: 'Sync',
  };
}

/** A requested revision → the commit: none or the tracked target → its head; HEAD elsewhere → the default branch. */
export function resolve(wanted: string | undefined, tracked: string, head: string): string {
  if (!wanted || wanted === tracked) return head;
  return wanted === 'HEAD' ? sha('default-branch-head') : sha(wanted);
}

export function namespaceCreated(name: string): Json {
  return {
    group: '',
    version: 'v1',
    kind: 'Namespace',
    namespace: '',
    name,
    status: 'Synced',
    message: `namespace/${name} created`,
    hookPhase: 'Succeeded',
    syncPhase: 'PreSync',
  };
}

export function failMessage(cfg: ControllerConfig): string {
  const reasons = (cfg.fail?.resources ?? []).map((r) => r.message).join(', ');
  return `one or more objects failed to apply, reason: ${reasons}`;
}
