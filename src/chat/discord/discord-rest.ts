/**
 * The bot's own Discord REST client: the part of the HTTP API v10 it uses, over node:http
 * (src/core/http-request.ts: fetch would cost ~16 MB more).
 *
 * discord.js did this before and, with its gateway, caches and builders, loaded ~600 modules
 * for it: ~13 MB of an idle bot on Node 24 (docs/benchmarks.md). This follows discord-api-docs
 * (github.com/discord/discord-api-docs, `developers/`): `reference.mdx` (base URL, versioning,
 * `Authorization: Bot`, the `User-Agent` Discord asks for, uploading files as multipart with
 * `payload_json` and `files[n]` listed by id in `attachments`), `topics/rate-limits.mdx`
 * (`X-RateLimit-Remaining`/`-Reset-After`/`-Bucket` per route and top-level resource, 429 with
 * `retry_after` in seconds, `global`, `X-RateLimit-Scope`; 50 requests a second across the bot,
 * interaction routes exempt) and `topics/opcodes-and-status-codes.mdx` (JSON error codes).
 *
 * - Requests on one route (and the same channel, guild, webhook or interaction) go one at a
 *   time, in order; one that would use up a bucket Discord said was empty waits until it
 *   resets, so a steady stream gets no 429 (as discord.js did: the fake's rate-limit tests).
 * - A 429 waits out `retry_after` and tries again (a global one pauses every route).
 * - A 5xx, a timeout or a dropped connection is tried again, up to `retries` times.
 * - Any other error status throws {@link DiscordApiError}: `status`, numeric `code`, and
 *   `message` = Discord's message, then its nested form errors one per line, like discord.js's
 *   `DiscordAPIError` (src/alerts/delivery-failure.ts reads those three fields).
 */
import { sleep } from '../../core/deadline.js';
import {
  HttpRequestError,
  type HttpResponse,
  httpRequest,
  multipart,
} from '../../core/http-request.js';
import { retryAfterMs } from '../../core/retry-after.js';

/** An error answer from Discord (JSON body `{ code, message, errors? }`). */
export class DiscordApiError extends Error {
  /** Discord's JSON error code (0 is one: "401: Unauthorized"); undefined when the body has none. */
  readonly code: number | undefined;
  constructor(
    readonly status: number,
    readonly rawError: { code?: unknown; message?: unknown; errors?: unknown },
    readonly method: string,
    readonly url: string,
  ) {
    const code = typeof rawError.code === 'number' ? rawError.code : undefined;
    const first = typeof rawError.message === 'string' ? rawError.message : `HTTP ${status}`;
    const details = rawError.errors ? flattenErrors(rawError.errors) : [];
    super([first, ...details].join('\n'));
    this.name = 'DiscordApiError';
    this.code = code;
  }
}

/** Discord (or something in front of it) answered with an error that is not JSON. */
export class DiscordHttpError extends Error {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly url: string,
  ) {
    super(`Discord answered ${method} ${url} with HTTP ${status}`);
    this.name = 'DiscordHttpError';
  }
}

/**
 * Not sent: Discord refused too many requests lately (401, 403, 429). At 10,000 in 10 minutes
 * Cloudflare blocks the IP address from Discord's API for about an hour (topics/rate-limits.mdx,
 * "Invalid Request Limit") — the whole home network's, people's own Discord apps included.
 */
export class DiscordRequestsHeldError extends Error {
  constructor(readonly invalidRequests: number) {
    super(
      `not sent: Discord refused ${invalidRequests} of the bot's requests (401/403/429) in the last 10 minutes; at 10,000 it blocks this IP address for an hour. Check the bot token and the channels' permissions; requests go again as the count falls`,
    );
    this.name = 'DiscordRequestsHeldError';
  }
}

/** Discord could not be reached (refused, reset, timed out) after the retries. */
export class DiscordConnectionError extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`cannot reach Discord at ${url}: ${reason}`);
    this.name = 'DiscordConnectionError';
  }
}

/** `{ "content": { "_errors": [{ "code": "BASE_TYPE_MAX_LENGTH", "message": "…" }] } }` → `content[BASE_TYPE_MAX_LENGTH]: …`. */
function flattenErrors(errors: unknown, path = ''): string[] {
  if (typeof errors !== 'object' || errors === null) return [];
  const out: string[] = [];
  for (const [key, value] of Object.entries(errors)) {
    if (key === '_errors' && Array.isArray(value)) {
      for (const e of value as { code?: unknown; message?: unknown }[])
        out.push(
          path
            ? `${path}[${String(e.code)}]: ${String(e.message)}`
            : `${String(e.code)}: ${String(e.message)}`,
        );
      continue;
    }
    const next = /^\d+$/.test(key) ? `${path}[${key}]` : path ? `${path}.${key}` : key;
    out.push(...flattenErrors(value, next));
  }
  return out;
}

export interface RestFile {
  name: string;
  data: Uint8Array;
  /** Default application/octet-stream. */
  contentType?: string;
}

export interface RestRequest {
  body?: unknown;
  /** Uploaded as `files[0]`, `files[1]`, … with the body as `payload_json`. */
  files?: RestFile[];
  query?: Record<string, string>;
  /** Send the bot token (default). Interaction callbacks and webhooks go without it. */
  auth?: boolean;
  /** Overrides the client's `retries` (start-up asks once: its caller retries with back-off). */
  retries?: number;
}

export interface RateLimitedInfo {
  route: string;
  method: string;
  retryAfterMs: number;
  global: boolean;
  /** `user`, `global` or `shared` (X-RateLimit-Scope). */
  scope: string;
}

export interface DiscordRestOptions {
  token?: string;
  /** The API base without the version (default https://discord.com/api); tests point it at a fake. */
  api?: string;
  /** Per request; default 15 s (discord.js's). */
  timeoutMs?: number;
  /** Tries again after a 5xx, a timeout or a dropped connection; default 3. */
  retries?: number;
  /** Wait before the n-th try again: n × this, at most 5 s; default 1 s. */
  retryDelayMs?: number;
  /** A 429 asking for a longer wait fails the request instead; default 60 s. */
  maxRateLimitWaitMs?: number;
  /** Requests held back once this many were refused (401/403/429) in 10 min; default 9,000. */
  invalidRequestLimit?: number;
  /** Called when requests start being held back (see DiscordRequestsHeldError). */
  onHeldBack?: (invalidRequests: number) => void;
  /** Called for every 429 (logged by the adapter). */
  onRateLimited?: (info: RateLimitedInfo) => void;
}

interface Bucket {
  remaining: number;
  resetAt: number;
}

const GLOBAL_PER_SECOND = 50;
const USER_AGENT = 'DiscordBot (https://github.com/homelab-chatops/homelab-chatops, 0.1.0)';

/**
 * The rate-limit route of a request: method + path with ids replaced, except the top-level
 * resource Discord limits separately (channel, guild, webhook id + token) — and, for
 * interaction callbacks, the interaction (one answer each, never held behind another's).
 */
export function routeOf(method: string, path: string): { route: string; major: string } {
  const m = /^\/(channels|guilds|webhooks|interactions)\/(\d+)(?:\/([^/?]+))?/.exec(path);
  const major =
    m?.[1] === 'webhooks' || m?.[1] === 'interactions' ? `${m[2]}/${m[3] ?? ''}` : (m?.[2] ?? '');
  const route = path
    .replace(/\/(webhooks|interactions)\/(\d+)\/[^/?]+/, '/$1/:id/:token')
    .replace(/\/\d{16,}/g, '/:id');
  return { route: `${method} ${route}`, major };
}

export class DiscordRest {
  private readonly api: string;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly maxRateLimitWaitMs: number;
  /** Per route + major: the tail of its queue. */
  private readonly queues = new Map<string, Promise<unknown>>();
  /** Per bucket hash (or route) + major: what Discord last said is left. */
  private readonly buckets = new Map<string, Bucket>();
  /** Route → the bucket hash Discord named for it (X-RateLimit-Bucket). */
  private readonly hashes = new Map<string, string>();
  private globalResetAt = 0;
  /** When Discord refused requests (401, 403, 429 not of a `shared` limit), oldest first. */
  private invalid: number[] = [];
  private holding = false;
  /** Send times of the last second's requests (the 50/s global limit). */
  private sent: number[] = [];

  constructor(private readonly opts: DiscordRestOptions = {}) {
    this.api = `${(opts.api ?? 'https://discord.com/api').replace(/\/+$/, '')}/v10`;
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.retries = opts.retries ?? 3;
    this.maxRateLimitWaitMs = opts.maxRateLimitWaitMs ?? 60_000;
  }

  get<T>(path: string, req?: RestRequest): Promise<T> {
    return this.request<T>('GET', path, req);
  }
  post<T>(path: string, req?: RestRequest): Promise<T> {
    return this.request<T>('POST', path, req);
  }
  put<T>(path: string, req?: RestRequest): Promise<T> {
    return this.request<T>('PUT', path, req);
  }
  patch<T>(path: string, req?: RestRequest): Promise<T> {
    return this.request<T>('PATCH', path, req);
  }

  request<T>(method: string, path: string, req: RestRequest = {}): Promise<T> {
    const { route, major } = routeOf(method, path);
    const key = `${route} ${major}`;
    const prev = this.queues.get(key) ?? Promise.resolve();
    const run = prev.then(
      () => this.send<T>(method, path, req, route, major),
      () => this.send<T>(method, path, req, route, major),
    );
    const tail = run.catch(() => {});
    this.queues.set(key, tail);
    void tail.then(() => {
      if (this.queues.get(key) === tail) this.queues.delete(key);
    });
    return run;
  }

  private bucketKey(route: string, major: string): string {
    return `${this.hashes.get(route) ?? route} ${major}`;
  }

  private async waitForLimits(route: string, major: string, interaction: boolean): Promise<void> {
    for (;;) {
      const now = Date.now();
      const bucket = this.buckets.get(this.bucketKey(route, major));
      let waitMs = 0;
      // Interaction routes are not bound to the global limit (topics/rate-limits.mdx).
      if (!interaction && this.globalResetAt > now) waitMs = this.globalResetAt - now;
      else if (bucket && bucket.remaining <= 0 && bucket.resetAt > now)
        waitMs = bucket.resetAt - now;
      else if (!interaction) {
        this.sent = this.sent.filter((t) => t > now - 1000);
        if (this.sent.length >= GLOBAL_PER_SECOND) waitMs = this.sent[0]! + 1000 - now;
      }
      if (waitMs <= 0) break;
      await sleep(waitMs);
    }
    if (!interaction) this.sent.push(Date.now());
  }

  private async send<T>(
    method: string,
    path: string,
    req: RestRequest,
    route: string,
    major: string,
  ): Promise<T> {
    const url = new URL(`${this.api}${path}`);
    for (const [k, v] of Object.entries(req.query ?? {})) url.searchParams.set(k, v);
    const interaction = /^\/(interactions|webhooks)\//.test(path);
    const retries = req.retries ?? this.retries;
    let failures = 0;
    let limited = 0;
    for (;;) {
      await this.waitForLimits(route, major, interaction);
      // Interaction answers use no bot token and are not refused in a loop: they still go.
      if (!interaction) this.checkInvalidRequests();
      let res: HttpResponse;
      try {
        res = await httpRequest(url, { method, ...this.encode(req), timeoutMs: this.timeoutMs });
      } catch (err) {
        // Not a network failure (a header Node refused, say): sending again cannot help.
        if (!(err instanceof HttpRequestError)) throw err;
        const reason = err.code;
        if (++failures > retries) throw new DiscordConnectionError(this.api, reason);
        await this.retryDelay(failures);
        continue;
      }
      const text = res.text;
      this.noteLimits(res, route, major);
      if (
        res.status === 401 ||
        res.status === 403 ||
        (res.status === 429 && res.header('x-ratelimit-scope') !== 'shared')
      )
        this.invalid.push(Date.now());
      if (res.status === 429) {
        const body = parseJson(text);
        // retry_after (seconds, with decimals) is the precise one; the header is whole seconds.
        const retryAfter =
          typeof body?.retry_after === 'number'
            ? Math.ceil(body.retry_after * 1000)
            : (retryAfterMs(res.header('retry-after')) ?? 1000);
        const waitMs = Math.max(0, retryAfter);
        const global = res.header('x-ratelimit-global') === 'true' || body?.global === true;
        this.opts.onRateLimited?.({
          route,
          method,
          retryAfterMs: waitMs,
          global,
          scope: res.header('x-ratelimit-scope') ?? (global ? 'global' : 'user'),
        });
        if (global) this.globalResetAt = Date.now() + waitMs;
        else
          this.buckets.set(this.bucketKey(route, major), {
            remaining: 0,
            resetAt: Date.now() + waitMs,
          });
        // A limit that keeps answering 429, or asks for a long wait (a `shared` resource limit can
        // say 20 minutes), fails the request: its caller retries on its own terms (alert delivery
        // backs off; a person sees the error). Nothing else waits behind it for that long.
        if (++limited > 10 || waitMs > this.maxRateLimitWaitMs) {
          if (!global) this.buckets.delete(this.bucketKey(route, major));
          throw new DiscordApiError(429, body ?? {}, method, url.pathname);
        }
        continue;
      }
      if (res.status >= 500) {
        if (++failures > retries) {
          const body = parseJson(text);
          if (body) throw new DiscordApiError(res.status, body, method, url.pathname);
          throw new DiscordHttpError(res.status, method, url.pathname);
        }
        await this.retryDelay(failures);
        continue;
      }
      if (res.status >= 400) {
        const body = parseJson(text);
        if (body) throw new DiscordApiError(res.status, body, method, url.pathname);
        throw new DiscordHttpError(res.status, method, url.pathname);
      }
      return (text ? JSON.parse(text) : undefined) as T;
    }
  }

  /** Before the n-th try again: n × retryDelayMs, at most 5 s. */
  private retryDelay(failures: number): Promise<void> {
    return sleep(Math.min((this.opts.retryDelayMs ?? 1000) * failures, 5000));
  }

  /** Throws DiscordRequestsHeldError while the last 10 minutes hold too many refusals. */
  private checkInvalidRequests(): void {
    const since = Date.now() - 10 * 60_000;
    let drop = 0;
    while (drop < this.invalid.length && this.invalid[drop]! < since) drop++;
    if (drop) this.invalid = this.invalid.slice(drop);
    const count = this.invalid.length;
    if (count < (this.opts.invalidRequestLimit ?? 9000)) {
      this.holding = false;
      return;
    }
    if (!this.holding) this.opts.onHeldBack?.(count);
    this.holding = true;
    throw new DiscordRequestsHeldError(count);
  }

  private noteLimits(res: HttpResponse, route: string, major: string): void {
    const hash = res.header('x-ratelimit-bucket');
    if (hash) this.hashes.set(route, hash);
    const remaining = res.header('x-ratelimit-remaining');
    const resetAfter = res.header('x-ratelimit-reset-after');
    if (remaining === null || resetAfter === null) return;
    this.buckets.set(this.bucketKey(route, major), {
      remaining: Number(remaining),
      resetAt: Date.now() + Number(resetAfter) * 1000,
    });
    // Forget buckets long reset, so a bot up for months does not keep one per thread.
    if (this.buckets.size > 1000) {
      const now = Date.now();
      for (const [k, b] of this.buckets) if (b.resetAt < now) this.buckets.delete(k);
    }
  }

  private encode(req: RestRequest): { headers: Record<string, string>; body?: string | Buffer } {
    const headers: Record<string, string> = { 'User-Agent': USER_AGENT };
    if (req.auth !== false && this.opts.token) headers.Authorization = `Bot ${this.opts.token}`;
    if (req.files?.length) {
      const form = multipart([
        ...req.files.map((f, i) => ({
          name: `files[${i}]`,
          filename: f.name,
          data: f.data,
          contentType: f.contentType,
        })),
        ...(req.body !== undefined
          ? [
              {
                name: 'payload_json',
                data: JSON.stringify(req.body),
                contentType: 'application/json',
              },
            ]
          : []),
      ]);
      headers['Content-Type'] = form.contentType;
      return { headers, body: form.body };
    }
    if (req.body === undefined) return { headers };
    headers['Content-Type'] = 'application/json';
    return { headers, body: JSON.stringify(req.body) };
  }
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
