/**
 * Why a chat refused a post, read from the error its client threw — without importing the
 * clients: the Discord client's `DiscordApiError` (`status`, numeric `code`, `message`:
 * "Request entity too large", "Invalid Form Body\n…", "Missing Access" — the fields discord.js's
 * `DiscordAPIError` had), the Matrix client's `MatrixError` (`statusCode`, `errcode`, `error`) or,
 * for an error body without `errcode`, the raw response (`statusCode`, `body`).
 *
 * A refusal is a 4xx that is not a rate limit (429) or a timeout (408): sending the same thing
 * again cannot succeed. Rate limits, 5xx and network errors are not refusals: those are retried
 * as they are.
 */
import { truncate } from '../chat/text.js';
import type { Logger } from '../core/logger.js';

export interface Refusal {
  status: number;
  /** The platform's code (Discord `40005`, Matrix `M_TOO_LARGE`), else the HTTP status: a metric label. */
  code: string;
  /** The platform's message, first line (Discord appends its error tree on the next lines). */
  message: string;
  /**
   * No form of the message can get through now (401, 403, 404: no access to the channel or room,
   * or the message is gone; Discord 50083/160005: a locked thread): nothing smaller is tried.
   */
  noAccess: boolean;
}

/**
 * Discord's codes for a thread that takes no posts: 50083 "Thread is archived" (what a locked
 * thread answers a bot without Manage Threads) and 160005 "Thread is locked"
 * (discord-api-docs topics/opcodes-and-status-codes.mdx, topics/threads.mdx "Locked Threads").
 */
const LOCKED_THREAD = new Set(['50083', '160005']);
/** Discord 10008 Unknown Message: the message was deleted. */
const UNKNOWN_MESSAGE = '10008';
/** Nothing gets into the channel or room: a bad token, Discord 50001 Missing Access, Matrix M_FORBIDDEN. */
const NO_ACCESS = new Set(['50001', 'M_FORBIDDEN']);

/**
 * What a refusal no form got past stands in the way of.
 *
 * - `destination`: the whole channel or room (no access, a bad token, the channel is gone): every
 *   group there would be refused, so the destination is retried with back-off.
 * - `gone`: the group's root message was deleted (Discord 10008 on an edit of it, or on starting
 *   its thread).
 * - `post`: this post only — a locked thread (50083/160005), no permission to create or post in
 *   threads (50013), a deleted thread (10003), or a post no form of which the chat takes.
 *
 * `on` is what was being done: posting a new message into the destination (`channel`: a refusal
 * of access there is the destination's), or editing / replying under a message already posted
 * (`message`: only a refusal of the channel itself is the destination's).
 */
export type RefusalScope = 'destination' | 'gone' | 'post';

export function scopeOf(r: Refusal, on: 'channel' | 'message'): RefusalScope {
  if (on === 'channel') return r.noAccess ? 'destination' : 'post';
  if (r.status === 401 || (r.status === 403 && (NO_ACCESS.has(r.code) || r.code === '403')))
    return 'destination';
  if (r.code === UNKNOWN_MESSAGE) return 'gone';
  return 'post';
}

/** What a person can do about a refusal of a group's post, for the log line. */
export function refusalHint(r: Refusal): string {
  if (LOCKED_THREAD.has(r.code))
    return 'its thread is locked: a moderator can unlock it; the root message is still edited';
  if (r.code === '50013')
    return 'the bot may not start threads or post in them here (Create Public Threads, Send Messages in Threads); the root message is still edited';
  if (r.code === '10003') return 'its thread was deleted; the root message is still edited';
  if (r.code === UNKNOWN_MESSAGE) return 'its message was deleted';
  return 'no smaller form was taken either';
}

interface ClientError {
  status?: unknown;
  statusCode?: unknown;
  code?: unknown;
  errcode?: unknown;
  error?: unknown;
  message?: unknown;
  body?: { errcode?: unknown; error?: unknown; message?: unknown };
}

const text = (v: unknown): string | undefined =>
  typeof v === 'string' && v ? v : typeof v === 'number' ? String(v) : undefined;

/** The refusal `err` is, or undefined when it is worth sending the same thing again. */
export function refusalOf(err: unknown): Refusal | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as ClientError;
  const status =
    typeof e.status === 'number'
      ? e.status
      : typeof e.statusCode === 'number'
        ? e.statusCode
        : undefined;
  if (status === undefined || status < 400 || status > 499 || status === 408 || status === 429)
    return undefined;
  const code = text(e.errcode) ?? text(e.body?.errcode) ?? text(e.code) ?? String(status);
  const message =
    text(e.error) ?? text(e.body?.error) ?? text(e.body?.message) ?? text(e.message) ?? '';
  return {
    status,
    code,
    message: truncate(message.split('\n')[0]!.replace(`${code}: `, ''), 200),
    noAccess: status === 401 || status === 403 || status === 404 || LOCKED_THREAD.has(code),
  };
}

/** `413 40005 Request entity too large`, `403 M_FORBIDDEN You don't have permission…`. */
export function describeRefusal(r: Refusal): string {
  const code = r.code === String(r.status) ? '' : ` ${r.code}`;
  return `${r.status}${code}${r.message ? ` ${r.message}` : ''}`;
}

/** Thrown when no form of a post got through: nothing was shown, the worker retries later. */
export class DeliveryRefused extends Error {
  constructor(
    readonly refusal: Refusal,
    /** What was being sent, for the log: `A-12 root`, `roll-up R-A-1-12 details`. */
    readonly what: string,
  ) {
    super(`${what} refused: ${describeRefusal(refusal)}`);
  }
}

export type OnRefused = (r: {
  platform: string;
  /** The platform's code (see Refusal.code). */
  reason: string;
  /**
   * `smaller`: shown in a smaller form instead; `retrying`: nothing shown, the destination retried
   * later; `dead-letter`: this post dropped (written to the dead letters), the rest go on;
   * `reposted`: the group's root was deleted and is posted again.
   */
  outcome: 'smaller' | 'retrying' | 'dead-letter' | 'reposted';
}) => void;

/**
 * Logs and counts refusals. A post shown in a smaller form: one warning each. A destination
 * that refuses even the smallest form: counted on every try, but warned about once per reason
 * until a pass gets through again (then one info line), so a back-off does not fill the log.
 */
export class RefusalReport {
  /** The refusal last warned about, per destination. */
  private readonly warned = new Map<string, string>();

  constructor(
    private readonly log: Logger,
    private readonly count: OnRefused = () => {},
  ) {}

  smaller(destKey: string, what: string, r: Refusal): void {
    const platform = platformOf(destKey);
    this.count({ platform, reason: r.code, outcome: 'smaller' });
    this.log.warn(
      { destination: destKey, what, status: r.status, code: r.code, refusal: r.message },
      `${what} shown in a smaller form: ${platform} refused the full message (${describeRefusal(r)})`,
    );
  }

  refused(destKey: string, err: DeliveryRefused, retryInMs: number): void {
    const r = err.refusal;
    const platform = platformOf(destKey);
    this.count({ platform, reason: r.code, outcome: 'retrying' });
    const fields = {
      destination: destKey,
      what: err.what,
      status: r.status,
      code: r.code,
      refusal: r.message,
      retryInMs,
    };
    const msg = `${err.what} not shown: ${platform} refused it (${describeRefusal(r)}); will retry`;
    if (this.warned.get(destKey) === r.code) this.log.debug(fields, msg);
    else this.log.warn(fields, msg);
    this.warned.set(destKey, r.code);
  }

  /** A post about one group no form got past, dropped to the dead letters (`file`). */
  deadLettered(destKey: string, err: DeliveryRefused, file: string | undefined): void {
    const r = err.refusal;
    const platform = platformOf(destKey);
    this.count({ platform, reason: r.code, outcome: 'dead-letter' });
    const where = file ? `moved to ${file}` : 'dropped';
    this.log.error(
      {
        destination: destKey,
        what: err.what,
        status: r.status,
        code: r.code,
        refusal: r.message,
        file,
      },
      `${err.what} not shown: ${platform} refused it (${describeRefusal(r)}): ${refusalHint(r)}; ${where}; other alerts go on`,
    );
  }

  /** A group whose root message was deleted, posted again as a new root. */
  reposted(destKey: string, err: DeliveryRefused): void {
    const r = err.refusal;
    const platform = platformOf(destKey);
    this.count({ platform, reason: r.code, outcome: 'reposted' });
    this.log.warn(
      { destination: destKey, what: err.what, status: r.status, code: r.code, refusal: r.message },
      `${err.what}: ${platform} says the group's root message is gone (${describeRefusal(r)}); it is posted again with a new thread`,
    );
  }

  /** A pass over the destination got through. */
  delivered(destKey: string): void {
    if (this.warned.delete(destKey))
      this.log.info({ destination: destKey }, 'alert delivery works again');
  }
}

/** `discord:123…` → `discord`. */
const platformOf = (destKey: string) => destKey.slice(0, destKey.indexOf(':'));
