import { randomBytes } from 'node:crypto';
import type { MessageRef } from '../chat/publisher.js';
import { UserError } from '../core/errors.js';
import type { ChatUser } from '../core/invocation.js';
import { userLabel } from '../core/invocation.js';
import type { Logger } from '../core/logger.js';
import type {
  OperationJournal,
  OperationKind,
  OperationOrigin,
  OperationRecord,
} from './journal.js';

/**
 * The long operations of this process and those a previous one left unfinished. Each running
 * operation writes its record before every step (`RunningOperation.step`) and a heartbeat while
 * it runs; `/ops cancel` stops one at its next step boundary (waits are cut short at once).
 */

/** How often a running operation notes that the bot is alive (how long it was down is measured from it). */
const HEARTBEAT_MS = 15_000;

/** `/ops cancel` reached the operation: it stops before its next step. */
export class OperationCancelledError extends UserError {}

export interface BeginOptions {
  kind: OperationKind;
  title: string;
  target: string;
  command: string;
  requestedBy: ChatUser;
  origin: OperationOrigin;
  /** The message answering the command, once shown (read again at every step). */
  messageRef?: () => MessageRef | undefined;
  totalSteps: number;
  /** The operation this one is a step of (it answers for both after a restart). */
  parent?: RunningOperation;
}

export class RunningOperation {
  private readonly cancel = new AbortController();
  private cancelledBy?: string;
  private timer?: NodeJS.Timeout;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    readonly record: OperationRecord,
    private readonly owner: Operations,
    private readonly messageRef?: () => MessageRef | undefined,
  ) {}

  get id(): string {
    return this.record.id;
  }

  /** The message it answers in, once known. */
  message(): MessageRef | undefined {
    return this.messageRef?.() ?? this.record.origin.message;
  }

  /** Aborted when someone cancels: for steps that only wait, which may stop at once. */
  get cancelSignal(): AbortSignal {
    return this.cancel.signal;
  }

  /**
   * Records that step `index` is about to run (before its effect), with what it will have
   * changed and the facts a resumed step needs. Throws `OperationCancelledError` instead when
   * the operation was cancelled: the boundary is the safe place to stop.
   */
  async step(
    index: number,
    label: string,
    patch: { changed?: string[]; data?: OperationRecord['data'] } = {},
  ): Promise<void> {
    if (this.cancelledBy) {
      throw new OperationCancelledError(
        `${this.record.title} was cancelled by ${this.cancelledBy} before step ${index + 1} (${label}).`,
      );
    }
    this.record.step = { index, total: this.record.step.total, label };
    await this.save(patch);
  }

  /** Records a change or fact without moving to another step (e.g. `cordoned pi4-a`). */
  async note(patch: { changed?: string[]; data?: OperationRecord['data'] }): Promise<void> {
    await this.save(patch);
  }

  private save(patch: { changed?: string[]; data?: OperationRecord['data'] }): Promise<void> {
    const now = new Date().toISOString();
    if (patch.changed) this.record.changed = patch.changed;
    if (patch.data) this.record.data = { ...this.record.data, ...patch.data };
    const ref = this.messageRef?.();
    if (ref) this.record.origin.message = ref;
    this.record.updatedAt = now;
    this.record.aliveAt = now;
    const snapshot = structuredClone(this.record);
    this.writing = this.writing.then(() => this.owner.journal.write(snapshot));
    return this.writing;
  }

  requestCancel(by: string): void {
    this.cancelledBy ??= by;
    this.cancel.abort(new OperationCancelledError(`${this.record.title} was cancelled by ${by}.`));
  }

  get cancelled(): string | undefined {
    return this.cancelledBy;
  }

  startHeartbeat(): void {
    this.timer = setInterval(() => {
      this.record.aliveAt = new Date().toISOString();
      const snapshot = structuredClone(this.record);
      this.writing = this.writing
        .then(() => this.owner.journal.write(snapshot))
        .catch((err) => this.owner.log.warn({ err, op: this.id }, 'operation heartbeat failed'));
    }, HEARTBEAT_MS);
    this.timer.unref();
  }

  /** Done (whatever the outcome was reported as): the record goes. */
  async finish(): Promise<void> {
    clearInterval(this.timer);
    await this.writing.catch(() => undefined);
    this.owner.forget(this.id);
    await this.owner.journal.remove(this.id);
  }

  /** Stopped with something left for a person: the record stays, listed by /ops list. */
  async interrupt(note: string): Promise<void> {
    clearInterval(this.timer);
    this.record.status = 'interrupted';
    this.record.note = note;
    await this.save({});
    this.owner.forget(this.id);
    this.owner.addInterrupted(this.record);
  }
}

export class Operations {
  private readonly running = new Map<string, RunningOperation>();
  private readonly interrupted = new Map<string, OperationRecord>();

  constructor(
    readonly journal: OperationJournal,
    readonly log: Logger,
  ) {}

  async begin(opts: BeginOptions): Promise<RunningOperation> {
    const now = new Date().toISOString();
    const record: OperationRecord = {
      version: 1,
      id: `op-${randomBytes(3).toString('hex')}`,
      kind: opts.kind,
      title: opts.title,
      target: opts.target,
      command: opts.command,
      requestedBy: opts.requestedBy,
      origin: opts.origin,
      startedAt: now,
      updatedAt: now,
      aliveAt: now,
      status: 'running',
      step: { index: 0, total: opts.totalSteps, label: 'starting' },
      changed: [],
      data: {},
      ...(opts.parent ? { parent: opts.parent.id } : {}),
    };
    const op = new RunningOperation(record, this, opts.messageRef);
    this.running.set(record.id, op);
    await op.note({});
    op.startHeartbeat();
    return op;
  }

  /** A record found at start whose process is gone, taken over by this one (resumed). */
  adopt(record: OperationRecord): RunningOperation {
    record.status = 'running';
    const op = new RunningOperation(record, this);
    this.running.set(record.id, op);
    op.startHeartbeat();
    return op;
  }

  /** The running operation that answers in this message (the one a nested operation is a step of). */
  reportingTo(ref: MessageRef | undefined): RunningOperation | undefined {
    if (!ref) return undefined;
    for (const op of this.running.values()) {
      if (op.record.parent) continue;
      const m = op.message();
      if (
        m &&
        m.platform === ref.platform &&
        m.target === ref.target &&
        m.messageId === ref.messageId
      )
        return op;
    }
    return undefined;
  }

  forget(id: string): void {
    this.running.delete(id);
  }

  addInterrupted(record: OperationRecord): void {
    this.interrupted.set(record.id, record);
  }

  list(): { running: OperationRecord[]; interrupted: OperationRecord[] } {
    return {
      running: [...this.running.values()].map((o) => o.record),
      interrupted: [...this.interrupted.values()],
    };
  }

  /**
   * `/ops cancel <id>`: a running operation stops at its next step boundary (its own answer
   * then says what it leaves changed); an interrupted one is dismissed, and the answer says what
   * is still changed.
   */
  async cancel(
    id: string,
    by: ChatUser,
  ): Promise<{ record: OperationRecord; wasRunning: boolean }> {
    const key = id.toLowerCase().startsWith('op-') ? id.toLowerCase() : `op-${id.toLowerCase()}`;
    const op = this.running.get(key);
    if (op) {
      op.requestCancel(userLabel(by));
      return { record: op.record, wasRunning: true };
    }
    const record = this.interrupted.get(key);
    if (record) {
      this.interrupted.delete(key);
      await this.journal.remove(key);
      return { record, wasRunning: false };
    }
    const known = [...this.running.keys(), ...this.interrupted.keys()];
    throw new UserError(
      `There is no operation ${id}.`,
      known.length > 0
        ? `Operations now: ${known.join(', ')} (/ops list).`
        : 'Nothing is running or interrupted.',
    );
  }

  /** Interrupted operations on this target are settled once a new one on it finished. */
  async settle(target: string): Promise<void> {
    for (const [id, r] of this.interrupted) {
      if (r.target === target) {
        this.interrupted.delete(id);
        await this.journal.remove(id);
      }
    }
  }
}
