import { createHash } from 'node:crypto';
import type { Reply } from '../core/reply.js';
import type { DestinationView } from './alert-store.js';
import { own, recordOf } from './records.js';
import type { GroupChange, GroupState } from './types.js';

/** The change a destination has not been told about yet. */
export function pendingChange(view: DestinationView, state: GroupState): GroupChange {
  const newlyFiring = state.alerts.filter(
    (a) => a.status === 'firing' && own(view.shown, a.fingerprint) !== 'firing',
  );
  const newlyResolved = state.alerts.filter(
    (a) => a.status === 'resolved' && own(view.shown, a.fingerprint) === 'firing',
  );
  return {
    newlyFiring,
    newlyResolved,
    groupResolved: state.status === 'resolved' && view.shownStatus === 'firing',
    refired: state.refires > view.shownRefires,
  };
}

export function markShown(view: DestinationView, state: GroupState): void {
  view.shown = recordOf(state.alerts.map((a) => [a.fingerprint, a.status] as const));
  view.shownStatus = state.status;
  view.shownRefires = state.refires;
}

/** Identity of a rendering (a hash): an edit that would show the same thing is skipped. */
export const replyKey = (r: Reply) =>
  createHash('sha256').update(JSON.stringify(r)).digest('base64url').slice(0, 22);

/** Every alert of the groups, one line each: what a roll-up's thread keeps visible. */
export function rollupDetails(groups: GroupState[]): Reply {
  const lines = groups.flatMap((g) =>
    g.alerts.map((a) => {
      const where = ['instance', 'pod', 'node', 'job'].map((k) => a.labels[k]).find(Boolean) ?? '';
      const summary = a.annotations.summary ?? g.commonAnnotations.summary ?? '';
      return `${g.ref} ${a.status === 'firing' ? 'FIRING' : 'resolved'} ${a.labels.alertname ?? ''} ${where}${summary ? ` — ${summary}` : ''}`.trim();
    }),
  );
  const truncated = groups.reduce((n, g) => n + g.truncatedAlerts, 0);
  return {
    title: `Every alert of these ${groups.length} groups`,
    code: lines.join('\n'),
    footer: truncated
      ? `+${truncated} more alerts not sent by Alertmanager (max_alerts)`
      : undefined,
  };
}
