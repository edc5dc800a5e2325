import type { MessageRef, Publisher } from '../chat/publisher.js';
import type { Logger } from '../core/logger.js';
import type { Reply } from '../core/reply.js';
import type { OperationKind, OperationRecord } from './journal.js';
import type { Operations, RunningOperation } from './operations.js';

/**
 * What the previous process left unfinished, picked up at start before new commands are
 * taken: an operation that knows how to go on (a reboot whose node went down, an Argo sync
 * being followed) is resumed; every other one is reported, in the conversation where it
 * started, as interrupted — with its step and what it left changed — and kept for /ops list.
 */

/** Where a resumed operation reports: its original message (edited) and its thread. */
export interface Reporter {
  /** Replaces the original answer (a new message when there was none). */
  edit(reply: Reply): Promise<void>;
  /** A line in the operation's thread. */
  step(line: string): Promise<void>;
}

/**
 * How one kind of operation goes on after a restart. `take` runs at start before any chat takes
 * a command (synchronously: e.g. the cluster lock is held again), `run` once the chats are
 * connected.
 */
export interface Resumer {
  take?(op: RunningOperation): void;
  run(op: RunningOperation, report: Reporter, ctx: ResumeContext): Promise<void>;
}

export interface ResumeContext {
  /** How long the bot was down: from the last sign of life of the process that ran it. */
  downMs: number;
  log: Logger;
  /** Gives up on it: marks it interrupted and says so where it started (with what is still changed). */
  interrupt(why: string, hint?: string): Promise<void>;
}

export interface PickUpDeps {
  operations: Operations;
  publisher: (platform: MessageRef['platform']) => Publisher | undefined;
  resumers: Partial<Record<OperationKind, Resumer>>;
  log: Logger;
  onInterrupted?: (record: OperationRecord) => void;
  onResumed?: (record: OperationRecord) => void;
  now?: () => number;
}

/**
 * How a step line looks in a thread: what the chats' step renderers (Discord's `renderSteps`,
 * Matrix's `renderMatrixStep`, the console's `renderStep`) put before each line of a live
 * operation. A `Publisher` posts replies, not step lines, so a resumed operation's lines carry
 * the mark themselves and read the same as the lines above them in the thread.
 */
export const STEP_MARK = '› ';

/** Step lines as one thread post, marked as a live operation's are. */
export function stepPost(lines: readonly string[]): Reply {
  return { text: lines.map((l) => `${STEP_MARK}${l}`).join('\n') };
}

export function reporterFor(
  record: OperationRecord,
  publisher: Publisher | undefined,
  log: Logger,
): Reporter {
  let ref = record.origin.message;
  const threadName = record.title;
  const warn = (err: unknown, what: string) =>
    log.warn({ err, op: record.id, what }, 'could not report a resumed operation');
  // As a live operation's responder does: lines that come while one post is on its way go
  // together in the next, in order.
  let pending: string[] = [];
  let posting: Promise<void> = Promise.resolve();
  const flush = async () => {
    const lines = pending;
    pending = [];
    if (lines.length === 0 || !publisher) return;
    try {
      ref ??= await publisher.post(record.origin.conversation.id, { title: record.title });
      ref = await publisher.reply(ref, stepPost(lines), threadName);
    } catch (err) {
      warn(err, 'step');
    }
  };
  return {
    edit: async (reply) => {
      if (!publisher) return;
      await posting;
      try {
        if (ref) await publisher.edit(ref, reply);
        else ref = await publisher.post(record.origin.conversation.id, reply);
      } catch (err) {
        warn(err, 'edit');
      }
    },
    step: (line) => {
      pending.push(line);
      posting = posting.then(flush);
      return posting;
    },
  };
}

/** `2 min 14 s` */
export function formatDown(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

/**
 * Reads the journal and takes over each unfinished record (before the chats take commands);
 * `go()` then resumes or reports each one (once the chats are connected) and resolves when the
 * resumed ones are done.
 */
export async function pickUp(deps: PickUpDeps): Promise<{ go(): Promise<void> }> {
  const { operations, log } = deps;
  const now = deps.now ?? Date.now;
  const { records, setAside } = operations.journal.load();
  if (setAside.length > 0) log.warn({ setAside }, 'unreadable operation records were set aside');
  const startedAt = now();
  const taken: { op: RunningOperation; resume?: Resumer }[] = [];
  for (const record of records) {
    if (record.status === 'interrupted') {
      operations.addInterrupted(record);
      continue;
    }
    const resume = deps.resumers[record.kind];
    const op = operations.adopt(record);
    try {
      resume?.take?.(op);
      taken.push({ op, resume });
    } catch (err) {
      log.warn({ err, op: record.id }, 'an operation cannot be taken over');
      taken.push({ op });
    }
  }
  return {
    go: async () => {
      const background: Promise<void>[] = [];
      for (const { op, resume } of taken) {
        const record = op.record;
        const report = reporterFor(
          record,
          deps.publisher(record.origin.conversation.platform),
          log,
        );
        const downMs = startedAt - Date.parse(record.aliveAt ?? record.updatedAt);
        if (resume) {
          log.info(
            { op: record.id, kind: record.kind, step: record.step },
            'resuming an operation',
          );
          deps.onResumed?.(record);
          background.push(
            resume
              .run(op, report, {
                downMs,
                log: log.child({ op: record.id }),
                interrupt: (why, hint) => interrupt(op, report, why, deps, hint),
              })
              .catch(async (err) => {
                log.error({ err, op: record.id }, 'resuming an operation failed');
                await interrupt(op, report, `Resuming it failed: ${(err as Error).message}`, deps);
              }),
          );
          continue;
        }
        await interrupt(
          op,
          report,
          `The bot restarted (it was down about ${formatDown(downMs)}) while this was at step ${record.step.index + 1} of ${record.step.total} (${record.step.label}); it was not continued.`,
          deps,
          whatNow(record),
        );
      }
      await Promise.all(background);
    },
  };
}

/** What a person can do about an operation of this kind that was not continued. */
export function whatNow(r: OperationRecord): string {
  const t = r.target;
  switch (r.kind) {
    case 'node.drain':
      return `${t} may be cordoned and partly drained: /node drain ${t} finishes it, /node uncordon ${t} undoes it.`;
    case 'node.update':
      return `The playbook runs are idempotent: /node update ${t} runs it again (a Pi that was rebooting is reported by its own reboot).`;
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
  hint?: string,
): Promise<void> {
  const r = op.record;
  const changed =
    r.changed.length > 0
      ? `Still changed: ${r.changed.join(', ')}.`
      : 'Nothing it changed is left changed.';
  const note = [why, changed, hint].filter(Boolean).join(' ');
  await op.interrupt(note);
  deps.onInterrupted?.(r);
  await report.edit({
    severity: 'warning',
    title: `Interrupted: ${r.title}`,
    text: note,
    fields: [
      {
        name: 'Operation',
        value: `${r.id} — /ops list shows it; /ops cancel ${r.id} once settled.`,
      },
    ],
  });
  await report.step(`⚠ interrupted at step ${r.step.index + 1} (${r.step.label}). ${changed}`);
}
