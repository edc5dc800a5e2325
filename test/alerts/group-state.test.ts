import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyNotification, isEmptyChange } from '../../src/alerts/group-state.js';
import type {
  GroupChange,
  GroupState,
  WebhookAlert,
  WebhookPayload,
} from '../../src/alerts/types.js';

const fixture = (name: string): WebhookPayload =>
  JSON.parse(
    readFileSync(
      path.resolve(import.meta.dirname, '../fixtures/alertmanager', `${name}.json`),
      'utf8',
    ),
  );

const NO_END = '0001-01-01T00:00:00Z';
const at = (hhmm: string) => new Date(`2026-11-26T${hhmm}:00Z`);
const targetDown = fixture('firing-truncated-group');

/** One TargetDown alert of the captured group, by host (pi1, pi2, pi3). */
function alert(
  host: string,
  status: 'firing' | 'resolved' = 'firing',
  extra: Partial<WebhookAlert> = {},
): WebhookAlert {
  const a = targetDown.alerts.find((x) => x.labels.instance === `${host}:9100`)!;
  return { ...structuredClone(a), status, endsAt: NO_END, ...extra };
}

function notification(alerts: WebhookAlert[], truncatedAlerts = 0): WebhookPayload {
  return {
    ...structuredClone(targetDown),
    status: alerts.every((a) => a.status === 'resolved') ? 'resolved' : 'firing',
    alerts,
    truncatedAlerts,
  };
}

/** A change as fingerprints → host names, to read the tests at a glance. */
function summary(change: GroupChange) {
  const hosts = (list: { labels: Record<string, string> }[]) =>
    list.map((a) => a.labels.instance?.replace(':9100', '') ?? a.labels.pod);
  return {
    newlyFiring: hosts(change.newlyFiring),
    newlyResolved: hosts(change.newlyResolved),
    groupResolved: change.groupResolved,
    refired: change.refired,
  };
}

const nothing = { newlyFiring: [], newlyResolved: [], groupResolved: false, refired: false };

describe('applyNotification: a group over its life', () => {
  it('firing → more firing → repeat → partly resolved → resolved → repeat → fires again', () => {
    // 1. A new group.
    let r = applyNotification(
      undefined,
      notification([alert('pi1'), alert('pi2')]),
      at('07:00'),
      'A-12',
    );
    expect(summary(r.change)).toEqual({ ...nothing, newlyFiring: ['pi1', 'pi2'] });
    expect(r.next).toMatchObject({
      ref: 'A-12',
      status: 'firing',
      firingSince: '2026-11-26T06:56:28.603Z',
      refires: 0,
      truncatedAlerts: 0,
      groupKey: targetDown.groupKey,
    });
    expect(r.next.resolvedAt).toBeUndefined();

    // 2. One more alert joins the group.
    r = applyNotification(
      r.next,
      notification([alert('pi1'), alert('pi2'), alert('pi3')]),
      at('07:05'),
      'A-99',
    );
    expect(summary(r.change)).toEqual({ ...nothing, newlyFiring: ['pi3'] });
    expect(r.next.ref).toBe('A-12');
    expect(r.next.alerts.map((a) => a.status)).toEqual(['firing', 'firing', 'firing']);

    // 3. Alertmanager repeats itself (repeat_interval, or a retry): nothing to tell.
    const before = r.next;
    r = applyNotification(
      before,
      notification([alert('pi1'), alert('pi2'), alert('pi3')]),
      at('07:06'),
      'A-99',
    );
    expect(isEmptyChange(r.change)).toBe(true);
    expect(r.next).toEqual(before);

    // 4. pi2 resolves; resolved alerts stay, with their end.
    const pi2Resolved = alert('pi2', 'resolved', { endsAt: '2026-11-26T07:09:00Z' });
    r = applyNotification(
      r.next,
      notification([alert('pi1'), pi2Resolved, alert('pi3')]),
      at('07:10'),
      'x',
    );
    expect(summary(r.change)).toEqual({ ...nothing, newlyResolved: ['pi2'] });
    expect(r.next.status).toBe('firing');
    expect(r.next.alerts.find((a) => a.labels.instance === 'pi2:9100')).toMatchObject({
      status: 'resolved',
      endsAt: '2026-11-26T07:09:00Z',
    });

    // 5. Everything resolves: the group resolves, at the time the bot learns it.
    const allResolved = notification([
      alert('pi1', 'resolved'),
      pi2Resolved,
      alert('pi3', 'resolved'),
    ]);
    r = applyNotification(r.next, allResolved, at('07:20'), 'x');
    expect(summary(r.change)).toEqual({
      ...nothing,
      newlyResolved: ['pi1', 'pi3'],
      groupResolved: true,
    });
    expect(r.next).toMatchObject({ status: 'resolved', resolvedAt: '2026-11-26T07:20:00.000Z' });
    // An end Alertmanager did not give is when the bot saw it resolve.
    expect(r.next.alerts.map((a) => a.endsAt)).toEqual([
      '2026-11-26T07:20:00.000Z',
      '2026-11-26T07:09:00Z',
      '2026-11-26T07:20:00.000Z',
    ]);

    // 6. The resolved notification again: nothing new, nothing moves.
    const resolvedState = r.next;
    r = applyNotification(resolvedState, allResolved, at('07:25'), 'x');
    expect(isEmptyChange(r.change)).toBe(true);
    expect(r.next).toEqual(resolvedState);

    // 7. It fires again: a new episode; the silence and ack were for the last one.
    const silenced: GroupState = {
      ...resolvedState,
      silence: {
        id: 's1',
        createdBy: 'alice',
        comment: 'rebooting',
        endsAt: '2026-11-26T08:10:00Z',
      },
      ack: { by: 'bob', at: '2026-11-26T07:01:00Z' },
    };
    const again = alert('pi1', 'firing', { startsAt: '2026-11-26T07:58:00Z' });
    r = applyNotification(silenced, notification([again]), at('08:00'), 'x');
    expect(summary(r.change)).toEqual({ ...nothing, newlyFiring: ['pi1'], refired: true });
    expect(r.next).toMatchObject({
      ref: 'A-12',
      status: 'firing',
      refires: 1,
      firingSince: '2026-11-26T07:58:00.000Z',
    });
    expect(r.next.alerts).toHaveLength(1);
    for (const gone of ['resolvedAt', 'silence', 'ack']) expect(r.next).not.toHaveProperty(gone);
  });

  it('the real captures: firing-single then resolved', () => {
    const first = applyNotification(undefined, fixture('firing-single'), at('07:00'), 'A-1');
    expect(summary(first.change)).toEqual({ ...nothing, newlyFiring: ['home-assistant-0'] });
    const second = applyNotification(first.next, fixture('resolved'), at('07:42'), 'A-2');
    expect(summary(second.change)).toEqual({
      ...nothing,
      newlyResolved: ['home-assistant-0'],
      groupResolved: true,
    });
    expect(second.next).toMatchObject({
      ref: 'A-1',
      status: 'resolved',
      firingSince: '2026-11-26T06:56:28.603Z',
      resolvedAt: '2026-11-26T07:42:00.000Z',
    });
    expect(second.next.alerts[0]!.endsAt).toBe('2026-11-26T06:56:32Z');
    // The annotations are the latest Alertmanager sent.
    expect(second.next.commonAnnotations).toEqual(fixture('resolved').commonAnnotations);
  });

  it('a group first seen resolved is resolved, with nothing to tell per alert', () => {
    const r = applyNotification(undefined, fixture('resolved'), at('07:00'), 'A-3');
    expect(summary(r.change)).toEqual({ ...nothing, groupResolved: true });
    expect(r.next).toMatchObject({ status: 'resolved', resolvedAt: '2026-11-26T07:00:00.000Z' });
  });

  it('never dates the start after now (clock skew between Prometheus and the bot)', () => {
    const r = applyNotification(undefined, fixture('firing-single'), at('06:00'), 'A-4');
    expect(r.next.firingSince).toBe('2026-11-26T06:00:00.000Z');
  });

  it('refuses a notification of another group', () => {
    const r = applyNotification(undefined, fixture('firing-single'), at('07:00'), 'A-5');
    expect(() => applyNotification(r.next, fixture('firing-critical'), at('07:01'), 'A-6')).toThrow(
      /applied to group/,
    );
  });
});

describe('applyNotification: alerts left out of a notification', () => {
  it('takes the real truncated capture: 3 shown, 1 more counted', () => {
    const r = applyNotification(undefined, fixture('firing-truncated-group'), at('07:00'), 'A-7');
    expect(r.next.alerts).toHaveLength(3);
    expect(r.next.truncatedAlerts).toBe(1);
  });

  it('keeps alerts cut by max_alerts firing, and does not count them twice', () => {
    const first = applyNotification(
      undefined,
      notification([alert('pi1'), alert('pi2')], 1),
      at('07:00'),
      'A-8',
    );
    expect(first.next.truncatedAlerts).toBe(1);
    // pi1 is cut this time; it is the one counted in truncatedAlerts.
    const r = applyNotification(
      first.next,
      notification([alert('pi2'), alert('pi3')], 1),
      at('07:05'),
      'x',
    );
    expect(summary(r.change)).toEqual({ ...nothing, newlyFiring: ['pi3'] });
    expect(r.next.alerts.map((a) => [a.labels.instance, a.status])).toEqual([
      ['pi1:9100', 'firing'],
      ['pi2:9100', 'firing'],
      ['pi3:9100', 'firing'],
    ]);
    expect(r.next.truncatedAlerts).toBe(0);
  });

  it('does not resolve the group while an alert it saw firing may hide behind truncation', () => {
    // Alertmanager computes `status` over the alerts it kept, not the whole group.
    const first = applyNotification(
      undefined,
      notification([alert('pi1'), alert('pi2'), alert('pi3')]),
      at('07:00'),
      'A-9',
    );
    const cut = notification([alert('pi2', 'resolved'), alert('pi3', 'resolved')], 1);
    expect(cut.status).toBe('resolved');
    const r = applyNotification(first.next, cut, at('07:10'), 'x');
    expect(summary(r.change)).toEqual({ ...nothing, newlyResolved: ['pi2', 'pi3'] });
    expect(r.next.status).toBe('firing');
  });

  it('keeps a firing alert missing without truncation (silenced or inhibited), until the group resolves', () => {
    const first = applyNotification(
      undefined,
      notification([alert('pi1'), alert('pi2')]),
      at('07:00'),
      'A-10',
    );
    const without = applyNotification(first.next, notification([alert('pi2')]), at('07:05'), 'x');
    expect(isEmptyChange(without.change)).toBe(true);
    expect(without.next.alerts.map((a) => a.status)).toEqual(['firing', 'firing']);
    // The group resolves: so does the alert that was left out.
    const done = applyNotification(
      without.next,
      notification([alert('pi2', 'resolved')]),
      at('07:30'),
      'x',
    );
    expect(summary(done.change)).toEqual({
      ...nothing,
      newlyResolved: ['pi2', 'pi1'],
      groupResolved: true,
    });
    expect(done.next.alerts.every((a) => a.status === 'resolved' && a.endsAt)).toBe(true);
  });
});

describe('isEmptyChange', () => {
  it.each<[Partial<GroupChange>, boolean]>([
    [{}, true],
    [{ groupResolved: true }, false],
    [{ refired: true }, false],
    [{ newlyFiring: [alert('pi1') as never] }, false],
    [{ newlyResolved: [alert('pi1') as never] }, false],
  ])('%j → %s', (partial, expected) => {
    expect(isEmptyChange({ ...nothing, ...partial })).toBe(expected);
  });
});
