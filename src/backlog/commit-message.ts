import type { Requester } from './task-input.js';
import type { Change } from './task-ops.js';

/**
 * Commit messages for task changes:
 *
 *   tasks: add T-0042 Replace SD card on pi4-b       (title "Replace SD card", node pi4-b)
 *
 *   Requested-by: discord:1234 (alice)
 *   Source: https://discord.com/channels/…
 */

const SUBJECT_TITLE_MAX = 100;

/** One line: control characters and whitespace runs (newlines included) become one space. */
function oneLine(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
  return s.replace(/[\s\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
}

function shorten(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : `${chars.slice(0, max - 1).join('')}…`;
}

/** `tasks: add T-0042 Replace SD card on pi4-b`; " on <node>" unless the title names the node. */
export function commitSubject(change: Change): string {
  const title = shorten(oneLine(change.title), SUBJECT_TITLE_MAX);
  const named =
    change.node !== undefined &&
    new RegExp(
      `(^|[^\\w-])${change.node.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^\\w-])`,
      'i',
    ).test(title);
  const node = change.node && !named ? ` on ${change.node}` : '';
  return `tasks: ${change.verb} ${change.id} ${title}${node}`;
}

export function requesterTrailer(who: Requester): string {
  return `Requested-by: ${oneLine(who.platform)}:${oneLine(who.userId)} (${oneLine(who.displayName || who.userId)})`;
}

export function commitMessage(change: Change, who: Requester): string {
  const body = change.fields?.length ? `Changed: ${change.fields.join(', ')}.\n\n` : '';
  const source = who.source ? `\nSource: ${oneLine(who.source)}` : '';
  return `${commitSubject(change)}\n\n${body}${requesterTrailer(who)}${source}\n`;
}

/** The message of a commit re-applied under other ids: ids in the subject line replaced. */
export function renumberMessage(message: string, renumbered: ReadonlyMap<string, string>): string {
  if (renumbered.size === 0) return message;
  const nl = message.indexOf('\n');
  let subject = nl === -1 ? message : message.slice(0, nl);
  for (const [from, to] of renumbered) subject = subject.replace(from, to);
  return subject + (nl === -1 ? '' : message.slice(nl));
}
