import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyNotification } from '../../src/alerts/group-state.js';
import {
  type ApiAlertLike,
  formatDuration,
  renderAlertList,
  renderChange,
  renderRollup,
  renderRoot,
} from '../../src/alerts/render.js';
import type { GroupState, WebhookAlert, WebhookPayload } from '../../src/alerts/types.js';
import type { Reply } from '../../src/core/reply.js';

const fixture = (name: string): WebhookPayload =>
  JSON.parse(
    readFileSync(
      path.resolve(import.meta.dirname, '../fixtures/alertmanager', `${name}.json`),
      'utf8',
    ),
  );
const at = (hhmm: string) => new Date(`2026-11-26T${hhmm}:00Z`);
const json = (r: Reply | undefined) => `${JSON.stringify(r, null, 2)}\n`;

/** A group's state after these notifications, each with the time it arrived. */
function stateAfter(...steps: [WebhookPayload, string][]): GroupState {
  let state: GroupState | undefined;
  for (const [payload, time] of steps)
    state = applyNotification(state, payload, at(time), 'A-12').next;
  return state!;
}

/** The captured crash-looping group with `n` pods. */
function podGroup(n: number, resolved = 0): WebhookPayload {
  const base = fixture('firing-single');
  const alerts: WebhookAlert[] = Array.from({ length: n }, (_, i) => ({
    ...structuredClone(base.alerts[0]!),
    status: i < resolved ? 'resolved' : 'firing',
    endsAt: i < resolved ? '2026-11-26T07:05:00Z' : '0001-01-01T00:00:00Z',
    labels: { ...base.alerts[0]!.labels, pod: `zigbee2mqtt-${i}` },
    annotations: { summary: `Pod home-assistant/zigbee2mqtt-${i} is crash looping` },
    fingerprint: `f${i.toString(16).padStart(15, '0')}`,
  }));
  const { pod: _pod, ...commonLabels } = base.commonLabels;
  return { ...base, alerts, commonLabels, commonAnnotations: {} };
}

const fieldNames = (r: Reply) => (r.fields ?? []).map((f) => f.name);

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [45_000, '45s'],
    [42 * 60_000, '42m'],
    [60 * 60_000, '1h'],
    [(3 * 60 + 5) * 60_000, '3h 5m'],
    [(2 * 24 + 4) * 3600_000 + 59 * 60_000, '2d 4h'],
    [3 * 24 * 3600_000, '3d'],
    [-5_000, '0s'],
    [Number.NaN, '0s'],
  ])('%d ms → %s', (ms, expected) => {
    expect(formatDuration(ms)).toBe(expected);
  });
});

describe('renderRoot (golden)', () => {
  it('one firing alert: labels, summary, runbook/graph/silence links, buttons, mentions', async () => {
    const state = stateAfter([fixture('firing-single'), '07:00']);
    const r = renderRoot(state, { now: at('07:10'), mentions: ['<@&112233>'], showButtons: true });
    expect(r.title).toBe('[FIRING:1] KubePodCrashLooping (home-assistant)');
    expect(r.severity).toBe('warning');
    expect(r.buttons?.map((b) => b.id)).toEqual([
      'alert:silence:A-12:1h',
      'alert:silence:A-12:4h',
      'alert:silence:A-12:24h',
      'alert:ack:A-12',
    ]);
    const silence = r
      .fields!.find((f) => f.name === 'Links')!
      .value.split('\n')
      .at(-1)!;
    const filter = new URL(silence.replace('Silence: ', '').replace('/#/', '/')).searchParams;
    expect(filter.get('filter')).toBe(
      '{alertname="KubePodCrashLooping",namespace="home-assistant"}',
    );
    await expect(json(r)).toMatchFileSnapshot('golden/root-firing-single.json');
  });

  it('a critical alert without buttons (platforms that have none)', async () => {
    const state = stateAfter([fixture('firing-critical'), '07:00']);
    const r = renderRoot(state, { now: at('07:10'), showButtons: false });
    expect(r.severity).toBe('error');
    expect(r.buttons).toBeUndefined();
    expect(fieldNames(r)).toEqual(['severity', 'namespace', 'instance', 'mountpoint', 'Links']);
    await expect(json(r)).toMatchFileSnapshot('golden/root-firing-critical.json');
  });

  it('a truncated group: one line per alert and the count Alertmanager left out', async () => {
    const state = stateAfter([fixture('firing-truncated-group'), '07:00']);
    const r = renderRoot(state, { now: at('07:10'), showButtons: true });
    expect(r.title).toBe('[FIRING:4] TargetDown (monitoring)');
    expect(r.text).toContain('+1 more not sent by Alertmanager (max_alerts)');
    await expect(json(r)).toMatchFileSnapshot('golden/root-truncated-group.json');
  });

  it('resolved: green, how long it lasted, no buttons, no silence link', async () => {
    const state = stateAfter([fixture('firing-single'), '07:00'], [fixture('resolved'), '07:38']);
    const r = renderRoot(state, { now: at('07:40'), showButtons: true });
    expect(r.severity).toBe('success');
    expect(r.buttons).toBeUndefined();
    expect(r.text?.split('\n')[0]).toBe('✅ RESOLVED after 41m (06:56 UTC → 07:38 UTC)');
    expect(JSON.stringify(r)).not.toContain('silences/new');
    await expect(json(r)).toMatchFileSnapshot('golden/root-resolved.json');
  });

  it('silenced and acknowledged, firing for the 2nd time', async () => {
    const state: GroupState = {
      ...stateAfter([fixture('firing-truncated-group'), '07:00']),
      refires: 1,
      silence: {
        id: '5e1f',
        createdBy: 'alice (discord)',
        comment: 'replacing the SD card',
        endsAt: '2026-11-27T08:10:00Z',
      },
      ack: { by: 'bob (matrix)', at: '2026-11-26T07:05:00Z' },
    };
    const r = renderRoot(state, { now: at('07:10'), showButtons: true });
    expect(r.buttons?.map((b) => b.label)).toEqual(['Silence 1h', 'Silence 4h', 'Silence 24h']);
    await expect(json(r)).toMatchFileSnapshot('golden/root-silenced-acked.json');
  });

  it('a big group is summarised, not listed in full', async () => {
    const state = stateAfter([podGroup(40, 3), '07:10']);
    const r = renderRoot(state, { now: at('07:10'), showButtons: true });
    expect(r.title).toBe('[FIRING:37] KubePodCrashLooping (home-assistant)');
    expect(r.text?.split('\n').length).toBeLessThanOrEqual(15);
    expect(r.text).toContain('… and 30 more (27 firing, 3 resolved)');
    expect(r.fields!.length).toBeLessThanOrEqual(10);
    await expect(json(r)).toMatchFileSnapshot('golden/root-many-alerts.json');
  });
});

describe('renderChange (golden)', () => {
  it('tells the thread each step of a group, and nothing for a repeat', async () => {
    const fire = (pods: number[], resolved: number[] = []): WebhookPayload => {
      const all = podGroup(5);
      const alerts = all.alerts
        .filter((_, i) => pods.includes(i) || resolved.includes(i))
        .map((a, _, __) =>
          resolved.includes(Number(a.labels.pod!.slice(-1)))
            ? { ...a, status: 'resolved' as const, endsAt: '2026-11-26T07:20:00Z' }
            : a,
        );
      return { ...all, alerts, status: pods.length ? 'firing' : 'resolved' };
    };
    const steps: [string, WebhookPayload, string][] = [
      ['more firing', fire([0, 1, 2]), '07:05'],
      ['repeat', fire([0, 1, 2]), '07:06'],
      ['partly resolved', fire([0, 2], [1]), '07:21'],
      ['resolved', fire([], [0, 1, 2]), '07:38'],
      ['fires again', fire([3]), '09:00'],
    ];
    let state = applyNotification(undefined, fire([0]), at('07:00'), 'A-12').next;
    const posts: Record<string, Reply | undefined> = {};
    for (const [name, payload, time] of steps) {
      const r = applyNotification(state, payload, at(time), 'A-12');
      state = r.next;
      posts[name] = renderChange(state, r.change, at(time));
    }
    expect(posts.repeat).toBeUndefined();
    expect(posts['more firing']?.text?.split('\n')[0]).toBe('🔥 2 new alerts firing:');
    expect(posts['partly resolved']?.text?.split('\n')[0]).toBe('✅ 1 resolved:');
    expect(posts.resolved?.text?.split('\n')[0]).toBe('✅ Group resolved after 41m');
    expect(posts['fires again']?.text?.split('\n')[0]).toBe(
      '🔥 Firing again (2nd time) since 06:56 UTC',
    );
    await expect(`${JSON.stringify(posts, null, 2)}\n`).toMatchFileSnapshot('golden/changes.json');
  });
});

describe('renderRollup (golden)', () => {
  const group = (i: number, status: 'firing' | 'resolved', severity: string): GroupState => ({
    ...stateAfter([fixture('firing-truncated-group'), '07:00']),
    ref: `A-${i}`,
    status,
    groupLabels: { alertname: 'TargetDown', namespace: `ns-${i}` },
    commonLabels: { alertname: 'TargetDown', namespace: `ns-${i}`, severity },
    commonAnnotations: { summary: `Targets of ns-${i} are down` },
    ...(status === 'resolved' ? { resolvedAt: '2026-11-26T07:30:00Z' } : {}),
  });

  it('lists a few groups, the worst first', async () => {
    const r = renderRollup(
      [
        group(3, 'resolved', 'warning'),
        group(1, 'firing', 'warning'),
        group(2, 'firing', 'critical'),
      ],
      at('07:40'),
    );
    expect(r.text?.split('\n').map((l) => l.split(' ')[0])).toEqual(['A-2', 'A-1', 'A-3']);
    expect(r.severity).toBe('error');
    await expect(json(r)).toMatchFileSnapshot('golden/rollup-small.json');
  });

  it('summarises a storm beyond what a message should hold', async () => {
    const groups = Array.from({ length: 87 }, (_, i) => group(i + 1, 'firing', 'warning'));
    const r = renderRollup(groups, at('07:40'));
    const lines = r.text!.split('\n');
    expect(lines.length).toBeLessThanOrEqual(51);
    expect(r.text!.length).toBeLessThanOrEqual(4000);
    expect(lines.at(-1)).toMatch(/^… and \d+ more groups, see the thread$/);
    await expect(json(r)).toMatchFileSnapshot('golden/rollup-storm.json');
  });
});

describe('renderAlertList (golden)', () => {
  const api = (
    labels: Record<string, string>,
    startsAt: string,
    status: Partial<ApiAlertLike['status']> = {},
  ): ApiAlertLike => ({
    labels,
    annotations: { summary: 'x' },
    startsAt,
    fingerprint: Object.values(labels).join('-'),
    status: { state: 'active', silencedBy: [], inhibitedBy: [], ...status },
  });

  it('groups by alertname, the worst first, with silenced and inhibited marked', async () => {
    const r = renderAlertList(
      [
        api(
          {
            alertname: 'TargetDown',
            severity: 'warning',
            namespace: 'monitoring',
            instance: 'pi2:9100',
          },
          '2026-11-26T06:30:00Z',
        ),
        api(
          {
            alertname: 'TargetDown',
            severity: 'warning',
            namespace: 'monitoring',
            instance: 'pi1:9100',
          },
          '2026-11-26T05:00:00Z',
          { state: 'suppressed', silencedBy: ['5e1f'] },
        ),
        api(
          {
            alertname: 'NodeFilesystemSpaceFillingUp',
            severity: 'critical',
            namespace: 'monitoring',
            instance: 'pi4-a:9100',
          },
          '2026-11-25T07:00:00Z',
        ),
        api(
          {
            alertname: 'KubePodCrashLooping',
            severity: 'warning',
            namespace: 'home-assistant',
            pod: 'home-assistant-0',
          },
          '2026-11-26T07:08:00Z',
          { state: 'suppressed', inhibitedBy: ['abc'] },
        ),
        api({ alertname: 'Watchdog', severity: 'none' }, '2026-11-20T00:00:00Z'),
      ],
      at('07:10'),
    );
    expect(r.severity).toBe('error');
    expect(r.code?.split('\n')[1]).toMatch(/^NodeFilesystemSpaceFillingUp\s+critical\s+pi4-a:9100/);
    await expect(json(r)).toMatchFileSnapshot('golden/alert-list.json');
  });

  it('says so when nothing is active', () => {
    expect(renderAlertList([], at('07:10'))).toEqual({
      title: 'No active alerts',
      severity: 'success',
    });
  });
});
