import type { GroupChange, GroupState, KnownAlert, WebhookAlert, WebhookPayload } from './types.js';

/**
 * How one webhook notification changes what the bot knows of an alert group. Pure.
 *
 * - A fingerprint firing that was not firing before → `newlyFiring`; firing → resolved →
 *   `newlyResolved`. Resolved alerts stay (with `endsAt`) until the group resolves.
 * - Payload status `resolved` → `groupResolved`, `resolvedAt = now`; alerts still firing
 *   in the state but absent from the payload are resolved with it (also in `newlyResolved`).
 *   Exception: with `truncatedAlerts > 0` Alertmanager computes `status` over the alerts it
 *   kept, so while an alert we saw firing is hidden by truncation the group stays firing.
 * - A resolved group that fires again → `refired`: a new episode. `refires` + 1,
 *   `firingSince` reset, `resolvedAt` cleared, the previous episode's alerts dropped, and
 *   the silence and ack cleared: they were given for the previous episode, and a group
 *   that is back deserves fresh eyes (a silence still active in Alertmanager would keep the
 *   notification from coming at all).
 * - Alerts absent from a notification are kept as they were: Alertmanager leaves out the
 *   ones cut by `max_alerts` and the silenced or inhibited ones; neither means resolved.
 * - A repeat or retry changes nothing: the change is empty and `next` equals `previous`
 *   (labels, annotations and common labels are refreshed silently when Alertmanager's
 *   view of them moved; compare renderings to decide whether to edit the root).
 * - `ref` names a new group; an existing group keeps its ref.
 */
export function applyNotification(
  previous: GroupState | undefined,
  payload: WebhookPayload,
  now: Date,
  ref: string,
): { next: GroupState; change: GroupChange } {
  if (previous && previous.groupKey !== payload.groupKey) {
    throw new Error(`notification for ${payload.groupKey} applied to group ${previous.groupKey}`);
  }
  const nowIso = now.toISOString();
  const refired = previous?.status === 'resolved' && payload.status === 'firing';
  const fresh = !previous || refired;
  const known = new Map<string, KnownAlert>(
    fresh ? [] : previous.alerts.map((a) => [a.fingerprint, a]),
  );
  const change: GroupChange = {
    newlyFiring: [],
    newlyResolved: [],
    groupResolved: false,
    refired,
  };

  const inPayload = new Set<string>();
  for (const alert of payload.alerts) {
    inPayload.add(alert.fingerprint);
    const before = known.get(alert.fingerprint);
    const after = toKnown(alert, before, nowIso);
    if (after.status === 'firing' && before?.status !== 'firing') change.newlyFiring.push(after);
    if (after.status === 'resolved' && before?.status === 'firing') {
      change.newlyResolved.push(after);
    }
    known.set(alert.fingerprint, after);
  }

  const hiddenFiring = [...known.values()].filter(
    (a) => a.status === 'firing' && !inPayload.has(a.fingerprint),
  );
  const wasResolved = previous?.status === 'resolved';
  const resolvesNow =
    payload.status === 'resolved' &&
    !wasResolved &&
    !(payload.truncatedAlerts > 0 && hiddenFiring.length > 0);
  if (resolvesNow) {
    change.groupResolved = true;
    for (const a of hiddenFiring) {
      const resolved: KnownAlert = { ...a, status: 'resolved', endsAt: nowIso };
      known.set(a.fingerprint, resolved);
      change.newlyResolved.push(resolved);
    }
  }

  const status: GroupState['status'] =
    resolvesNow || (wasResolved && !refired) ? 'resolved' : 'firing';
  const alerts = [...known.values()];
  const base: GroupState = fresh
    ? {
        ref: previous?.ref ?? ref,
        groupKey: payload.groupKey,
        receiver: payload.receiver,
        status,
        groupLabels: {},
        commonLabels: {},
        commonAnnotations: {},
        externalURL: payload.externalURL,
        truncatedAlerts: 0,
        alerts: [],
        firingSince: firstStart(payload.alerts, now),
        refires: previous ? previous.refires + 1 : 0,
      }
    : { ...previous };
  const next: GroupState = {
    ...base,
    receiver: payload.receiver,
    status,
    groupLabels: payload.groupLabels,
    commonLabels: payload.commonLabels,
    commonAnnotations: payload.commonAnnotations,
    externalURL: payload.externalURL,
    // Alerts Alertmanager has but did not send; the hidden ones we know by name are
    // probably among them, so they are not counted twice.
    truncatedAlerts: Math.max(0, payload.truncatedAlerts - (resolvesNow ? 0 : hiddenFiring.length)),
    alerts,
  };
  // A fresh episode starts without the previous one's resolvedAt, silence and ack.
  if (resolvesNow) next.resolvedAt = nowIso;
  return { next, change };
}

export function isEmptyChange(change: GroupChange): boolean {
  return (
    change.newlyFiring.length === 0 &&
    change.newlyResolved.length === 0 &&
    !change.groupResolved &&
    !change.refired
  );
}

/** Alertmanager's "no end" timestamp, and anything else before the epoch. */
function hasEnd(iso: string): boolean {
  const t = Date.parse(iso);
  return !Number.isNaN(t) && t > 0;
}

function toKnown(alert: WebhookAlert, before: KnownAlert | undefined, nowIso: string): KnownAlert {
  const known: KnownAlert = {
    fingerprint: alert.fingerprint,
    status: alert.status,
    labels: alert.labels,
    annotations: alert.annotations,
    startsAt: alert.startsAt,
    generatorURL: alert.generatorURL,
  };
  if (alert.status === 'resolved') {
    // Keep the end we first saw: a repeat of the resolved alert must not move it.
    known.endsAt =
      before?.status === 'resolved' && before.endsAt
        ? before.endsAt
        : hasEnd(alert.endsAt)
          ? alert.endsAt
          : nowIso;
  }
  return known;
}

/** When the episode started: the earliest `startsAt` of its firing alerts, never after now. */
function firstStart(alerts: readonly WebhookAlert[], now: Date): string {
  const firing = alerts.filter((a) => a.status === 'firing');
  const starts = (firing.length ? firing : alerts)
    .map((a) => Date.parse(a.startsAt))
    .filter((t) => !Number.isNaN(t) && t > 0);
  const t = Math.min(now.getTime(), ...starts);
  return new Date(t).toISOString();
}
