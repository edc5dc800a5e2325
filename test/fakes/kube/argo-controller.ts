/**
 * A simulated Argo CD application controller. It reacts to Application writes as the real one
 * does, through the API objects only. Follows argoproj/argo-cd:
 * pkg/apis/application/v1alpha1/types.go (Operation, SyncOperation, RetryStrategy,
 * OperationState, SyncOperationResult, RevisionHistory), controller/sync.go (SyncAppState,
 * newSyncOperationResult, persistRevisionHistory), gitops-engine/pkg/sync/sync_context.go
 * (autoCreateNamespace, dry run, "serverside-applied"), controller/appcontroller.go (autoSync)
 * and util/argo/argo.go (SetAppOperation).
 *
 * - `operation` set → the controller reads ONLY the operation (never spec.syncPolicy):
 *   `operation.sync.syncOptions`, `operation.retry`, `operation.sync.revision(s)` and
 *   `source(s)`. `status.operationState` {phase: Running, startedAt, operation, message,
 *   syncResult {revision, source | revision: '', revisions, sources, resources: []}} and
 *   health Progressing; then over `ticks` ticks of `tickMs`:
 *   - CreateNamespace=true in the operation and the destination namespace missing: a
 *     Namespace is created first (result {kind: Namespace, name, status: Synced, message
 *     "namespace/<ns> created", syncPhase: PreSync});
 *   - a resource whose namespace does not exist: the dry run fails at once — each such
 *     resource SyncFailed `namespaces "<ns>" not found`, message "one or more objects failed
 *     to apply (dry run)";
 *   - otherwise resources are applied (syncResult.resources grows: {group, version, kind,
 *     namespace, name, status: Synced|SyncFailed, message, hookPhase, syncPhase}); the message
 *     is `<kind>.<group>/<name> serverside-applied` with ServerSideApply=true in the
 *     operation, `… configured` without;
 *   - revisions: the operation's `revision` (multi-source: `revisions[i]`; absent or equal to
 *     the source's targetRevision → what that target resolves to now, `headRevision(s)`), as
 *     syncResult.revision(s), status.sync.revision(s) and in the history entry;
 *   then
 *   - Succeeded: message "successfully synced (all tasks run)", finishedAt, status.sync
 *     {status: Synced (OutOfSync when not at head, e.g. a rollback), revision | revisions},
 *     health Healthy, status.history += {id, revision, source | revisions, sources, deployedAt,
 *     deployStartedAt, initiatedBy} (at most 10 kept); or
 *   - failed (`fail` configured, or the dry run): with operation.retry.limit n the attempt is
 *     retried n times (phase Running, retryCount, message "Retrying attempt #k …"; backoff is
 *     not modelled: the next attempt follows at once), then phase Failed, sync OutOfSync,
 *     health Degraded, no history entry;
 *   and in the same write `operation` is removed (GET shows no `operation` key: test `== null`).
 * - `startAutoSync(app)`: what the auto-sync writes (SetAppOperation): refused while
 *   `.operation` is set; else `.operation` = {sync: {revision(s) at head, prune, syncOptions
 *   from the spec}, initiatedBy: {automated: true}, retry: spec retry or {limit: 5}} and
 *   status.operationState cleared.
 * - annotation `argocd.argoproj.io/refresh` → after one tick, one write sets status.reconciledAt
 *   (second precision, like Argo), recomputes status.sync.status against the head revision and
 *   removes the annotation. Wait for the annotation to go, not for reconciledAt to change.
 *
 * Not modelled: auto-sync acting by itself, Terminating an operation, hooks, prune, sync waves.
 */
import {
  applyResult,
  failMessage,
  namespaceCreated,
  namespaceNotFound,
  resolve,
  type SyncedResource,
} from './argo-sync-results.js';
import { namespaceObject, now, sha } from './seed.js';
import {
  type KObject,
  type ObjectStore,
  realClearTimeout,
  realSetTimeout,
  type StoreEvent,
} from './store.js';

export interface ControllerConfig {
  /** Ticks a sync takes between Running and the end (default 3). */
  ticks?: number;
  /** Milliseconds a tick (default 25). */
  tickMs?: number;
  /** Make syncs of this app fail: these resources get SyncFailed with the message. */
  fail?: { resources: { kind: string; name: string; message: string }[] } | null;
  /** What HEAD resolves to: set it to simulate a new commit (a 40-hex sha is made from a name). */
  headRevision?: string;
  /** Multi-source apps: what each source's target resolves to. */
  headRevisions?: string[];
}

export interface SyncRecord {
  app: string;
  namespace: string;
  /** Multi-source apps: the revisions joined with ','. */
  revision: string;
  phase: 'Succeeded' | 'Failed';
  attempts: number;
  /** Who asked: a username, or 'automated'. */
  initiatedBy?: string;
}

const REFRESH = 'argocd.argoproj.io/refresh';
// biome-ignore lint/suspicious/noExplicitAny: an Application's JSON, walked as Argo CD's controller would
type Json = Record<string, any>;

/** What one attempt does, decided when it starts. */
interface Plan {
  /** The namespace CreateNamespace makes, when missing. */
  createNamespace?: string;
  /** Resources whose namespace does not exist: the dry run fails on them. */
  dryRunFailures: Json[];
  serverSide: boolean;
}

export class ArgoController {
  /** Every finished operation, in order. */
  readonly syncs: SyncRecord[] = [];
  private readonly configs = new Map<string, ControllerConfig>();
  private readonly busy = new Set<string>();
  private readonly refreshing = new Set<string>();
  /** Why the last attempt of an app failed, for the next attempt's "Retrying" message. */
  private readonly lastFailure = new Map<string, string>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private unsubscribe: () => void = () => {};

  constructor(private readonly store: ObjectStore) {}

  start(): void {
    this.unsubscribe = this.store.subscribe((ev) => this.onEvent(ev));
  }

  stop(): void {
    this.unsubscribe();
    for (const t of this.timers) realClearTimeout(t);
    this.timers.clear();
  }

  /** Settings for one app (by name); merged into what was set before. `fail: null` clears. */
  configure(app: string, config: ControllerConfig): void {
    this.configs.set(app, { ...this.configs.get(app), ...config });
  }

  config(app: string): Required<Pick<ControllerConfig, 'ticks' | 'tickMs'>> & ControllerConfig {
    return { ticks: 3, tickMs: 25, ...this.configs.get(app) };
  }

  /** Whether an operation of this app is in progress. */
  isRunning(app: string, namespace = 'argocd'): boolean {
    return this.busy.has(`${namespace}/${app}`);
  }

  headRevision(app: KObject): string {
    const configured = this.config(app.metadata.name).headRevision;
    if (configured) return sha(configured);
    return String((app.status as Json | undefined)?.sync?.revision ?? sha('HEAD'));
  }

  /** Multi-source apps: what each source's target resolves to now. */
  headRevisions(app: KObject): string[] {
    const configured = this.config(app.metadata.name).headRevisions;
    if (configured) return configured.map(sha);
    return [...((app.status as Json | undefined)?.sync?.revisions ?? [])];
  }

  /**
   * What Argo CD's auto-sync does when it decides to sync (appcontroller.go autoSync →
   * SetAppOperation): false when an operation is already set ("another operation is already
   * in progress").
   */
  startAutoSync(name: string, namespace = 'argocd'): boolean {
    let started = false;
    this.store.mutate('applications', namespace, name, (app) => {
      if (app.operation) return false;
      const spec = app.spec as Json;
      const multi = Array.isArray(spec.sources) && spec.sources.length > 0;
      app.operation = {
        sync: {
          ...(multi
            ? { revisions: this.headRevisions(app), sources: spec.sources }
            : { revision: this.headRevision(app), source: spec.source }),
          ...(spec.syncPolicy?.automated?.prune ? { prune: true } : {}),
          ...(spec.syncPolicy?.syncOptions ? { syncOptions: spec.syncPolicy.syncOptions } : {}),
        },
        initiatedBy: { automated: true },
        retry: spec.syncPolicy?.retry ?? { limit: 5 },
      };
      if (app.status) delete (app.status as Json).operationState;
      started = true;
    });
    return started;
  }

  private onEvent(ev: StoreEvent): void {
    if (ev.resource !== 'applications' || ev.type === 'DELETED') return;
    const app = ev.object;
    const id = `${app.metadata.namespace}/${app.metadata.name}`;
    if (app.operation && !this.busy.has(id)) {
      this.busy.add(id);
      this.later(app.metadata.name, () => this.attempt(app, 0));
    }
    if (app.metadata.annotations?.[REFRESH] && !this.refreshing.has(id)) {
      this.refreshing.add(id);
      this.later(app.metadata.name, () => this.refresh(app));
    }
  }

  private refresh(seen: KObject): void {
    const { name, namespace } = seen.metadata;
    this.refreshing.delete(`${namespace}/${name}`);
    this.store.mutate('applications', namespace, name, (app) => {
      app.status ??= {};
      const status = app.status as Json;
      status.reconciledAt = now();
      if (!this.busy.has(`${namespace}/${name}`) && status.sync) {
        status.sync.status = this.atHead(app, status.sync) ? 'Synced' : 'OutOfSync';
      }
      if (app.metadata.annotations) delete app.metadata.annotations[REFRESH];
    });
  }

  private atHead(app: KObject, sync: Json): boolean {
    if (Array.isArray(sync.revisions)) {
      return JSON.stringify(sync.revisions) === JSON.stringify(this.headRevisions(app));
    }
    return sync.revision === this.headRevision(app);
  }

  /**
   * What the operation syncs to (newSyncOperationResult): its own source(s) when it names
   * them (a rollback), else the app's; its revision(s), resolved in the repository.
   */
  private target(app: KObject, sync: Json): Json {
    const spec = app.spec as Json;
    const named = (Array.isArray(sync.sources) && sync.sources.length > 0) || sync.source;
    const sources: Json[] | undefined = named ? sync.sources : spec.sources;
    if (Array.isArray(sources) && sources.length > 0) {
      const heads = this.headRevisions(app);
      const revisions = sources.map((s, i) =>
        resolve(sync.revisions?.[i], s.targetRevision ?? 'HEAD', heads[i] ?? sha(`head-${i}`)),
      );
      return { revision: '', revisions, sources };
    }
    const source = (named ? sync.source : undefined) ?? spec.source;
    // Argo CD resolves the operation's revision in the repo: the app's own target revision
    // (or none) is what it tracks; "HEAD" of an app that tracks something else is the
    // repository's default branch — a different commit.
    const tracked = spec.source?.targetRevision ?? 'HEAD';
    return { revision: resolve(sync.revision, tracked, this.headRevision(app)), source };
  }

  /** CreateNamespace and ServerSideApply, read from the operation's own syncOptions only. */
  private plan(resources: SyncedResource[], destination: string, options: string[]): Plan {
    const exists = (ns: string) => this.store.get('namespaces', undefined, ns) !== undefined;
    const createNamespace =
      options.includes('CreateNamespace=true') && !exists(destination) ? destination : undefined;
    const dryRunFailures = resources
      .filter((r) => r.namespace && r.namespace !== createNamespace && !exists(r.namespace))
      .map(namespaceNotFound);
    return {
      createNamespace,
      dryRunFailures,
      serverSide: options.includes('ServerSideApply=true'),
    };
  }

  private attempt(seen: KObject, retryCount: number): void {
    const { name, namespace } = seen.metadata;
    const ns = namespace!;
    const current = this.store.get('applications', ns, name);
    if (!current?.operation) {
      this.busy.delete(`${ns}/${name}`);
      return;
    }
    const operation = current.operation as Json;
    const sync = (operation.sync ?? {}) as Json;
    const spec = current.spec as Json;
    const target = this.target(current, sync);
    const resources = ((current.status as Json | undefined)?.resources ?? []).map(
      (r: Json): SyncedResource => ({
        ...(r.group ? { group: r.group } : {}),
        version: r.version ?? 'v1',
        kind: r.kind,
        namespace: r.namespace ?? spec.destination?.namespace,
        name: r.name,
      }),
    );
    const cfg = this.config(name);
    const previous = (current.status as Json | undefined)?.operationState;
    const startedAt = retryCount === 0 ? now() : String(previous?.startedAt);
    this.store.mutate('applications', ns, name, (app) => {
      app.status ??= {};
      const status = app.status as Json;
      status.operationState = {
        operation,
        phase: 'Running',
        message:
          retryCount === 0
            ? 'one or more tasks are running'
            : `Retrying attempt #${retryCount} at ${new Date().toTimeString().slice(0, 5)}: ${this.lastFailure.get(`${ns}/${name}`) ?? ''}`,
        startedAt,
        ...(retryCount > 0 ? { retryCount } : {}),
        syncResult: { ...target, resources: [] },
      };
      status.health = { status: 'Progressing' };
    });
    const options = Array.isArray(sync.syncOptions) ? (sync.syncOptions as string[]) : [];
    let plan: Plan | undefined;
    let namespaceResult: Json[] = [];
    const step = (tick: number) => {
      if (!plan) {
        plan = this.plan(resources, spec.destination?.namespace ?? '', options);
        if (plan.createNamespace) {
          this.store.create('namespaces', namespaceObject(plan.createNamespace));
          namespaceResult = [namespaceCreated(plan.createNamespace)];
        }
      }
      const dryRunFailed = plan.dryRunFailures.length > 0;
      const final = tick >= cfg.ticks || dryRunFailed;
      const done = Math.ceil((tick * resources.length) / cfg.ticks);
      const failure = dryRunFailed
        ? 'one or more objects failed to apply (dry run)'
        : cfg.fail?.resources.length
          ? failMessage(cfg)
          : undefined;
      const gone = !this.store.mutate('applications', ns, name, (app) => {
        const state = (app.status as Json).operationState as Json;
        state.syncResult.resources = [
          ...namespaceResult,
          ...(dryRunFailed
            ? plan!.dryRunFailures
            : resources
                .slice(0, done)
                .map((r: SyncedResource) => applyResult(r, cfg, final, plan!.serverSide))),
        ];
        if (final) this.finish(app, target, failure, retryCount, startedAt);
      });
      if (gone || final) {
        const app = this.store.get('applications', ns, name);
        const phase = (app?.status as Json | undefined)?.operationState?.phase;
        if (phase === 'Running') {
          this.later(name, () => this.attempt(app!, retryCount + 1));
          return;
        }
        this.busy.delete(`${ns}/${name}`);
        if (phase) {
          this.syncs.push({
            app: name,
            namespace: ns,
            revision: target.revisions ? target.revisions.join(',') : target.revision,
            phase,
            attempts: retryCount + 1,
            initiatedBy: operation.initiatedBy?.automated
              ? 'automated'
              : operation.initiatedBy?.username,
          });
        }
        return;
      }
      this.later(name, () => step(tick + 1));
    };
    this.later(name, () => step(1));
  }

  private finish(
    app: KObject,
    target: Json,
    failure: string | undefined,
    retryCount: number,
    startedAt: string,
  ): void {
    const status = app.status as Json;
    const state = status.operationState as Json;
    const operation = app.operation as Json;
    const id = `${app.metadata.namespace}/${app.metadata.name}`;
    if (failure && retryCount < Number(operation.retry?.limit ?? 0)) {
      this.lastFailure.set(id, failure);
      return; // stays Running; the next attempt follows
    }
    this.lastFailure.delete(id);
    state.finishedAt = now();
    if (failure) {
      state.phase = 'Failed';
      state.message = failure;
      status.sync = { ...status.sync, status: 'OutOfSync' };
      status.health = { status: 'Degraded' };
    } else {
      const multi = Array.isArray(target.revisions);
      const at = multi ? { revisions: target.revisions } : { revision: target.revision };
      state.phase = 'Succeeded';
      state.message = 'successfully synced (all tasks run)';
      // Compared with the head before status.sync moves (the head defaults to what is deployed).
      const synced = this.atHead(app, at) ? 'Synced' : 'OutOfSync';
      status.sync = { ...status.sync, ...at, status: synced };
      status.health = { status: 'Healthy' };
      const history = (status.history ?? []) as Json[];
      history.push({
        id: history.reduce((max, h) => Math.max(max, Number(h.id)), -1) + 1,
        // persistRevisionHistory: multi-source entries carry revisions/sources only.
        ...(multi
          ? { revisions: target.revisions, sources: target.sources }
          : { revision: target.revision, source: target.source }),
        deployedAt: state.finishedAt,
        deployStartedAt: startedAt,
        ...(operation.initiatedBy ? { initiatedBy: operation.initiatedBy } : {}),
      });
      status.history = history.slice(-10);
      for (const r of status.resources ?? []) {
        r.status = 'Synced';
        r.health = { status: 'Healthy' };
      }
    }
    status.reconciledAt = now();
    delete app.operation;
  }

  private later(app: string, fn: () => void): void {
    const t = realSetTimeout(() => {
      this.timers.delete(t);
      fn();
    }, this.config(app).tickMs);
    this.timers.add(t);
  }
}
