import type { MessageRef, Publisher } from '../chat/publisher.js';
import type { Logger } from '../core/logger.js';
import type { Reply, ReplyField } from '../core/reply.js';
import { interrupt, type LeftBehind, notContinued, whatNow } from './interrupted.js';
import type { OperationKind, OperationRecord } from './journal.js';
import type { Operations, RunningOperation } from './operations.js';

export { formatDown } from './interrupted.js';

/**
 * What the previous process left unfinished, picked up at start before new commands are
 * taken: an operation that knows how to go on (a reboot whose node went down, an Argo sync
 * being followed) is resumed; every other one is reported, in the conversation where it
 * started, as interrupted — with its step and what it left changed — and kept for /ops list.
 */

/** Where a resumed operation reports: its original message (edited) and its thread. */
export interface Reporter {
  /** Progress: replaces what the original message shows (a new message when there was none). */
  edit(reply: Reply): Promise<void>;
  /**
   * Its answer, once it has ended: the original message's last edit. For an operation that ran
   * as a step of another (a Pi's reboot during /node update), the answer goes to that one, which
   * answers for both in the message they share — one never overwrites the other's outcome.
   */
  done(reply: Reply): Promise<void>;
  /** A line in the operation's thread. */
  step(line: string): Promise<void>;
}

/** How an operation that ran as a step of another ended after the restart. */
export interface NestedOutcome {
  record: OperationRecord;
  /** Its answer; none when the bot is stopping again (the next start picks both up). */
  answer?: Reply;
}

/**
 * How one kind of operation goes on after a restart. `take` runs at start before any chat takes
 * a command (synchronously: e.g. the cluster lock is held again), `run` once the chats are
 * connected.
 */
export interface Resumer {
  take?(op: RunningOperation): void;
  /** Goes on with it. Without it, the operation is reported as interrupted. */
  run?(op: RunningOperation, report: Reporter, ctx: ResumeContext): Promise<void>;
  /**
   * For one that is not continued: where it stood and what it left changed, found by looking
   * (undefined when it cannot be told: the record's step and `whatNow` are said instead).
   */
  look?(op: RunningOperation): Promise<LeftBehind | undefined>;
}

export interface ResumeContext {
  /** How long the bot was down: from the last sign of life of the process that ran it. */
  downMs: number;
  log: Logger;
  /**
   * Gives up on it: marks it interrupted and says so where it started (with what is still
   * changed, and `fields` before the operation's id).
   */
  interrupt(why: string, hint?: string, fields?: ReplyField[]): Promise<void>;
  /** The operations that ran as steps of this one: resumed first, in its message; how each ended. */
  nested: NestedOutcome[];
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
  const edit = async (reply: Reply) => {
    if (!publisher) return;
    await posting;
    try {
      if (ref) await publisher.edit(ref, reply);
      else ref = await publisher.post(record.origin.conversation.id, reply);
    } catch (err) {
      warn(err, 'edit');
    }
  };
  return {
    edit,
    done: edit,
    step: (line) => {
      pending.push(line);
      posting = posting.then(flush);
      return posting;
    },
  };
}

type Taken = { op: RunningOperation; resume?: Resumer };

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
  const taken: Taken[] = [];
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
  const ids = new Set(taken.map((t) => t.op.id));
  /** The operation it ran as a step of, when that one is picked up too. */
  const parentOf = (t: Taken) => {
    const parent = t.op.record.parent;
    return parent && ids.has(parent) ? parent : undefined;
  };
  const reporter = (record: OperationRecord) =>
    reporterFor(record, deps.publisher(record.origin.conversation.platform), log);

  /** Resumes it, or reports it as interrupted; resolves once it has ended (or stopped again). */
  const settle = async ({ op, resume }: Taken, report: Reporter, nested: NestedOutcome[]) => {
    const record = op.record;
    const downMs = startedAt - Date.parse(record.aliveAt ?? record.updatedAt);
    const giveUp = (why: string, hint?: string, fields?: ReplyField[]) =>
      interrupt(op, report, why, deps, { hint, fields });
    if (!resume?.run) {
      const left = await resume?.look?.(op).catch((err) => {
        log.warn({ err, op: record.id }, 'could not look at what an operation left');
        return undefined;
      });
      if (left) await op.note({ changed: left.changed });
      const meanwhile = nested.map(
        (n) => `${n.record.title}: ${n.answer?.title ?? 'not finished'}.`,
      );
      await interrupt(
        op,
        report,
        [notContinued(record, downMs, left?.at), ...meanwhile].join(' '),
        deps,
        { hint: left?.hint ?? whatNow(record), at: left?.at },
      );
      return;
    }
    log.info({ op: record.id, kind: record.kind, step: record.step }, 'resuming an operation');
    deps.onResumed?.(record);
    try {
      await resume.run(op, report, {
        downMs,
        log: log.child({ op: record.id }),
        interrupt: giveUp,
        nested,
      });
    } catch (err) {
      log.error({ err, op: record.id }, 'resuming an operation failed');
      await giveUp(`Resuming it failed: ${(err as Error).message}`);
    }
  };

  return {
    go: async () => {
      // An operation that ran as a step of another goes first, in the message they share; its
      // answer is handed to the other one, which answers once all its steps have ended.
      const nested = new Map<string, Promise<NestedOutcome>[]>();
      for (const t of taken) {
        const parent = parentOf(t);
        if (!parent) continue;
        let answer: Reply | undefined;
        const report: Reporter = {
          ...reporter(t.op.record),
          done: async (reply) => {
            answer = reply;
          },
        };
        const ended = settle(t, report, []).then(
          () => ({ record: t.op.record, answer }),
          (err) => {
            log.error({ err, op: t.op.id }, 'an operation resumed as a step of another failed');
            return { record: t.op.record, answer };
          },
        );
        nested.set(parent, [...(nested.get(parent) ?? []), ended]);
      }
      const running: Promise<unknown>[] = [...nested.values()].flat();
      for (const t of taken) {
        if (parentOf(t)) continue;
        const steps = nested.get(t.op.id) ?? [];
        running.push(Promise.all(steps).then((n) => settle(t, reporter(t.op.record), n)));
      }
      await Promise.all(running);
    },
  };
}
