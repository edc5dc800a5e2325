/**
 * The `operation` the bot writes to start a sync or a rollback — built as Argo CD's own API
 * server builds it (server/application/application.go, Sync and Rollback), because the
 * application controller reads only the operation's copy of the app's settings
 * (controller/sync.go): without `syncOptions` CreateNamespace/ServerSideApply are ignored,
 * without `retry` a failed sync is not retried, and a multi-source rollback without
 * `revisions`/`sources` syncs every source to its current target instead.
 */
import { UserError } from '../core/errors.js';
import { type AppJson, type ArgoApp, type HistoryEntry, shortRevisions } from './argo-objects.js';

export interface SyncRequest {
  revision?: string;
  prune?: boolean;
  /** The chat user, as `platform:id (name)`. */
  initiatedBy: string;
}

/** What Argo CD's Sync writes: the app's syncOptions and retry copied in. */
export function syncOperation(app: ArgoApp, req: SyncRequest): AppJson {
  if (app.sources && req.revision) {
    throw new UserError(
      `${app.name} has ${app.sources.length} sources: a single revision cannot say which one it is for.`,
      `Sync it without a revision (each source to its own target revision), or roll back to a history entry (/argo status ${app.name}).`,
    );
  }
  // Like `argocd app sync`: without a revision, the app's own target revision (a tag or a
  // branch it tracks), never the repository's default branch. A multi-source app gets none:
  // Argo CD then syncs each source to its own targetRevision.
  const revision = req.revision ?? app.targetRevision;
  return {
    initiatedBy: { username: req.initiatedBy },
    sync: {
      ...(revision && !app.sources ? { revision } : {}),
      prune: req.prune ?? false,
      syncStrategy: { hook: {} },
      ...(app.syncOptions ? { syncOptions: app.syncOptions } : {}),
    },
    ...(app.retry ? { retry: app.retry } : {}),
  };
}

/**
 * What Argo CD's Rollback writes: the history entry's revision and source (multi-source:
 * `revisions` and `sources`), the app's syncOptions, the apply strategy, and no retry.
 */
export function rollbackOperation(app: ArgoApp, entry: HistoryEntry, initiatedBy: string): AppJson {
  return {
    initiatedBy: { username: initiatedBy },
    sync: {
      ...(entry.revision ? { revision: entry.revision } : {}),
      ...(entry.revisions ? { revisions: entry.revisions } : {}),
      prune: false,
      syncStrategy: { apply: {} },
      ...(app.syncOptions ? { syncOptions: app.syncOptions } : {}),
      ...(entry.source ? { source: entry.source } : {}),
      ...(entry.sources ? { sources: entry.sources } : {}),
    },
  };
}

/**
 * The merge patch that sets the operation, conditional on the version that was read: the API
 * server answers 409 Conflict when the app changed since (as Argo CD's SetAppOperation, which
 * updates with the version it read and reads again on a conflict).
 */
export function operationPatch(operation: AppJson, resourceVersion: string) {
  return { metadata: { resourceVersion }, operation };
}

/** A plan's stand-in for an app that was not read (dry run): the fields the values come from. */
export function placeholderOperation(req: SyncRequest): AppJson {
  return {
    initiatedBy: { username: req.initiatedBy },
    sync: {
      revision: req.revision ?? '<spec.source.targetRevision>',
      prune: req.prune ?? false,
      syncStrategy: { hook: {} },
      syncOptions: '<spec.syncPolicy.syncOptions>',
    },
    retry: '<spec.syncPolicy.retry>',
  };
}

/** The history entry `historyId`, or the UserError saying why there is no rollback to it. */
export function rollbackEntry(app: ArgoApp, historyId: number): HistoryEntry {
  if (app.autoSync) {
    throw new UserError(
      `Not rolling back ${app.name}: auto-sync is enabled (spec.syncPolicy.automated).`,
      'Argo CD refuses rollbacks while auto-sync is on — it would sync straight back to the target revision. Turn auto-sync off for this app (in Git, or `argocd app set --sync-policy none`), then roll back.',
    );
  }
  const entry = app.history.find((h) => h.id === historyId);
  if (!entry) {
    const ids = app.history.map((h) => `${h.id} (${shortRevisions(h)})`).join(', ');
    throw new UserError(
      `${app.name} has no history entry ${historyId}.`,
      ids
        ? `History: ${ids}. /argo status ${app.name} shows it.`
        : `${app.name} has no history yet.`,
    );
  }
  return entry;
}
