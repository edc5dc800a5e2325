import path from 'node:path';
import type { Logger } from '../core/logger.js';
import { DeadLetterFile } from './dead-letter.js';
import { Outbox } from './outbox.js';
import { parsePayload } from './payload.js';
import { notificationDigest, RepeatFilter } from './repeat-filter.js';
import { moveAside } from './state-files.js';
import type { WebhookPayload } from './types.js';

export interface IntakeOptions {
  /** `<state>/alerts`: holds `outbox/` and `dead-letter.jsonl`. */
  dir: string;
  /** Applies one notification (persisting its effects); throws when it cannot. */
  apply: (payload: WebhookPayload) => Promise<void>;
  log: Logger;
  /** Accepted but not yet applied notifications allowed; more are refused (BacklogFullError). */
  maxBacklog?: number;
  /** Called for each notification moved to the dead letters (a metric). */
  onDeadLetter?: () => void;
}

/** Too many notifications wait to be applied: the webhook answers 503 + Retry-After. */
export class BacklogFullError extends Error {
  constructor(readonly waiting: number) {
    super(`${waiting} notifications are waiting to be applied`);
  }
}

/** Waiting notifications are kept in memory up to this many bytes (JSON), then read back. */
const HELD_BYTES = 8 * 1024 * 1024;

/**
 * Notifications in: stored durably in the outbox, then applied one at a time, in order. What
 * a previous run left in the outbox is applied first (before anything accepted since). One
 * identical to the last accepted for its group is acknowledged without being stored or
 * counted (RepeatFilter). One that cannot be applied goes to `dead-letter.jsonl`, with an
 * error log line and `onDeadLetter`, and holds up nothing; an outbox file that is not even
 * JSON is moved aside (`<file>.corrupt-<time>`) with a warning.
 */
export class NotificationIntake {
  private readonly outbox: Outbox<WebhookPayload>;
  readonly deadLetters: DeadLetterFile;
  private readonly repeats = new RepeatFilter();
  private queue: Promise<void> = Promise.resolve();
  private recovering?: Promise<void>;
  /** Accepted (or being stored, or left by the previous run) and not applied yet. */
  private backlog = 0;
  /** Bytes of waiting payloads held in memory. */
  private held = 0;

  constructor(private readonly opts: IntakeOptions) {
    this.outbox = new Outbox(path.join(opts.dir, 'outbox'));
    this.deadLetters = new DeadLetterFile(path.join(opts.dir, 'dead-letter.jsonl'));
  }

  /**
   * Applies the notifications a previous run left (once; what is accepted since waits for
   * it). `before` runs first, in the same turn. Never throws.
   */
  recover(before?: () => Promise<void>): Promise<void> {
    if (!this.recovering) {
      const left = this.outbox.leftover();
      this.backlog += left.length;
      this.recovering = this.serialized(async () => {
        await before?.();
        if (left.length) this.opts.log.info({ waiting: left.length }, 'applying the alert outbox');
        for (const id of left) {
          try {
            await this.applyStored(id);
          } finally {
            this.backlog--;
          }
        }
      });
    }
    return this.recovering;
  }

  /**
   * Durably accepts a notification; resolves once it is on disk, or at once when it is
   * identical to the last one accepted for its group. `body` is the request body's digest.
   */
  async accept(payload: WebhookPayload, body?: string): Promise<'accepted' | 'repeat'> {
    const digest = notificationDigest(payload);
    if (this.repeats.isRepeat(payload.groupKey, digest)) {
      if (body) this.repeats.record(payload.groupKey, digest, body);
      return 'repeat';
    }
    if (this.backlogFull() !== undefined) throw new BacklogFullError(this.backlog);
    this.backlog++;
    let stored: { id: string; bytes: number };
    try {
      stored = await this.outbox.put(payload);
    } catch (err) {
      this.backlog--;
      throw err;
    }
    this.repeats.record(payload.groupKey, digest, body);
    const { id, bytes } = stored;
    // Past the budget, the payload is read back from the outbox when its turn comes.
    const keep = this.held + bytes <= HELD_BYTES;
    if (keep) this.held += bytes;
    let held: WebhookPayload | undefined = keep ? payload : undefined;
    void this.recover();
    void this.serialized(async () => {
      try {
        if (held) await this.applyEntry(id, held);
        else await this.applyStored(id);
      } finally {
        held = undefined;
        if (keep) this.held -= bytes;
        this.backlog--;
      }
    });
    return 'accepted';
  }

  /** A request body identical to the last notification accepted for its group. */
  isRepeatBody(body: string): boolean {
    return this.repeats.isRepeatBody(body);
  }

  waiting(): number {
    return this.backlog;
  }

  backlogFull(): number | undefined {
    return this.backlog >= (this.opts.maxBacklog ?? Number.POSITIVE_INFINITY)
      ? this.backlog
      : undefined;
  }

  /** Resolves when everything accepted so far is applied. */
  async idle(): Promise<void> {
    await this.queue;
  }

  private serialized(fn: () => Promise<void>): Promise<void> {
    const next = this.queue.then(fn);
    this.queue = next.catch(() => {});
    return next;
  }

  /** An entry read back from the outbox: not JSON → moved aside; not a notification → dead letter. */
  private async applyStored(id: string): Promise<void> {
    let raw: unknown;
    try {
      raw = await this.outbox.read(id);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      moveAside(this.outbox.file(id), (err as Error).message, this.opts.log, 'alert outbox entry');
      return;
    }
    const parsed = parsePayload(raw);
    if (!parsed.ok) {
      const groupKey = (raw as { groupKey?: unknown } | null)?.groupKey;
      await this.deadLetter(id, typeof groupKey === 'string' ? groupKey : undefined, raw, {
        message: `not an Alertmanager notification: ${parsed.reason}`,
      });
      return;
    }
    this.repeats.record(parsed.payload.groupKey, notificationDigest(parsed.payload));
    await this.applyEntry(id, parsed.payload);
  }

  /** Applies one entry, then removes it; if applying throws, it goes to the dead letters. */
  private async applyEntry(id: string, payload: WebhookPayload): Promise<void> {
    try {
      await this.opts.apply(payload);
    } catch (err) {
      this.repeats.forget(payload.groupKey);
      await this.deadLetter(id, payload.groupKey, payload, err as Error);
      return;
    }
    await this.outbox
      .remove(id)
      .catch((err) => this.opts.log.error({ err, id }, 'applied outbox entry not removed'));
  }

  private async deadLetter(
    id: string,
    groupKey: string | undefined,
    payload: unknown,
    err: Error | { message: string },
  ): Promise<void> {
    const reason = err.message;
    const { log } = this.opts;
    try {
      await this.deadLetters.add({ id, groupKey, reason, payload });
      await this.outbox.remove(id);
    } catch (writeErr) {
      log.error(
        { err: writeErr, id, groupKey, reason },
        'an alert notification that cannot be applied could not be moved to the dead letters; it stays in the outbox',
      );
      return;
    }
    this.opts.onDeadLetter?.();
    const file = this.deadLetters.file;
    log.error(
      { ...(err instanceof Error ? { err } : {}), id, groupKey, reason, file },
      `alert notification for ${groupKey ?? '(no groupKey)'} cannot be applied (${reason}); moved to ${file}`,
    );
  }
}
