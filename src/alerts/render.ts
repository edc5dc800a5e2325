import type { Reply, ReplyButton, ReplyField, Severity } from '../core/reply.js';
import { table } from '../core/table.js';
import { isEmptyChange } from './group-state.js';
import { formatLabelSet } from './matchers.js';
import { own } from './records.js';
import type { GroupChange, GroupState, KnownAlert } from './types.js';

/**
 * Alert groups as platform-neutral Replies: the root message of a group, the thread post
 * for a change, the storm roll-up and `/alert list`. Pure; times are shown in UTC.
 */

/** Labels that say nothing to a person (the alertname is in the title). */
const NOISE = new Set(['alertname', '__name__', 'prometheus', 'prometheus_replica', 'replica']);
const IMPORTANT = ['severity', 'namespace', 'instance', 'node', 'job', 'pod'];
/** What tells one alert of a group from another, best first. */
const IDENTITY = ['instance', 'pod', 'node', 'job', 'container', 'service', 'device', 'mountpoint'];
const MAX_ALERT_LINES = 10;
const MAX_FIELDS = 8;
const MAX_URL = 600;
const MAX_ROLLUP_LINES = 50;
const ROLLUP_BUDGET = 3500;
const MAX_LIST_ROWS = 40;
export const SILENCE_DURATIONS = ['1h', '4h', '24h'] as const;

/** `45s`, `42m`, `3h 5m`, `2d 4h`: two units at most, rounded down. */
export function formatDuration(ms: number): string {
  const s = Number.isFinite(ms) ? Math.max(0, Math.floor(ms / 1000)) : 0;
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  const d = Math.floor(h / 24);
  if (s < 60) return `${s}s`;
  if (m < 60) return `${m}m`;
  if (h < 24) return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
  return h % 24 ? `${d}d ${h % 24}h` : `${d}d`;
}

export interface RootOptions {
  now: Date;
  /** Pinged with the root message (the route's mentions for the group's severity). */
  mentions?: string[];
  showButtons: boolean;
}

export function renderRoot(state: GroupState, opts: RootOptions): Reply {
  const { now } = opts;
  const firing = state.status === 'firing';
  const lines = [
    firing
      ? `🔥 FIRING since ${formatTime(state.firingSince, now)}${state.refires ? ` (${ordinal(state.refires + 1)} time)` : ''}`
      : `✅ RESOLVED after ${formatDuration(episodeMs(state))} (${formatTime(state.firingSince, now)} → ${formatTime(state.resolvedAt ?? '', now)})`,
  ];
  const single = state.alerts.length === 1 ? state.alerts[0]!.annotations : {};
  const summary = state.commonAnnotations.summary ?? single.summary ?? single.message;
  const description = state.commonAnnotations.description ?? single.description;
  if (summary) lines.push(cut(summary, 300));
  if (description && description !== summary) lines.push(cut(description, 1000));
  if (state.alerts.length > 1 || state.truncatedAlerts > 0) {
    const ordered = [...state.alerts].sort(
      (a, b) => Number(a.status === 'resolved') - Number(b.status === 'resolved'),
    );
    lines.push('', ...alertLines(ordered, state, true));
    if (state.truncatedAlerts > 0) {
      lines.push(`+${state.truncatedAlerts} more not sent by Alertmanager (max_alerts)`);
    }
  }

  const common = state.commonLabels;
  const others = Object.keys(common).filter((k) => !NOISE.has(k) && !IMPORTANT.includes(k));
  const fields: ReplyField[] = [...IMPORTANT, ...others]
    .filter((k) => common[k])
    .slice(0, MAX_FIELDS)
    .map((k) => ({ name: k, value: cut(common[k]!, 200), inline: true }));
  const links = linkLines(state);
  if (links.length) fields.push({ name: 'Links', value: links.join('\n') });
  const { silence, ack, ref } = state;
  if (silence) {
    const why = silence.comment ? ` — ${cut(silence.comment, 200)}` : '';
    const until = formatTime(silence.endsAt, now);
    fields.push({ name: 'Silenced', value: `by ${silence.createdBy} until ${until}${why}` });
  }
  if (ack)
    fields.push({ name: 'Acknowledged', value: `by ${ack.by} at ${formatTime(ack.at, now)}` });

  const buttons: ReplyButton[] = [];
  if (firing && opts.showButtons) {
    for (const d of SILENCE_DURATIONS) {
      buttons.push({ id: `alert:silence:${ref}:${d}`, label: `Silence ${d}`, style: 'secondary' });
    }
    if (!ack) buttons.push({ id: `alert:ack:${ref}`, label: 'Ack', style: 'primary' });
  }
  return {
    title: cut(titleOf(state), 250),
    text: lines.join('\n'),
    fields,
    severity: severityOf(state),
    ...(buttons.length ? { buttons } : {}),
    footer: firing ? `${ref} · !alert silence ${ref} 1h · !alert ack ${ref}` : ref,
    ...(opts.mentions?.length ? { mentions: opts.mentions } : {}),
  };
}

/** The thread post for a change; undefined when nothing changed. */
export function renderChange(state: GroupState, change: GroupChange, now: Date): Reply | undefined {
  if (isEmptyChange(change)) return undefined;
  const lines: string[] = [];
  const firing = change.newlyFiring;
  if (change.refired) {
    lines.push(
      `🔥 Firing again (${ordinal(state.refires + 1)} time) since ${formatTime(state.firingSince, now)}`,
    );
  }
  if (firing.length) {
    const noun = change.refired ? 'alert' : 'new alert';
    lines.push(`${change.refired ? '' : '🔥 '}${count(firing.length, noun)} firing:`);
    lines.push(...alertLines(firing, state, false));
  }
  const resolved = change.newlyResolved;
  if (change.groupResolved) {
    lines.push(`✅ Group resolved after ${formatDuration(episodeMs(state))}`);
    if (resolved.length && state.alerts.length > 1) {
      lines.push(`Last to resolve: ${resolved.map((a) => identify(a, state)).join(', ')}`);
    }
  } else if (resolved.length) {
    lines.push(`✅ ${resolved.length} resolved:`, ...alertLines(resolved, state, false));
  }
  const severity: Severity =
    state.status === 'firing' && (firing.length || change.refired) ? severityOf(state) : 'success';
  return { text: cut(lines.join('\n'), 3500), severity };
}

/** Storm mode: one line per group, the worst first, cut off with a count. */
export function renderRollup(groups: readonly GroupState[], now: Date): Reply {
  const sorted = [...groups].sort(
    (a, b) =>
      Number(a.status === 'resolved') - Number(b.status === 'resolved') ||
      rank(severityOf(a)) - rank(severityOf(b)) ||
      refNumber(a.ref) - refNumber(b.ref),
  );
  const firing = groups.filter((g) => g.status === 'firing').length;
  const lines: string[] = [];
  let size = 0;
  for (const g of sorted) {
    const line = cut(rollupLine(g, now), 160);
    if (lines.length >= MAX_ROLLUP_LINES || size + line.length + 1 > ROLLUP_BUDGET) break;
    lines.push(line);
    size += line.length + 1;
  }
  const rest = sorted.length - lines.length;
  if (rest > 0) lines.push(`… and ${count(rest, 'more group')}, see the thread`);
  const worst = sorted.find((g) => g.status === 'firing');
  return {
    title: `Alert storm: ${count(groups.length, 'group')} (${firing} firing, ${groups.length - firing} resolved)`,
    text: lines.join('\n'),
    severity: worst ? severityOf(worst) : 'success',
    footer: 'Act on one group: !alert silence <ref> 1h · !alert ack <ref>',
  };
}

/** An alert as Alertmanager's API v2 (`GET /api/v2/alerts`) returns it: what the list needs. */
export interface ApiAlertLike {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  status: { state: string; silencedBy: string[]; inhibitedBy: string[] };
  fingerprint: string;
}

/** `/alert list`: a table grouped by alertname, the worst group first. */
export function renderAlertList(alerts: readonly ApiAlertLike[], now: Date): Reply {
  if (alerts.length === 0) return { title: 'No active alerts', severity: 'success' };
  const byName = new Map<string, ApiAlertLike[]>();
  for (const a of alerts) {
    const name = a.labels.alertname ?? '(no alertname)';
    byName.set(name, [...(byName.get(name) ?? []), a]);
  }
  const worst = (list: ApiAlertLike[]) => Math.min(...list.map((a) => rank(severityFor(a.labels))));
  const groups = [...byName].sort(
    ([an, a], [bn, b]) => worst(a) - worst(b) || an.localeCompare(bn),
  );
  const rows: string[][] = [];
  for (const [name, list] of groups) {
    list.sort((a, b) => Date.parse(a.startsAt) - Date.parse(b.startsAt));
    list.forEach((a, i) => {
      const l = a.labels;
      rows.push(
        [
          i === 0 ? `${name}${list.length > 1 ? ` ×${list.length}` : ''}` : '',
          l.severity ?? '-',
          IDENTITY.map((k) => l[k]).find(Boolean) ?? '-',
          l.namespace ?? '-',
          formatDuration(now.getTime() - Date.parse(a.startsAt)),
          apiState(a),
        ].map((c) => cut(c, 40)),
      );
    });
  }
  const shown = rows.slice(0, MAX_LIST_ROWS);
  const states = alerts.map(apiState);
  const n = (s: string) => states.filter((x) => x === s).length;
  const summary = `${count(alerts.length, 'alert')} in ${count(groups.length, 'group')}: ${n('active')} firing, ${n('silenced')} silenced, ${n('inhibited')} inhibited`;
  const active = alerts.filter((a) => apiState(a) === 'active');
  return {
    title: `Active alerts (${alerts.length})`,
    text:
      rows.length > shown.length
        ? `${summary}\n… and ${rows.length - shown.length} more not shown`
        : summary,
    code: table(['ALERT', 'SEVERITY', 'TARGET', 'NAMESPACE', 'FOR', 'STATE'], shown),
    severity: active.length ? worstSeverity(active.map((a) => severityFor(a.labels))) : 'info',
  };
}

/** The labels a silence for the whole group selects: its group labels (or, without any, its common labels). */
export function silenceLabels(state: GroupState): Record<string, string> {
  if (Object.keys(state.groupLabels).length) return state.groupLabels;
  return Object.fromEntries(
    Object.entries(state.commonLabels).filter(([k]) => k === 'alertname' || !NOISE.has(k)),
  );
}

function titleOf(state: GroupState): string {
  const name = state.commonLabels.alertname ?? state.groupLabels.alertname ?? 'Alerts';
  const context = Object.entries(state.groupLabels)
    .filter(([k, v]) => k !== 'alertname' && v)
    .map(([, v]) => v);
  const group = context.length ? `${name} (${context.join(', ')})` : name;
  return state.status === 'firing'
    ? `[FIRING:${firingCount(state)}] ${group}`
    : `[RESOLVED] ${group}`;
}

function firingCount(state: GroupState): number {
  return state.alerts.filter((a) => a.status === 'firing').length + state.truncatedAlerts;
}

/**
 * One line per alert (at most MAX_ALERT_LINES): what tells it apart, its own summary, and
 * how long it fired once resolved. In the root, a summary shared by all is not repeated.
 */
function alertLines(alerts: readonly KnownAlert[], state: GroupState, root: boolean): string[] {
  const lines = alerts.slice(0, MAX_ALERT_LINES).map((a) => {
    const ownSummary = a.annotations.summary ?? a.annotations.message;
    const text =
      ownSummary && !(root && ownSummary === state.commonAnnotations.summary)
        ? ` — ${cut(ownSummary, 150)}`
        : '';
    const ended = a.endsAt
      ? ` (resolved after ${formatDuration(Date.parse(a.endsAt) - Date.parse(a.startsAt))})`
      : '';
    const icon = root ? (a.status === 'firing' ? '🔥' : '✅') : '•';
    return `${icon} ${identify(a, state)}${text}${a.status === 'resolved' ? ended : ''}`;
  });
  const rest = alerts.slice(MAX_ALERT_LINES);
  const resolved = rest.filter((a) => a.status === 'resolved').length;
  const split =
    resolved && resolved < rest.length
      ? ` (${rest.length - resolved} firing, ${resolved} resolved)`
      : '';
  if (rest.length) lines.push(`… and ${rest.length} more${split}`);
  return lines;
}

/** The label value that tells this alert from the others of its group. */
function identify(a: KnownAlert, state: GroupState): string {
  const common = state.commonLabels;
  const prefix = !common.alertname && a.labels.alertname ? `${a.labels.alertname} ` : '';
  for (const k of IDENTITY) {
    const v = a.labels[k];
    if (v && own(common, k) !== v) return prefix + v;
  }
  const differing = Object.entries(a.labels).filter(
    ([k, v]) => !NOISE.has(k) && own(common, k) !== v,
  );
  const pairs = differing.slice(0, 2).map(([k, v]) => `${k}=${v}`);
  if (pairs.length) return prefix + pairs.join(' ');
  const any = IDENTITY.map((k) => a.labels[k]).find(Boolean);
  return prefix + (any ?? a.labels.alertname ?? a.fingerprint);
}

function linkLines(state: GroupState): string[] {
  const links: string[] = [];
  const firstAlert = (key: string) => state.alerts.map((a) => a.annotations[key]).find(Boolean);
  const runbook = state.commonAnnotations.runbook_url ?? firstAlert('runbook_url');
  const graph = state.alerts.map((a) => a.generatorURL).find(Boolean);
  if (runbook) links.push(`Runbook: ${runbook}`);
  if (graph) links.push(`Graph: ${graph}`);
  const am = state.externalURL.replace(/\/+$/, '');
  if (am && state.status === 'firing') {
    const filter = encodeURIComponent(formatLabelSet(silenceLabels(state)));
    links.push(`Silence: ${am}/#/silences/new?filter=${filter}`);
  }
  return links.filter((l) => l.length <= MAX_URL);
}

function rollupLine(g: GroupState, now: Date): string {
  const name = titleOf(g).replace(/^\[[^\]]*\] /, '');
  if (g.status === 'resolved') {
    const at = formatTime(g.resolvedAt ?? '', now);
    return `${g.ref} ✅ ${name} — resolved at ${at} after ${formatDuration(episodeMs(g))}`;
  }
  const n = firingCount(g);
  const single = g.alerts.length === 1 ? g.alerts[0]!.annotations.summary : undefined;
  const summary = g.commonAnnotations.summary ?? single;
  return `${g.ref} 🔥 ${name}${n > 1 ? ` ×${n}` : ''}${summary ? ` — ${cut(summary, 80)}` : ''}`;
}

function severityFor(labels: Record<string, string>): Severity {
  const s = (labels.severity ?? '').toLowerCase();
  if (s === 'critical' || s === 'error' || s === 'page') return 'error';
  if (s === 'warning' || s === 'warn') return 'warning';
  return 'info';
}

function severityOf(state: GroupState): Severity {
  if (state.status === 'resolved') return 'success';
  if (state.commonLabels.severity) return severityFor(state.commonLabels);
  const firing = state.alerts.filter((a) => a.status === 'firing');
  return worstSeverity(firing.map((a) => severityFor(a.labels)));
}

const rank = (s: Severity): number => ({ error: 0, warning: 1, info: 2, success: 3 })[s];

function worstSeverity(list: Severity[]): Severity {
  return list.reduce<Severity>((w, s) => (rank(s) < rank(w) ? s : w), 'info');
}

function apiState(a: ApiAlertLike): string {
  if (a.status.silencedBy.length) return 'silenced';
  if (a.status.inhibitedBy.length) return 'inhibited';
  return a.status.state;
}

function episodeMs(state: GroupState): number {
  return Date.parse(state.resolvedAt ?? '') - Date.parse(state.firingSince);
}

/** `06:56 UTC` today, `2026-11-25 06:56 UTC` on another day. */
function formatTime(iso: string, now: Date): string {
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return iso || '?';
  const s = t.toISOString();
  const day = s.slice(0, 10) === now.toISOString().slice(0, 10) ? '' : `${s.slice(0, 10)} `;
  return `${day}${s.slice(11, 16)} UTC`;
}

function ordinal(n: number): string {
  const suffix =
    n % 100 >= 11 && n % 100 <= 13 ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' }[n % 10] ?? 'th');
  return `${n}${suffix}`;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function refNumber(ref: string): number {
  return Number(/\d+/.exec(ref)?.[0] ?? 0);
}

function cut(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}
