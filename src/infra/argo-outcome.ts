import type { Reply } from '../core/reply.js';
import type { SyncOutcome } from './argo.js';
import { resourceName, shortRevisions } from './argo-objects.js';

/** The final answer of a sync or rollback followed to its end (also after a restart). */
export function renderOutcome({ app, state, preemptedBy }: SyncOutcome): Reply {
  const rev = shortRevisions(
    state.revision || state.revisions
      ? state
      : { revision: app.revision, revisions: app.revisions },
  );
  const failed = state.resources.filter((r) => r.status === 'SyncFailed');
  const secs =
    state.startedAt && state.finishedAt
      ? Math.round((Date.parse(state.finishedAt) - Date.parse(state.startedAt)) / 1000)
      : undefined;
  const after = `Now: sync ${app.syncStatus}, health ${app.health}.`;
  if (preemptedBy) {
    const who = state.initiatedBy ? ` by ${state.initiatedBy}` : '';
    const when = state.startedAt ? ` at ${state.startedAt}` : '';
    const what = state.automated ? 'an auto-sync' : 'another sync';
    return {
      severity: 'warning',
      title: `Not started: ${what} of ${app.name} started${when}${who}`,
      text: `Followed it instead: ${state.phase} at ${rev}${state.message ? ` — ${state.message}` : ''}. ${after}`,
      fields: failed.slice(0, 20).map((r) => ({
        name: resourceName(r),
        value: (r.message ?? r.status).slice(0, 1000),
      })),
    };
  }
  if (state.phase === 'Succeeded') {
    return {
      severity: 'success',
      title: `${app.name} synced to ${rev}`,
      text: `${state.resources.length} resources synced${secs !== undefined ? ` in ${secs} s` : ''}. ${after}`,
    };
  }
  return {
    severity: 'error',
    title: `Sync of ${app.name} to ${rev}: ${state.phase}`,
    text: `${state.message ?? 'no message'}${state.retryCount ? ` (after ${state.retryCount} retries)` : ''}\n${after}`,
    fields: failed.slice(0, 20).map((r) => ({
      name: resourceName(r),
      value: (r.message ?? r.status).slice(0, 1000),
    })),
  };
}
