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
  /** The revision it resolved to. */
  revision?: string;
  resources: SyncedResource[];
}

export interface HistoryEntry {
  id: number;
  revision: string;
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
  autoSync: boolean;
  /** `.operation` is set: an operation was requested and not finished. */
  operationPending: boolean;
  operationState?: OperationState;
  history: HistoryEntry[];
  resources: AppResource[];
  reconciledAt?: string;
  refreshing?: string;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

export function toOperationState(s: AppJson | undefined): OperationState | undefined {
  if (!s || typeof s.phase !== 'string') return undefined;
  return {
    phase: s.phase,
    message: str(s.message),
    startedAt: str(s.startedAt),
    finishedAt: str(s.finishedAt),
    retryCount: typeof s.retryCount === 'number' ? s.retryCount : undefined,
    requestedRevision: str(s.operation?.sync?.revision),
    initiatedBy: str(s.operation?.initiatedBy?.username),
    revision: str(s.syncResult?.revision),
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
    syncStatus: str(status.sync?.status) ?? 'Unknown',
    health: str(status.health?.status) ?? 'Unknown',
    healthMessage: str(status.health?.message),
    revision: str(status.sync?.revision),
    autoSync: spec.syncPolicy?.automated != null,
    operationPending: o.operation != null,
    operationState: toOperationState(status.operationState),
    history: ((status.history ?? []) as AppJson[]).map((h) => ({
      id: Number(h.id),
      revision: String(h.revision ?? ''),
      deployedAt: str(h.deployedAt),
      initiatedBy: str(h.initiatedBy?.username),
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

export interface SyncRequest {
  revision?: string;
  prune?: boolean;
  /** The chat user, as `platform:id (name)`. */
  initiatedBy: string;
}

/** The merge patch that starts a sync (what `argocd app sync` makes the API server write). */
export function syncPatch(req: SyncRequest) {
  return {
    operation: {
      initiatedBy: { username: req.initiatedBy },
      sync: {
        // Without one (a multi-source app given no revision), Argo CD syncs each source to its
        // own targetRevision.
        ...(req.revision ? { revision: req.revision } : {}),
        prune: req.prune ?? false,
        syncStrategy: { hook: {} },
      },
      retry: { limit: 2 },
    },
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

export function resourceName(r: { kind: string; namespace?: string; name: string }): string {
  return `${r.kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name}`;
}

/** Whether an operation is in progress, and a sentence saying which. */
export function runningOperation(app: ArgoApp): string | undefined {
  const st = app.operationState;
  const running = st && !(TERMINAL_PHASES as readonly string[]).includes(st.phase);
  if (!app.operationPending && !running) return undefined;
  if (!running || !st) return 'an operation was requested and has not started yet';
  const parts = [`a sync is in phase ${st.phase}`];
  if (st.requestedRevision) parts.push(`to ${shortRevision(st.requestedRevision)}`);
  if (st.initiatedBy) parts.push(`started by ${st.initiatedBy}`);
  if (st.startedAt) parts.push(`at ${st.startedAt}`);
  return parts.join(' ');
}
