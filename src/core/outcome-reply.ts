import type { Reply, ReplyField, Severity } from './reply.js';

/** One target's result of an action run on several (Pi-holes, nodes); failures are values. */
export type TargetResult<T> =
  | { instance: string; ok: true; value: T }
  | { instance: string; ok: false; error: string; hint?: string };

export interface OutcomeWording {
  /** What happened: `Blocking disabled for 5m` → `… on every Pi-hole`, `… on pi1, pi2; not on pi3`. */
  done: string;
  /** What did not: `Blocking was not disabled` → `… on any Pi-hole: pi1: <why>, pi2: <why>`. */
  notDone: string;
  /** The kind of target, singular: `Pi-hole`. */
  noun: string;
  /** Nothing changes (a status): the title is `done` as is, and a failure acts on nothing. */
  readOnly?: boolean;
}

/** The first line of an error without its full stop, short enough for a list in a title. */
function why(error: string): string {
  const line = error.split('\n')[0]!.trim().replace(/\.$/, '');
  return line.length > 120 ? `${line.slice(0, 119)}…` : line;
}

/**
 * One reply for an action on several targets: a ✔/✖ field per target, and a title and severity
 * that say what really happened — success only when every target did it, an error naming each
 * target and why when none did, a warning naming which did and which did not otherwise.
 * `refused` turns a call that went through into a failure when the target reports otherwise
 * (asked to disable, still blocking).
 */
export function outcomeReply<T>(
  results: readonly TargetResult<T>[],
  wording: OutcomeWording,
  ok: (value: T) => string,
  refused?: (value: T) => string | undefined,
): Reply {
  const outcomes = results.map((r) => {
    const no = r.ok ? refused?.(r.value) : undefined;
    return r.ok && no === undefined
      ? { name: r.instance, ok: true, text: `✔ ${ok(r.value)}` }
      : {
          name: r.instance,
          ok: false,
          error: r.ok ? no! : r.error,
          text: r.ok ? `✖ ${no}` : `✖ ${r.error}${r.hint ? `\n${r.hint}` : ''}`,
        };
  });
  const fields: ReplyField[] = outcomes.map((o) => ({
    name: o.name,
    value: o.text,
    inline: false,
  }));
  const good = outcomes.filter((o) => o.ok).map((o) => o.name);
  const bad = outcomes.filter((o) => !o.ok);
  const n = outcomes.length;
  const { done, notDone, noun } = wording;
  const plural = `${noun}${n === 1 ? '' : 's'}`;
  let severity: Severity;
  let title: string;
  let text: string | undefined;
  if (bad.length === 0) {
    severity = 'success';
    title = wording.readOnly ? done : `${done} on ${n === 1 ? good[0] : `every ${noun}`}`;
  } else if (good.length === 0) {
    severity = 'error';
    const reasons = bad.map((o) => `${o.name}: ${why(o.error ?? '')}`).join(', ');
    const where = wording.readOnly ? 'from' : 'on';
    title = `${notDone} ${where} ${n === 1 ? '' : `any ${noun}: `}${reasons}`;
  } else {
    severity = 'warning';
    const failed = bad.map((o) => o.name);
    title = wording.readOnly ? done : `${done} on ${good.join(', ')}; not on ${failed.join(', ')}`;
    text = wording.readOnly
      ? `${bad.length} of ${n} ${plural} failed.`
      : `${bad.length} of ${n} ${plural} failed; the others were acted on.`;
  }
  return { severity, title, ...(text ? { text } : {}), fields };
}
