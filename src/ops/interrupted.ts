import type { ReplyField } from '../core/reply.js';
import type { OperationRecord } from './journal.js';
import type { RunningOperation } from './operations.js';
import type { PickUpDeps, Reporter } from './resume.js';

/**
 * How an operation that is not continued after a restart is reported where it started: the
 * command, where it stood (its recorded step, or what looking found), what it left changed, and
 * what to run — in its message, in one line of its thread, and in /ops list.
 */

/**
 * What an operation that is not continued left, found by looking rather than read from the
 * record (a drain: is the node still cordoned?).
 */
export interface LeftBehind {
  /** Where it stood, read after "while <command> was": `draining pi4-a (cordoned, …)`. */
  at: string;
  /** What is still changed; the record's `changed` becomes it. */
  changed: string[];
  /** What to run. */
  hint: string;
}

/** `2 min 14 s` */
export function formatDown(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** An operation that never recorded a step of its own (a playbook run, a drain): only `starting`. */
function noStep(r: OperationRecord): boolean {
  return r.step.index === 0 && r.step.label === 'starting';
}

/** Where it stood, read after "while <command> was": its recorded step. */
export function stoodAt(r: OperationRecord): string {
  if (noStep(r)) return 'running (its thread shows how far it got)';
  // A backup's progress is restic's percentage, not steps.
  if (r.kind === 'backup.run') return `backing up (${r.step.label})`;
  return `at step ${r.step.index + 1} of ${r.step.total} (${r.step.label})`;
}

/** Why it was not continued: the command, how long the bot was down, where it stood. */
export function notContinued(r: OperationRecord, downMs: number, at = stoodAt(r)): string {
  return `The bot restarted (it was down about ${formatDown(downMs)}) while ${r.command} was ${at}; it was not continued.`;
}

/** What a person can do about an operation of this kind that was not continued. */
export function whatNow(r: OperationRecord): string {
  const t = r.target;
  switch (r.kind) {
    case 'node.drain':
      return `${t} may be cordoned and partly drained: /node drain ${t} finishes it, /node uncordon ${t} undoes it.`;
    case 'node.update':
      return `The playbook runs are idempotent: /node update ${t} runs it again.`;
    case 'node.provision':
      return `The playbook is idempotent: /node provision ${t} runs it again.`;
    case 'backup.run':
      return `The backup may still be running on the node: /backup status ${t} shows its latest snapshot.`;
    case 'argo.sync':
    case 'argo.rollback':
      return `Argo CD carries on with an operation it started: /argo status ${t} shows how it ended.`;
    default:
      return `Check ${t} before you run ${r.command} again.`;
  }
}

/** Marks it interrupted, tells its conversation where it stopped and what is still changed. */
export async function interrupt(
  op: RunningOperation,
  report: Reporter,
  why: string,
  deps: Pick<PickUpDeps, 'onInterrupted'>,
  opts: { hint?: string; fields?: ReplyField[]; at?: string } = {},
): Promise<void> {
  const r = op.record;
  const changed =
    r.changed.length > 0
      ? `Still changed: ${r.changed.join(', ')}.`
      : 'Nothing it changed is left changed.';
  const note = [why, changed, opts.hint].filter(Boolean).join(' ');
  await op.interrupt(note);
  deps.onInterrupted?.(r);
  await report.done({
    severity: 'warning',
    title: `Interrupted: ${r.title}`,
    text: note,
    fields: [
      ...(opts.fields ?? []),
      {
        name: 'Operation',
        value: `${r.id} — /ops list shows it; /ops cancel ${r.id} once settled.`,
      },
    ],
  });
  const where = opts.at
    ? `while ${opts.at}`
    : noStep(r)
      ? 'while running'
      : `at step ${r.step.index + 1} (${r.step.label})`;
  await report.step(`⚠ interrupted ${where}. ${changed}`);
}
