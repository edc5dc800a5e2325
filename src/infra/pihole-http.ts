/**
 * One Pi-hole's HTTP layer: a call as JSON with its timeout and session id, and a 429 told
 * apart. A 429 is one of two things (FTL src/api/auth.c): `api_seats_exceeded` (every session
 * seat taken: waiting does not help, the user must free seats) or `rate_limiting` (more than 3
 * login attempts a second, all clients together: waiting does) — so only the second is retried,
 * once, after Retry-After or a second.
 *
 * Over `node:http` (src/core/http-request.ts): Node's global `fetch` would load undici, ~16 MB
 * more resident memory on Node 24. A `streamed` call (gravity) has its answer read as it
 * arrives, on a connection of its own.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { HttpRequestError, httpRequest } from '../core/http-request.js';
import type { Logger } from '../core/logger.js';
import { retryAfterMs } from '../core/retry-after.js';
import type { ApiCall } from './pihole-calls.js';
import { type ApiError, networkError } from './pihole-errors.js';

/** FTL limits login attempts per second; without a Retry-After, wait one second and a bit. */
const RATE_LIMIT_WAIT_MS = 1100;
const MAX_RATE_LIMIT_WAIT_MS = 10_000;

/** An answer from Pi-hole. A body that is not read is dropped with `discard()`. */
export interface PiholeResponse {
  readonly status: number;
  /** 200–299. */
  readonly ok: boolean;
  /** The standard reason phrase of the status ("Not Found"). */
  readonly statusText: string;
  /** A header's value, or null. */
  header(name: string): string | null;
  /** The body; a network failure while it is read is a PiholeError. */
  text(): Promise<string>;
  /** The body as JSON (a SyntaxError when it is not). */
  json(): Promise<unknown>;
  /** The body as text, chunk by chunk as it arrives (a whole answer: in one chunk). */
  chunks(): AsyncIterator<string>;
  discard(): void;
}

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
  async request(call: ApiCall, sid?: string, timeoutMs = this.timeoutMs): Promise<PiholeResponse> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (sid) headers['X-FTL-SID'] = sid;
    if (call.body !== undefined) headers['content-type'] = 'application/json';
    const request = {
      method: call.method,
      headers,
      body: call.body !== undefined ? JSON.stringify(call.body) : undefined,
      timeoutMs,
    };
    try {
      if (call.streamed) return await streamed(this.endpoint(call.path), request, this.url);
      const res = await httpRequest(this.endpoint(call.path), request);
      return whole(res.status, res.header, res.text);
    } catch (err) {
      throw networkError(this.url, err, timeoutMs);
    }
  }

  /**
   * A call; a 429 `rate_limiting` is waited out (Retry-After, else a second) and tried once
   * more. Any other 429 (`api_seats_exceeded`) is returned at once: waiting would not free a seat.
   */
  async send(call: ApiCall, sid?: string, timeoutMs?: number): Promise<PiholeResponse> {
    const res = await this.request(call, sid, timeoutMs);
    if (res.status !== 429) return res;
    const { response, error } = await readError(res);
    if (error.error?.key !== 'rate_limiting') return response;
    const wait = retryAfterMs(res.header('retry-after')) ?? this.rateLimitWaitMs;
    this.log.info(
      { instance: this.name, path: call.path, waitMs: wait },
      'pihole rate-limited (429 rate_limiting); retrying once',
    );
    await new Promise((r) => setTimeout(r, Math.min(wait, MAX_RATE_LIMIT_WAIT_MS)));
    return this.request(call, sid, timeoutMs);
  }
}

/** Reads an error body, and gives back an equivalent response whose body can still be read. */
async function readError(
  res: PiholeResponse,
): Promise<{ response: PiholeResponse; error: ApiError }> {
  const text = await res.text().catch(() => '');
  let error: ApiError = {};
  try {
    error = JSON.parse(text) as ApiError;
  } catch {}
  return { response: whole(res.status, (name) => res.header(name), text), error };
}

/** An answer read whole. */
function whole(
  status: number,
  header: (name: string) => string | null,
  text: string,
): PiholeResponse {
  return {
    status,
    ok: status >= 200 && status <= 299,
    statusText: http.STATUS_CODES[status] ?? '',
    header,
    text: async () => text,
    json: async () => JSON.parse(text) as unknown,
    chunks: async function* () {
      if (text) yield text;
    },
    discard: () => {},
  };
}

/**
 * A request whose answer is handed over once its headers are in, the body to be read as it
 * arrives. `timeoutMs` bounds the whole exchange, the body included (ETIMEDOUT, as httpRequest).
 * A connection of its own: nothing else waits behind a long answer, and no stale kept-alive
 * socket needs a retry.
 */
function streamed(
  url: string,
  opts: { method: string; headers: Record<string, string>; body?: string; timeoutMs: number },
  base: string,
): Promise<PiholeResponse> {
  const u = new URL(url);
  const lib = u.protocol === 'https:' ? https : http;
  const body = opts.body === undefined ? undefined : Buffer.from(opts.body, 'utf8');
  return new Promise((resolve, reject) => {
    const req = lib.request(u, {
      method: opts.method,
      headers: {
        ...opts.headers,
        ...(body ? { 'Content-Length': String(body.byteLength) } : {}),
      },
      agent: false,
    });
    let answer: IncomingMessage | undefined;
    const timer = setTimeout(() => {
      const err = new HttpRequestError('ETIMEDOUT', `no answer within ${opts.timeoutMs} ms`);
      (answer ?? req).destroy(err);
    }, opts.timeoutMs).unref();
    const failed = (err: NodeJS.ErrnoException): HttpRequestError =>
      err instanceof HttpRequestError
        ? err
        : new HttpRequestError(err.code ?? 'ECONNRESET', err.message);
    req.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(failed(err));
    });
    req.on('response', (res: IncomingMessage) => {
      answer = res;
      res.setEncoding('utf8');
      res.on('close', () => clearTimeout(timer));
      // Its errors (the timeout, a cut) are thrown by the reading, or by nothing when unread.
      res.on('error', () => {});
      // A body cut short ends in an error, not in a quiet end.
      res.on('aborted', () =>
        res.destroy(new HttpRequestError('ECONNRESET', 'the connection closed mid-answer')),
      );
      const status = res.statusCode ?? 0;
      const read = async function* (): AsyncGenerator<string> {
        try {
          for await (const chunk of res) yield chunk as string;
        } catch (err) {
          throw networkError(base, failed(err as NodeJS.ErrnoException), opts.timeoutMs);
        } finally {
          res.destroy();
        }
      };
      const header = (name: string): string | null => {
        const v = res.headers[name.toLowerCase()];
        return v === undefined ? null : Array.isArray(v) ? (v[0] ?? null) : v;
      };
      const text = async (): Promise<string> => {
        let all = '';
        for await (const chunk of read()) all += chunk;
        return all;
      };
      resolve({
        status,
        ok: status >= 200 && status <= 299,
        statusText: http.STATUS_CODES[status] ?? '',
        header,
        text,
        json: async () => JSON.parse(await text()) as unknown,
        chunks: () => read(),
        discard: () => {
          res.destroy();
        },
      });
    });
    req.end(body);
  });
}
