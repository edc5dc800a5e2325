/**
 * Why a chat refused a post, read from the error its client threw — without importing the
 * clients: discord.js's `DiscordAPIError` (`status`, numeric `code`, `message`: "Request entity
 * too large", "Invalid Form Body\n…", "Missing Access"), matrix-bot-sdk's `MatrixError`
 * (`statusCode`, `errcode`, `error`) or, for an error body without `errcode`, the raw response
 * (`statusCode`, `body`).
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
   * or it is gone): nothing smaller is tried; the destination is retried later with back-off.
   */
  noAccess: boolean;
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
    noAccess: status === 401 || status === 403 || status === 404,
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
  /** `smaller`: shown in a smaller form instead; `retrying`: nothing shown, retried later. */
  outcome: 'smaller' | 'retrying';
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

  /** A pass over the destination got through. */
  delivered(destKey: string): void {
    if (this.warned.delete(destKey))
      this.log.info({ destination: destKey }, 'alert delivery works again');
  }
}

/** `discord:123…` → `discord`. */
const platformOf = (destKey: string) => destKey.slice(0, destKey.indexOf(':'));
