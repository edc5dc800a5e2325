/**
 * Argo CD Applications (`argoproj.io/v1alpha1`) as the bot sees them: a typed view of the JSON
 * the Kubernetes API returns, and the exact merge patches the bot sends.
 */

// biome-ignore lint/suspicious/noExplicitAny: an Application's JSON as the API returns it
export type AppJson = Record<string, any>;

export const ARGO_GROUP = 'argoproj.io';
export const ARGO_VERSION = 'v1alpha1';
export const REFRESH_ANNOTATION = 'argocd.argoproj.io/refresh';
export const TERMINAL_PHASES = ['Succeeded', 'Failed', 'Error'] as const;

/** A managed resource (status.resources). */
export interface AppResource {
  kind: string;
  namespace?: string;
  name: string;
  status?: string;
  health?: string;
  message?: string;
}

/** One resource of an operation's sync result (status.operationState.syncResult.resources). */
export interface SyncedResource {
  kind: string;
  namespace?: string;
  name: string;
  status: string;
  message?: string;
  hookPhase?: string;
}

export interface OperationState {
  phase: string;
  message?: string;
  startedAt?: string;
  finishedAt?: string;
  retryCount?: number;
  /** What the operation asked for: its sync revision, who started it. */
  requestedRevision?: string;
  initiatedBy?: string;
  /** Started by Argo CD's auto-sync (initiatedBy.automated). */
  automated?: boolean;
  /** The revision it resolved to (multi-source apps: one per source in `revisions`). */
  revision?: string;
  revisions?: string[];
  resources: SyncedResource[];
}

/** `.operation` as requested (before the controller picked it up, or while it runs). */
export interface RequestedOperation {
  revision?: string;
  revisions?: string[];
  initiatedBy?: string;
  automated: boolean;
}

/** status.history[]: multi-source apps record `revisions`/`sources`, not `revision`/`source`. */
export interface HistoryEntry {
  id: number;
  revision: string;
  revisions?: string[];
  source?: AppJson;
  sources?: AppJson[];
  deployedAt?: string;
  initiatedBy?: string;
}

export interface ArgoApp {
  name: string;
  namespace: string;
  resourceVersion: string;
  targetRevision?: string;
  syncStatus: string;
  health: string;
  healthMessage?: string;
  /** The deployed revision (status.sync.revision). */
  revision?: string;
  /** Multi-source apps: status.sync.revisions, one per source. */
  revisions?: string[];
  /** spec.source, or spec.sources for a multi-source app. */
  source?: AppJson;
  sources?: AppJson[];
  /** spec.syncPolicy.syncOptions and .retry: Argo CD copies them into every operation. */
  syncOptions?: string[];
  retry?: AppJson;
  autoSync: boolean;
  /** `.operation` is set: an operation was requested and not finished. */
  operationPending: boolean;
  operation?: RequestedOperation;
  operationState?: OperationState;
  history: HistoryEntry[];
  resources: AppResource[];
  reconciledAt?: string;
  refreshing?: string;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const strs = (v: unknown): string[] | undefined =>
  Array.isArray(v) && v.length > 0 ? v.map((x) => String(x ?? '')) : undefined;
const objs = (v: unknown): AppJson[] | undefined =>
  Array.isArray(v) && v.length > 0 ? (v as AppJson[]) : undefined;

/** Who started an operation: the user, or Argo CD's auto-sync (initiatedBy.automated). */
export const AUTO_SYNC_LABEL = 'Argo CD (auto-sync)';
const initiator = (by: AppJson | undefined): string | undefined =>
  str(by?.username) ?? (by?.automated === true ? AUTO_SYNC_LABEL : undefined);

function toRequestedOperation(op: AppJson | undefined | null): RequestedOperation | undefined {
  if (op == null) return undefined;
  return {
    revision: str(op.sync?.revision),
    revisions: strs(op.sync?.revisions),
    initiatedBy: initiator(op.initiatedBy),
    automated: op.initiatedBy?.automated === true,
  };
}

export function toOperationState(s: AppJson | undefined): OperationState | undefined {
  if (!s || typeof s.phase !== 'string') return undefined;
  return {
    phase: s.phase,
    message: str(s.message),
    startedAt: str(s.startedAt),
    finishedAt: str(s.finishedAt),
    retryCount: typeof s.retryCount === 'number' ? s.retryCount : undefined,
    requestedRevision: str(s.operation?.sync?.revision),
    initiatedBy: initiator(s.operation?.initiatedBy),
    automated: s.operation?.initiatedBy?.automated === true,
    revision: str(s.syncResult?.revision),
    revisions: strs(s.syncResult?.revisions),
    resources: ((s.syncResult?.resources ?? []) as AppJson[]).map((r) => ({
      kind: String(r.kind ?? '?'),
      namespace: str(r.namespace),
      name: String(r.name ?? '?'),
      status: String(r.status ?? 'Unknown'),
      message: str(r.message),
      hookPhase: str(r.hookPhase),
    })),
  };
}

export function toArgoApp(o: AppJson): ArgoApp {
  const status = (o.status ?? {}) as AppJson;
  const spec = (o.spec ?? {}) as AppJson;
  return {
    name: String(o.metadata?.name ?? ''),
    namespace: String(o.metadata?.namespace ?? ''),
    resourceVersion: String(o.metadata?.resourceVersion ?? ''),
    targetRevision: str(spec.source?.targetRevision),
    source: spec.source ?? undefined,
    sources: objs(spec.sources),
    syncOptions: strs(spec.syncPolicy?.syncOptions),
    retry: spec.syncPolicy?.retry ?? undefined,
    syncStatus: str(status.sync?.status) ?? 'Unknown',
    health: str(status.health?.status) ?? 'Unknown',
    healthMessage: str(status.health?.message),
    revision: str(status.sync?.revision),
    revisions: strs(status.sync?.revisions),
    autoSync: spec.syncPolicy?.automated != null,
    operationPending: o.operation != null,
    operation: toRequestedOperation(o.operation),
    operationState: toOperationState(status.operationState),
    history: ((status.history ?? []) as AppJson[]).map((h) => ({
      id: Number(h.id),
      revision: String(h.revision ?? ''),
      revisions: strs(h.revisions),
      source: h.source ?? undefined,
      sources: objs(h.sources),
      deployedAt: str(h.deployedAt),
      initiatedBy: initiator(h.initiatedBy),
    })),
    resources: ((status.resources ?? []) as AppJson[]).map((r) => ({
      kind: String(r.kind ?? '?'),
      namespace: str(r.namespace),
      name: String(r.name ?? '?'),
      status: str(r.status),
      health: str(r.health?.status),
      message: str(r.health?.message),
    })),
    reconciledAt: str(status.reconciledAt),
    refreshing: str(o.metadata?.annotations?.[REFRESH_ANNOTATION]),
  };
}

export function refreshPatch(hard: boolean) {
  return { metadata: { annotations: { [REFRESH_ANNOTATION]: hard ? 'hard' : 'normal' } } };
}

export function appPath(namespace: string, name?: string): string {
  return `/apis/${ARGO_GROUP}/${ARGO_VERSION}/namespaces/${namespace}/applications${name ? `/${name}` : ''}`;
}

/** A git sha shortened like Argo CD's UI does; anything else as it is. */
export function shortRevision(rev: string | undefined): string {
  if (!rev) return '-';
  return /^[0-9a-f]{40}$/.test(rev) ? rev.slice(0, 7) : rev;
}

/** `revision`, or a multi-source app's `revisions` (one per source), shortened: "abc1234,def5678". */
export function shortRevisions(r: { revision?: string; revisions?: string[] }): string {
  return r.revisions?.length ? r.revisions.map(shortRevision).join(',') : shortRevision(r.revision);
}

export function resourceName(r: { kind: string; namespace?: string; name: string }): string {
  return `${r.kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name}`;
}

/** Whether an operation is in progress, and a sentence saying which. */
export function runningOperation(app: ArgoApp): string | undefined {
  const st = app.operationState;
  const running = st && !(TERMINAL_PHASES as readonly string[]).includes(st.phase);
  if (!app.operationPending && !running) return undefined;
  if (!running || !st) {
    const op = app.operation;
    const parts = [op?.automated ? 'an auto-sync' : 'a sync'];
    if (op && (op.revision || op.revisions)) {
      parts.push(`to ${shortRevisions({ revision: op.revision, revisions: op.revisions })}`);
    }
    if (op?.initiatedBy && !op.automated) parts.push(`requested by ${op.initiatedBy}`);
    return `${parts.join(' ')} was requested and has not started yet`;
  }
  const parts = [`${st.automated ? 'an auto-sync' : 'a sync'} is in phase ${st.phase}`];
  if (st.requestedRevision) parts.push(`to ${shortRevision(st.requestedRevision)}`);
  if (st.initiatedBy) parts.push(`started by ${st.initiatedBy}`);
  if (st.startedAt) parts.push(`at ${st.startedAt}`);
  return parts.join(' ');
}
