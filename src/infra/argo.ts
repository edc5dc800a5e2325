/**
 * Argo CD through the Kubernetes API only (the bot has a ServiceAccount, no Argo CD login):
 * Applications are read, merge-patched (`operation`, the refresh annotation) and watched
 * (list-then-watch, resumed when the stream drops: kube-watch.ts).
 */
import { CustomObjectsApi } from '@kubernetes/client-node';
import { UserError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { closest } from '../core/suggest.js';
import { OperationTracker } from './argo-follow.js';
import {
  type AppJson,
  ARGO_GROUP,
  ARGO_VERSION,
  type ArgoApp,
  appPath,
  type HistoryEntry,
  type OperationState,
  REFRESH_ANNOTATION,
  refreshPatch,
  runningOperation,
  shortRevisions,
  TERMINAL_PHASES,
  toArgoApp,
} from './argo-objects.js';
import {
  operationPatch,
  rollbackEntry,
  rollbackOperation,
  syncOperation,
} from './argo-operation.js';
import type { Kube } from './kube.js';
import { callKube, hasStatus, MERGE_PATCH } from './kube-api.js';
import { formatMs } from './kube-objects.js';
import { follow } from './kube-watch.js';

export * from './argo-objects.js';
export * from './argo-operation.js';

/** Conflicts in a row before giving up (each one means the app changed between read and write). */
const MAX_CONFLICTS = 5;

export interface SyncOptions {
  revision?: string;
  prune?: boolean;
  /** The chat user (`userLabel`), written to operation.initiatedBy.username. */
  initiatedBy: string;
  /** Every change of this operation's state (phase, message, resources). */
  onProgress?: (state: OperationState, app: ArgoApp) => void;
  /**
   * Another operation started between the bot's read and its write (the write got 409 and the
   * app, read again, was busy): ours was not started, and that one is followed instead.
   */
  onPreempted?: (running: string, app: ArgoApp) => void;
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface SyncOutcome {
  app: ArgoApp;
  state: OperationState;
  /** Set when ours was not started: the operation that started in the meantime (followed). */
  preemptedBy?: string;
}

export class Argo {
  private readonly custom: CustomObjectsApi;
  private readonly namespace: string;
  private readonly log: Logger;

  constructor(
    private readonly kube: Kube,
    opts: { namespace: string; logger: Logger },
  ) {
    this.custom = kube.config.makeApiClient(CustomObjectsApi);
    this.namespace = opts.namespace;
    this.log = opts.logger;
  }

  private get ref() {
    return {
      group: ARGO_GROUP,
      version: ARGO_VERSION,
      namespace: this.namespace,
      plural: 'applications',
    };
  }

  /** Every Application in the Argo CD namespace, by name. */
  async list(): Promise<ArgoApp[]> {
    const list = (await this.call('listing Argo CD applications', () =>
      this.custom.listNamespacedCustomObject(this.ref),
    )) as AppJson;
    return ((list.items ?? []) as AppJson[])
      .map(toArgoApp)
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** One Application; an unknown name is a UserError with a suggestion and the apps there are. */
  async get(name: string): Promise<ArgoApp> {
    return toArgoApp(
      (await this.call(
        `reading application ${name}`,
        () => this.custom.getNamespacedCustomObject({ ...this.ref, name }),
        name,
      )) as AppJson,
    );
  }

  /** The names of all applications (autocomplete). */
  async names(): Promise<string[]> {
    return (await this.list()).map((a) => a.name);
  }

  /**
   * Starts a sync (refused while another operation runs) and follows it until it ends:
   * Succeeded, Failed or Error. A timeout is a UserError saying where it stood.
   */
  async sync(name: string, opts: SyncOptions): Promise<SyncOutcome> {
    return this.run(name, 'sync', (app) => syncOperation(app, opts), opts);
  }

  /**
   * Reads the app, refuses when an operation runs, writes the operation with the version read;
   * a 409 means the app changed in between: read again and decide again. An operation that
   * started in the meantime (an auto-sync, someone else's sync) is never overwritten: it is
   * reported (`onPreempted`) and followed instead of ours.
   */
  private async run(
    name: string,
    what: string,
    build: (app: ArgoApp) => AppJson,
    opts: SyncOptions,
  ): Promise<SyncOutcome> {
    for (let conflicts = 0; ; conflicts++) {
      const app = await this.get(name);
      const running = runningOperation(app);
      if (running && conflicts > 0) {
        opts.onPreempted?.(running, app);
        this.log.info({ app: name, running }, `argo ${what} preempted by another operation`);
        const outcome = await this.followOperation(name, app, 0, opts, true);
        return { ...outcome, preemptedBy: running };
      }
      this.refuseIfBusy(app);
      const operation = build(app);
      const body = operationPatch(operation, app.resourceVersion);
      const patchedAt = Date.now();
      let patched: ArgoApp;
      try {
        patched = toArgoApp(
          (await this.call(
            `starting a ${what} of ${name}`,
            () => this.custom.patchNamespacedCustomObject({ ...this.ref, name, body }, MERGE_PATCH),
            name,
          )) as AppJson,
        );
      } catch (err) {
        if (hasStatus(err, 409) && conflicts < MAX_CONFLICTS) {
          this.log.info(
            { app: name, read: app.resourceVersion },
            `argo ${what}: conflict, reading again`,
          );
          continue;
        }
        throw err;
      }
      this.log.info(
        { app: name, revision: shortRevisions(operation.sync), prune: operation.sync.prune },
        `argo ${what} started`,
      );
      return this.followOperation(name, patched, patchedAt, opts, false);
    }
  }

  /**
   * Sets the refresh annotation, waits until the controller has removed it (it has compared
   * the app with Git again), and returns the new state.
   */
  async refresh(
    name: string,
    hard: boolean,
    opts: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<ArgoApp> {
    await this.get(name);
    await this.call(
      `refreshing ${name}`,
      () =>
        this.custom.patchNamespacedCustomObject(
          { ...this.ref, name, body: refreshPatch(hard) },
          MERGE_PATCH,
        ),
      name,
    );
    let last: ArgoApp | undefined;
    const done = (o: AppJson | undefined) => {
      if (!o) return false;
      last = toArgoApp(o);
      return !last.refreshing;
    };
    const ok = await this.watch(`waiting for the refresh of ${name}`, name, opts, done);
    if (ok && last) return last;
    throw new UserError(
      `Argo CD did not finish the refresh of ${name} within ${formatMs(opts.timeoutMs)}: the annotation ${REFRESH_ANNOTATION} is still set.`,
      'Is the Argo CD application controller running? `kubectl -n argocd get pods`',
    );
  }

  /**
   * The history entry to roll back to. Refused while auto-sync is enabled (Argo CD does the
   * same: auto-sync would take the app straight back to its target revision).
   */
  async rollbackTarget(
    name: string,
    historyId: number,
  ): Promise<{ app: ArgoApp; entry: HistoryEntry }> {
    const app = await this.get(name);
    return { app, entry: rollbackEntry(app, historyId) };
  }

  /** A rollback as Argo CD starts one: a sync to the entry's revision(s) and source(s). */
  async rollback(name: string, historyId: number, opts: SyncOptions): Promise<SyncOutcome> {
    return this.run(
      name,
      'rollback',
      (app) => rollbackOperation(app, rollbackEntry(app, historyId), opts.initiatedBy),
      opts,
    );
  }

  /** Throws the reason when an operation is in progress (Argo CD's API server would refuse too). */
  refuseIfBusy(app: ArgoApp): void {
    const running = runningOperation(app);
    if (running) {
      const done = app.operationState?.resources.length;
      throw new UserError(
        `Not syncing ${app.name}: another operation is already in progress — ${running}${done ? ` (${done}/${app.resources.length} resources so far)` : ''}.`,
        `Wait for it to finish (/argo status ${app.name}), then try again.`,
      );
    }
  }

  /**
   * After a restart: the operation a sync or rollback started at `since` (by this bot), followed
   * again to its end. Undefined when none was started from then on (the bot went down before
   * writing it): nothing to follow.
   */
  async followStarted(
    name: string,
    since: number,
    opts: Pick<SyncOptions, 'onProgress' | 'timeoutMs' | 'signal'>,
  ): Promise<SyncOutcome | undefined> {
    const app = await this.get(name);
    const state = app.operationState;
    const startedAt = state?.startedAt ? Date.parse(state.startedAt) : Number.NaN;
    const ours =
      app.operationPending ||
      (!Number.isNaN(startedAt) && startedAt >= Math.floor(since / 1000) * 1000);
    if (!ours) return undefined;
    // Ended while the bot was down: that is the outcome.
    if (
      state &&
      !app.operationPending &&
      (TERMINAL_PHASES as readonly string[]).includes(state.phase)
    )
      return { app, state };
    return this.followOperation(name, app, since, { ...opts, initiatedBy: '' }, true);
  }

  private async followOperation(
    name: string,
    patched: ArgoApp,
    patchedAt: number,
    opts: SyncOptions,
    runningNow: boolean,
  ): Promise<SyncOutcome> {
    const tracker = new OperationTracker(patched.operationState, patchedAt, runningNow);
    const see = (o: AppJson | undefined) => tracker.see(o, opts.onProgress);
    const ok = await this.watch(`following the sync of ${name}`, name, opts, see);
    const { final, last } = tracker;
    if (ok && final) return final;
    const where = last
      ? `It stood at phase ${last.state.phase}, ${last.state.resources.length}/${last.app.resources.length} resources synced${last.state.message ? `: ${last.state.message}` : ''}.`
      : 'Argo CD had not started the operation (is its application controller running?).';
    throw new UserError(
      `The sync of ${name} did not finish within ${formatMs(opts.timeoutMs)}.`,
      `${where} Argo CD carries on with it: /argo status ${name}.`,
    );
  }

  /** List-then-watch the one application until `done` says so; false at the deadline. */
  private async watch(
    what: string,
    name: string,
    opts: { timeoutMs: number; signal?: AbortSignal },
    done: (o: AppJson | undefined) => boolean,
  ): Promise<boolean> {
    const fieldSelector = `metadata.name=${name}`;
    let deleted = false;
    const ok = await this.call(
      what,
      () =>
        follow<AppJson>({
          kc: this.kube.config,
          log: this.log,
          path: appPath(this.namespace),
          fieldSelector,
          list: async () => {
            const list = (await this.custom.listNamespacedCustomObject({
              ...this.ref,
              fieldSelector,
            })) as AppJson;
            return {
              items: (list.items ?? []) as AppJson[],
              resourceVersion: String(list.metadata?.resourceVersion ?? ''),
            };
          },
          onList: (items) => done(items[0]),
          onEvent: (type, o) => {
            if (type === 'DELETED') deleted = true;
            return deleted || done(o);
          },
          deadline: Date.now() + opts.timeoutMs,
          ...(opts.signal ? { signal: opts.signal } : {}),
        }),
      undefined,
      opts.signal,
    );
    if (deleted) throw new UserError(`The application ${name} was deleted in the meantime.`);
    return ok;
  }

  private async unknownApp(name: string): Promise<UserError> {
    let known: string[] = [];
    try {
      known = await this.names();
    } catch {
      // the 404 is what matters
    }
    const guess = closest(name, known);
    return new UserError(
      `Argo CD has no application "${name}" in namespace ${this.namespace}.${guess ? ` Did you mean "${guess}"?` : ''}`,
      known.length ? `Applications: ${known.join(', ')}.` : 'There are no applications.',
    );
  }

  private call<T>(
    what: string,
    fn: () => Promise<T>,
    app?: string,
    signal?: AbortSignal,
  ): Promise<T> {
    return callKube(what, this.kube.server, fn, {
      signal,
      notFound: app === undefined ? undefined : () => this.unknownApp(app),
    });
  }
}
