/**
 * One Pi-hole's HTTP layer: a call as JSON with its timeout and session id, and a 429 told
 * apart. A 429 is one of two things (FTL src/api/auth.c): `api_seats_exceeded` (every session
 * seat taken: waiting does not help, the user must free seats) or `rate_limiting` (more than 3
 * login attempts a second, all clients together: waiting does) — so only the second is retried,
 * once, after Retry-After or a second.
 */
import type { Logger } from '../core/logger.js';
import { retryAfterMs } from '../core/retry-after.js';
import type { ApiCall } from './pihole-calls.js';
import { type ApiError, networkError } from './pihole-errors.js';

/** FTL limits login attempts per second; without a Retry-After, wait one second and a bit. */
const RATE_LIMIT_WAIT_MS = 1100;
const MAX_RATE_LIMIT_WAIT_MS = 10_000;

export class PiholeHttp {
  constructor(
    readonly name: string,
    readonly url: string,
    private readonly timeoutMs: number,
    private readonly log: Logger,
    private readonly rateLimitWaitMs = RATE_LIMIT_WAIT_MS,
  ) {}

  private endpoint(path: string): string {
    return `${this.url.replace(/\/+$/, '')}${path}`;
  }

  /** One request; `sid` goes in X-FTL-SID. No answer is a PiholeError. */
  async fetch(call: ApiCall, sid?: string, timeoutMs = this.timeoutMs): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (sid) headers['X-FTL-SID'] = sid;
    if (call.body !== undefined) headers['content-type'] = 'application/json';
    try {
      return await fetch(this.endpoint(call.path), {
        method: call.method,
        headers,
        body: call.body !== undefined ? JSON.stringify(call.body) : undefined,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw networkError(this.url, err, timeoutMs);
    }
  }

  /**
   * A call; a 429 `rate_limiting` is waited out (Retry-After, else a second) and tried once
   * more. Any other 429 (`api_seats_exceeded`) is returned at once: waiting would not free a seat.
   */
  async send(call: ApiCall, sid?: string, timeoutMs?: number): Promise<Response> {
    const res = await this.fetch(call, sid, timeoutMs);
    if (res.status !== 429) return res;
    const { response, error } = await readError(res);
    if (error.error?.key !== 'rate_limiting') return response;
    const wait = retryAfterMs(res.headers.get('retry-after')) ?? this.rateLimitWaitMs;
    this.log.info(
      { instance: this.name, path: call.path, waitMs: wait },
      'pihole rate-limited (429 rate_limiting); retrying once',
    );
    await new Promise((r) => setTimeout(r, Math.min(wait, MAX_RATE_LIMIT_WAIT_MS)));
    return this.fetch(call, sid, timeoutMs);
  }
}

/** Reads an error body, and gives back an equivalent response whose body can still be read. */
async function readError(res: Response): Promise<{ response: Response; error: ApiError }> {
  const text = await res.text().catch(() => '');
  let error: ApiError = {};
  try {
    error = JSON.parse(text) as ApiError;
  } catch {}
  const response = new Response(text, {
    status: res.status,
    statusText: res.statusText,
    headers: res.headers,
  });
  return { response, error };
}
