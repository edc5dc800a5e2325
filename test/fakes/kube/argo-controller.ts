/**
 * A simulated Argo CD application controller. It reacts to Application writes as the real one
 * does, through the API objects only:
 *
 * - `operation` set (a sync; `operation.sync.revision` absent or HEAD → the app's head revision)
 *   → `status.operationState` {phase: Running, startedAt, operation, message,
 *   syncResult {revision, source, resources: []}} and health Progressing; then over `ticks`
 *   ticks of `tickMs` the resources are applied (syncResult.resources grows: {group, version,
 *   kind, namespace, name, status: Synced|SyncFailed, message, hookPhase, syncPhase}); then
 *   - Succeeded: message "successfully synced (all tasks run)", finishedAt, status.sync
 *     {status: Synced (OutOfSync when not at head, e.g. a rollback), revision}, health Healthy,
 *     status.history += {id, revision, deployedAt, deployStartedAt, source, initiatedBy}
 *     (at most 10 kept); or
 *   - with `fail` configured: each listed resource SyncFailed with its message; with
 *     operation.retry.limit n the attempt is retried n times (phase Running, retryCount,
 *     message "Retrying attempt #k …"), then phase Failed, message "one or more objects failed
 *     to apply, reason: …", sync OutOfSync, health Degraded, no history entry;
 *   and in the same write `operation` is removed (a merge patch's `"operation": null`; GET shows
 *   no `operation` key, so test with `== null`).
 * - annotation `argocd.argoproj.io/refresh` → after one tick, one write sets status.reconciledAt
 *   (second precision, like Argo), recomputes status.sync.status against the head revision and
 *   removes the annotation. Wait for the annotation to go, not for reconciledAt to change.
 *
 * Not modelled: auto-sync acting by itself, Terminating an operation, hooks, prune.
 */
import { now, sha } from './seed.js';
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
}

export interface SyncRecord {
  app: string;
  namespace: string;
  revision: string;
  phase: 'Succeeded' | 'Failed';
  attempts: number;
}

const REFRESH = 'argocd.argoproj.io/refresh';
// biome-ignore lint/suspicious/noExplicitAny: an Application's JSON, walked as Argo CD's controller would
type Json = Record<string, any>;

interface SyncedResource {
  group?: string;
  version: string;
  kind: string;
  namespace: string;
  name: string;
}

export class ArgoController {
  /** Every finished operation, in order. */
  readonly syncs: SyncRecord[] = [];
  private readonly configs = new Map<string, ControllerConfig>();
  private readonly busy = new Set<string>();
  private readonly refreshing = new Set<string>();
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

  config(
    app: string,
  ): Required<Omit<ControllerConfig, 'fail' | 'headRevision'>> & ControllerConfig {
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
        status.sync.status =
          status.sync.revision === this.headRevision(app) ? 'Synced' : 'OutOfSync';
      }
      if (app.metadata.annotations) delete app.metadata.annotations[REFRESH];
    });
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
    const wanted = operation.sync?.revision as string | undefined;
    const spec = current.spec as Json;
    const target = spec.source?.targetRevision ?? 'HEAD';
    // Argo CD resolves the operation's revision in the repo: the app's own target revision
    // (or none) is what it tracks; "HEAD" of an app that tracks something else is the
    // repository's default branch — a different commit.
    const revision =
      !wanted || wanted === target
        ? this.headRevision(current)
        : wanted === 'HEAD'
          ? sha('default-branch-head')
          : sha(wanted);
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
    const startedAt =
      retryCount === 0 ? now() : String((current.status as Json).operationState?.startedAt);
    this.store.mutate('applications', ns, name, (app) => {
      app.status ??= {};
      const status = app.status as Json;
      status.operationState = {
        operation,
        phase: 'Running',
        message:
          retryCount === 0
            ? 'one or more tasks are running'
            : `Retrying attempt #${retryCount} at ${new Date().toTimeString().slice(0, 5)}: ${failMessage(cfg)}`,
        startedAt,
        ...(retryCount > 0 ? { retryCount } : {}),
        syncResult: { revision, source: spec.source, resources: [] },
      };
      status.health = { status: 'Progressing' };
    });
    const step = (tick: number) => {
      const done = Math.ceil((tick * resources.length) / cfg.ticks);
      const final = tick >= cfg.ticks;
      const gone = !this.store.mutate('applications', ns, name, (app) => {
        const state = (app.status as Json).operationState as Json;
        state.syncResult.resources = resources
          .slice(0, done)
          .map((r: SyncedResource) => this.result(r, cfg, final));
        if (final) this.finish(app, cfg, revision, retryCount, startedAt);
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
          this.syncs.push({ app: name, namespace: ns, revision, phase, attempts: retryCount + 1 });
        }
        return;
      }
      this.later(name, () => step(tick + 1));
    };
    this.later(name, () => step(1));
  }

  private result(r: SyncedResource, cfg: ControllerConfig, final: boolean): Json {
    const failure = cfg.fail?.resources.find((f) => f.kind === r.kind && f.name === r.name);
    const group = r.group ? `.${r.group}` : '';
    return {
      ...r,
      status: failure ? 'SyncFailed' : 'Synced',
      message: failure ? failure.message : `${r.kind.toLowerCase()}${group}/${r.name} configured`,
      hookPhase: final ? (failure ? 'Failed' : 'Succeeded') : 'Running',
      syncPhase: 'Sync',
    };
  }

  private finish(
    app: KObject,
    cfg: ControllerConfig,
    revision: string,
    retryCount: number,
    startedAt: string,
  ): void {
    const status = app.status as Json;
    const state = status.operationState as Json;
    const operation = app.operation as Json;
    const failed = Boolean(cfg.fail?.resources.length);
    if (failed && retryCount < Number(operation.retry?.limit ?? 0)) {
      return; // stays Running; the next attempt follows
    }
    state.finishedAt = now();
    if (failed) {
      state.phase = 'Failed';
      state.message = failMessage(cfg);
      status.sync = { ...status.sync, status: 'OutOfSync' };
      status.health = { status: 'Degraded' };
    } else {
      state.phase = 'Succeeded';
      state.message = 'successfully synced (all tasks run)';
      status.sync = {
        ...status.sync,
        status: revision === this.headRevision(app) ? 'Synced' : 'OutOfSync',
        revision,
      };
      status.health = { status: 'Healthy' };
      const history = (status.history ?? []) as Json[];
      history.push({
        id: history.reduce((max, h) => Math.max(max, Number(h.id)), -1) + 1,
        revision,
        deployedAt: state.finishedAt,
        deployStartedAt: startedAt,
        source: (app.spec as Json).source,
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

function failMessage(cfg: ControllerConfig): string {
  const reasons = (cfg.fail?.resources ?? []).map((r) => r.message).join(', ');
  return `one or more objects failed to apply, reason: ${reasons}`;
}
