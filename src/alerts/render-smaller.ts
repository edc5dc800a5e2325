/**
 * Smaller forms of what delivery posts, for a chat that refused the full one for good (too
 * large, invalid): first the message without its per-alert detail, then one line that says what
 * could not be posted and why. Each fits every platform's limits with room to spare (Discord:
 * 2000 content, 4096 embed description; Matrix: 64 KiB an event), and has no attachment. Pure.
 */
import { truncate } from '../chat/text.js';
import type { Reply } from '../core/reply.js';
import type { GroupChange, GroupState } from './types.js';

/** The longest one-line form: inside Discord's 2000-character content with room to spare. */
export const MAX_LINE = 500;
/** The per-group list of a roll-up's thread when every alert cannot be posted. */
const COMPACT_BUDGET = 3000;

const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

/** `<what>: details could not be posted: <why>`, one line, at most MAX_LINE characters. */
export function oneLine(what: string, why: string, severity?: Reply['severity']): Reply {
  const line = `${what.replace(/\s+/g, ' ')}: details could not be posted: ${why}`;
  return { text: truncate(line, MAX_LINE), ...(severity ? { severity } : {}) };
}

/**
 * `reply` without its detail: the title, the first line of text, buttons, mentions and footer
 * stay; fields, code blocks and the rest of the text go, and a line says why.
 */
export function withoutDetail(reply: Reply, why: string): Reply {
  const first = reply.text?.split('\n')[0];
  const note = truncate(`Details could not be posted (${why}).`, MAX_LINE);
  return {
    ...(reply.title ? { title: truncate(reply.title, 250) } : {}),
    text: [first && truncate(first, MAX_LINE), note].filter(Boolean).join('\n'),
    ...(reply.severity ? { severity: reply.severity } : {}),
    ...(reply.buttons ? { buttons: reply.buttons } : {}),
    ...(reply.footer ? { footer: truncate(reply.footer, MAX_LINE) } : {}),
    ...(reply.mentions ? { mentions: reply.mentions } : {}),
  };
}

/** What a group root is, in a line: `A-12: 12 alerts in group [FIRING:12] NodeDown (pi4-a)`. */
export function groupLine(state: GroupState, title: string | undefined): string {
  const n = state.alerts.length + state.truncatedAlerts;
  return `${state.ref}: ${plural(n, 'alert')} in group ${title ?? state.groupKey}`;
}

/** A thread post's change in counts: `A-12: 3 new alerts firing, 2 resolved`. */
export function changeLine(state: GroupState, change: GroupChange): string {
  const parts = [
    change.refired && 'firing again',
    change.newlyFiring.length && `${plural(change.newlyFiring.length, 'new alert')} firing`,
    change.newlyResolved.length && `${change.newlyResolved.length} resolved`,
    change.groupResolved && 'group resolved',
  ].filter(Boolean);
  return `${state.ref}: ${parts.join(', ') || 'update'}`;
}

/** A roll-up's thread without every alert: one line per group, cut off with a count. */
export function compactRollupDetails(groups: readonly GroupState[], why: string): Reply {
  const lines: string[] = [];
  let size = 0;
  for (const g of groups) {
    const firing = g.alerts.filter((a) => a.status === 'firing').length + g.truncatedAlerts;
    const name = g.groupLabels.alertname ?? g.commonLabels.alertname ?? g.groupKey;
    const line = truncate(
      `${g.ref} ${g.status === 'firing' ? 'FIRING' : 'resolved'} ${name} — ${firing} of ${g.alerts.length + g.truncatedAlerts} firing`,
      160,
    );
    if (size + line.length + 1 > COMPACT_BUDGET) break;
    lines.push(line);
    size += line.length + 1;
  }
  if (lines.length < groups.length)
    lines.push(`… and ${plural(groups.length - lines.length, 'more group')}`);
  lines.push(
    truncate(
      `Every alert of these groups could not be posted (${why}); !alert list shows them.`,
      MAX_LINE,
    ),
  );
  return {
    title: `The ${plural(groups.length, 'group')} of this alert storm`,
    text: lines.join('\n'),
  };
}

/** A list of lines (a roll-up's updates) as text, cut to fit with a count, and why it was cut. */
export function someLines(title: string, lines: readonly string[], why: string): Reply {
  const kept: string[] = [];
  let size = 0;
  for (const l of lines) {
    const line = truncate(l, 200);
    if (size + line.length + 1 > COMPACT_BUDGET) break;
    kept.push(line);
    size += line.length + 1;
  }
  if (kept.length < lines.length)
    kept.push(`… and ${plural(lines.length - kept.length, 'more line')}`);
  kept.push(truncate(`The full list could not be posted (${why}).`, MAX_LINE));
  return { title, text: kept.join('\n') };
}

/** `14 alerts in 3 groups (A-1, A-2, A-3)`: what a roll-up's thread is about. */
export function rollupLine(groups: readonly GroupState[]): string {
  const alerts = groups.reduce((n, g) => n + g.alerts.length + g.truncatedAlerts, 0);
  const refs = groups.map((g) => g.ref);
  const shown = refs.slice(0, 10).join(', ') + (refs.length > 10 ? ', …' : '');
  return `${plural(alerts, 'alert')} in ${plural(groups.length, 'group')} (${shown})`;
}
