/**
 * Pi-hole v6 REST API, for several instances (pi1–pi3). One session per instance, created on
 * first use and reused (Pi-hole allows only 16 by default), re-created once when it has
 * expired (401), logged out on close. Every operation acts on each selected instance and
 * reports per instance: one that is down or refuses does not stop the others.
 *
 * A Pi-hole without a password answers the login with `valid: true, sid: null` (FTL's
 * get_session_object for API_AUTH_EMPTYPASS): the API then works without X-FTL-SID, and there
 * is no session to log out. A 429 is one of two things (FTL src/api/auth.c): `api_seats_exceeded`
 * (every session seat taken: waiting does not help, the user must free seats) or
 * `rate_limiting` (more than 3 login attempts a second, all clients together: waiting does) —
 * so only the second is retried, once, after Retry-After or a second.
 */
import { UserError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { didYouMean } from '../core/suggest.js';

export interface PiholeInstanceConfig {
  name: string;
  url: string;
  /** The app password; none for a Pi-hole without a password. */
  password?: string | undefined;
}

/** FTL limits login attempts per second; without a Retry-After, wait one second and a bit. */
const RATE_LIMIT_WAIT_MS = 1100;
const MAX_RATE_LIMIT_WAIT_MS = 10_000;

export type DomainList = 'allow' | 'deny';

export interface PiholeStatus {
  blocking: 'enabled' | 'disabled' | 'failed' | 'unknown';
  /** Seconds until blocking changes back (Pi-hole's own timer), or null. */
  timer: number | null;
  queriesToday: number;
  blockedToday: number;
  percentBlocked: number;
  domainsOnBlockList: number;
  /** Last gravity update (ms since epoch), when known. */
  gravityUpdatedAt: number | null;
}

export type InstanceResult<T> =
  | { instance: string; ok: true; value: T }
  | { instance: string; ok: false; error: string; hint?: string };

/** What a request to Pi-hole failed with: shown as is, per instance. */
export class PiholeError extends Error {
  override readonly name = 'PiholeError';
  constructor(
    message: string,
    readonly status?: number,
    readonly hint?: string,
  ) {
    super(message);
  }
}

interface ApiError {
  error?: { key?: string; message?: string; hint?: string | null };
}

/** An API call as it will be made: for plans and for the client. */
export interface ApiCall {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  body?: unknown;
}

export const piholeCalls = {
  setBlocking: (enabled: boolean, timer: number | null): ApiCall => ({
    method: 'POST',
    path: '/api/dns/blocking',
    body: { blocking: enabled, timer },
  }),
  addDomain: (list: DomainList, domain: string, comment: string): ApiCall => ({
    method: 'POST',
    path: `/api/domains/${list}/exact`,
    body: { domain, comment },
  }),
  removeDomain: (list: DomainList, domain: string): ApiCall => ({
    method: 'DELETE',
    path: `/api/domains/${list}/exact/${encodeURIComponent(domain)}`,
  }),
  gravity: (): ApiCall => ({ method: 'POST', path: '/api/action/gravity' }),
};

/** `POST http://pi1/api/dns/blocking {"blocking":false,"timer":300}` */
export function callLine(baseUrl: string, call: ApiCall): string {
  return `${call.method} ${baseUrl.replace(/\/+$/, '')}${call.path}${call.body !== undefined ? ` ${JSON.stringify(call.body)}` : ''}`;
}

class Instance {
  /** The session id; '' when the Pi-hole needs none (no password set). */
  private sid?: Promise<string>;
  /** Set once a session was created: what close() logs out. */
  private liveSid?: string;

  constructor(
    readonly name: string,
    readonly url: string,
    private readonly password: string | undefined,
    private readonly timeoutMs: number,
    private readonly log: Logger,
    private readonly rateLimitWaitMs = RATE_LIMIT_WAIT_MS,
  ) {}

  private endpoint(path: string): string {
    return `${this.url.replace(/\/+$/, '')}${path}`;
  }

  private async fetch(call: ApiCall, sid?: string, timeoutMs = this.timeoutMs): Promise<Response> {
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
  private async send(call: ApiCall, sid?: string, timeoutMs?: number): Promise<Response> {
    const res = await this.fetch(call, sid, timeoutMs);
    if (res.status !== 429) return res;
    const { response, error } = await readError(res);
    if (error.error?.key !== 'rate_limiting') return response;
    const wait = retryAfterMs(res.headers) ?? this.rateLimitWaitMs;
    this.log.info(
      { instance: this.name, path: call.path, waitMs: wait },
      'pihole rate-limited (429 rate_limiting); retrying once',
    );
    await new Promise((r) => setTimeout(r, Math.min(wait, MAX_RATE_LIMIT_WAIT_MS)));
    return this.fetch(call, sid, timeoutMs);
  }

  private session(): Promise<string> {
    this.sid ??= this.login().catch((err) => {
      this.sid = undefined;
      throw err;
    });
    return this.sid;
  }

  private async login(): Promise<string> {
    const res = await this.send({
      method: 'POST',
      path: '/api/auth',
      body: { password: this.password ?? '' },
    });
    if (res.status === 429) {
      const e = await apiError(res);
      if (e.error?.key === 'rate_limiting') {
        throw new PiholeError(
          'Pi-hole is refusing logins for now (429 rate_limiting): it allows only a few login attempts a second, and was still refusing after a retry.',
          429,
          'Something else is logging in to this Pi-hole very often (a script, a misconfigured client or a password guesser). Try again in a moment; if it persists, look at Pi-hole’s FTL log for the client.',
        );
      }
      throw new PiholeError(
        `no free API session (429 ${e.error?.key ?? 'api_seats_exceeded'}): all of Pi-hole's API sessions are in use.`,
        429,
        'Other clients hold the sessions (the web interface, scripts). Log them out in Settings → Web interface / API → Currently active sessions, wait for them to expire, or raise webserver.api.max_sessions.',
      );
    }
    if (res.status === 401) {
      await res.body?.cancel();
      throw new PiholeError(
        this.password
          ? 'the app password was refused (401).'
          : 'this Pi-hole needs a password, and none is configured (401).',
        401,
        'Check pihole.instances[].password (or passwordFile) against Settings → Web interface / API → App password.',
      );
    }
    if (!res.ok) throw await httpError('logging in', res);
    const json = (await res.json()) as { session?: { valid?: boolean; sid?: string | null } };
    const sid = json.session?.sid;
    if (json.session?.valid && sid === null) {
      // No password set on this Pi-hole: no session, no X-FTL-SID, nothing to log out.
      this.log.debug({ instance: this.name }, 'pihole needs no login (no password set)');
      return '';
    }
    if (!json.session?.valid || !sid) {
      throw new PiholeError('the login answer had no session id.');
    }
    this.liveSid = sid;
    this.log.debug({ instance: this.name }, 'pihole session created');
    return sid;
  }

  /** A call with the session; a 401 (expired session) logs in again once. */
  async request(call: ApiCall, timeoutMs?: number): Promise<Response> {
    let sid = await this.session();
    let res = await this.send(call, sid || undefined, timeoutMs);
    if (res.status === 401) {
      // The session expired (or a password was set since): log in again, once.
      await res.body?.cancel();
      if (this.sid && (await this.sid.catch(() => undefined)) === sid) this.sid = undefined;
      this.liveSid = undefined;
      sid = await this.session();
      res = await this.send(call, sid || undefined, timeoutMs);
    }
    return res;
  }

  async json<T>(call: ApiCall, what: string): Promise<T> {
    const res = await this.request(call);
    if (!res.ok) throw await httpError(what, res);
    return (await res.json()) as T;
  }

  async logout(): Promise<void> {
    const sid = this.liveSid;
    this.liveSid = undefined;
    this.sid = undefined;
    if (!sid) return;
    try {
      const res = await this.fetch({ method: 'DELETE', path: '/api/auth' }, sid);
      await res.body?.cancel();
      this.log.debug({ instance: this.name, status: res.status }, 'pihole session closed');
    } catch (err) {
      this.log.warn({ instance: this.name, err }, 'pihole logout failed');
    }
  }
}

function networkError(url: string, err: unknown, timeoutMs: number): PiholeError {
  const e = err as Error & { cause?: { code?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') {
    return new PiholeError(`no answer from ${url} within ${timeoutMs} ms.`);
  }
  const code = e.cause?.code;
  return new PiholeError(
    `cannot reach ${url}${code ? ` (${code})` : `: ${e.message}`}.`,
    undefined,
    'Is Pi-hole (pihole-FTL) running, and is the URL right?',
  );
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

/** Retry-After (RFC 9110): delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const value = headers.get('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

async function apiError(res: Response): Promise<ApiError> {
  try {
    return (await res.json()) as ApiError;
  } catch {
    return {};
  }
}

async function httpError(what: string, res: Response): Promise<PiholeError> {
  const e = await apiError(res);
  if (res.status === 429 && e.error?.key === 'rate_limiting') {
    return new PiholeError(
      `${what} was refused: Pi-hole is rate-limiting (429 rate_limiting), still after one retry.`,
      429,
      'Try again in a moment.',
    );
  }
  const detail = e.error?.message ?? res.statusText;
  return new PiholeError(
    `${what} failed: ${res.status}${e.error?.key ? ` ${e.error.key}` : ''}${detail ? ` — ${detail}` : ''}.`,
    res.status,
    e.error?.hint ?? undefined,
  );
}

export interface PiholeClientOptions {
  instances: readonly PiholeInstanceConfig[];
  timeoutMs: number;
  logger: Logger;
}

export class PiholeClient {
  private readonly instances: Instance[];
  private readonly log: Logger;

  constructor(opts: PiholeClientOptions) {
    this.log = opts.logger;
    this.instances = opts.instances.map(
      (i) => new Instance(i.name, i.url, i.password, opts.timeoutMs, opts.logger),
    );
  }

  names(): string[] {
    return this.instances.map((i) => i.name);
  }

  /** The instances an operation acts on: all, or the one named (a UserError when unknown). */
  targets(instance?: string): { name: string; url: string }[] {
    return this.select(instance).map((i) => ({ name: i.name, url: i.url }));
  }

  private select(instance?: string): Instance[] {
    if (instance === undefined || instance === 'all') return this.instances;
    const found = this.instances.find((i) => i.name === instance);
    if (!found) {
      throw new UserError(
        `There is no Pi-hole "${instance}".${didYouMean(instance, this.names())}`,
        `Pi-holes: ${this.names().join(', ')} (or leave it out for all).`,
      );
    }
    return [found];
  }

  /** Runs `fn` on each instance at once; failures are reported, not thrown. */
  private async each<T>(
    instance: string | undefined,
    fn: (i: Instance) => Promise<T>,
  ): Promise<InstanceResult<T>[]> {
    const targets = this.select(instance);
    return Promise.all(
      targets.map(async (i): Promise<InstanceResult<T>> => {
        try {
          return { instance: i.name, ok: true, value: await fn(i) };
        } catch (err) {
          if (err instanceof PiholeError) {
            return { instance: i.name, ok: false, error: err.message, hint: err.hint };
          }
          this.log.warn({ instance: i.name, err }, 'pihole request failed');
          return { instance: i.name, ok: false, error: (err as Error).message };
        }
      }),
    );
  }

  status(instance?: string): Promise<InstanceResult<PiholeStatus>[]> {
    return this.each(instance, async (i) => {
      const [blocking, summary] = await Promise.all([
        i.json<{ blocking: PiholeStatus['blocking']; timer: number | null }>(
          { method: 'GET', path: '/api/dns/blocking' },
          'reading the blocking state',
        ),
        i.json<Summary>({ method: 'GET', path: '/api/stats/summary' }, 'reading the statistics'),
      ]);
      return {
        blocking: blocking.blocking,
        timer: blocking.timer ?? null,
        queriesToday: summary.queries?.total ?? 0,
        blockedToday: summary.queries?.blocked ?? 0,
        percentBlocked: summary.queries?.percent_blocked ?? 0,
        domainsOnBlockList: summary.gravity?.domains_being_blocked ?? 0,
        gravityUpdatedAt: summary.gravity?.last_update ? summary.gravity.last_update * 1000 : null,
      };
    });
  }

  /** Blocking on or off; `timerSeconds` makes Pi-hole switch it back by itself. */
  setBlocking(
    enabled: boolean,
    timerSeconds: number | null,
    instance?: string,
  ): Promise<InstanceResult<{ blocking: string; timer: number | null }>[]> {
    return this.each(instance, async (i) => {
      const r = await i.json<{ blocking: string; timer: number | null }>(
        piholeCalls.setBlocking(enabled, timerSeconds),
        `${enabled ? 'enabling' : 'disabling'} blocking`,
      );
      return { blocking: r.blocking, timer: r.timer ?? null };
    });
  }

  /** Adds an exact domain to the allow or deny list; `added: false` when it was there already. */
  addDomain(
    list: DomainList,
    domain: string,
    comment: string,
    instance?: string,
  ): Promise<InstanceResult<{ added: boolean }>[]> {
    return this.each(instance, async (i) => {
      const res = await i.request(piholeCalls.addDomain(list, domain, comment));
      if (!res.ok) throw await httpError(`adding ${domain} to the ${list} list`, res);
      const json = (await res.json()) as {
        processed?: { success?: unknown[]; errors?: { item?: string; error?: string }[] };
      };
      const errors = json.processed?.errors ?? [];
      if (errors.length) {
        const msg = errors[0]?.error ?? 'refused';
        if (/UNIQUE/i.test(msg)) return { added: false };
        throw new PiholeError(`adding ${domain} to the ${list} list was refused: ${msg}.`);
      }
      return { added: true };
    });
  }

  /** Removes an exact domain from a list; `removed: false` when it was not there. */
  removeDomain(
    list: DomainList,
    domain: string,
    instance?: string,
  ): Promise<InstanceResult<{ removed: boolean }>[]> {
    return this.each(instance, async (i) => {
      const res = await i.request(piholeCalls.removeDomain(list, domain));
      if (res.status === 404) {
        await res.body?.cancel();
        return { removed: false };
      }
      if (!res.ok) throw await httpError(`removing ${domain} from the ${list} list`, res);
      await res.body?.cancel();
      return { removed: true };
    });
  }

  /**
   * Updates gravity (the block lists) on each instance, one line of Pi-hole's output at a
   * time. The timeout applies between lines: a long update is fine while it keeps talking.
   */
  gravity(
    onLine: (instance: string, line: string) => void,
    instance?: string,
    idleTimeoutMs = 120_000,
  ): Promise<InstanceResult<{ lines: number }>[]> {
    return this.each(instance, async (i) => {
      const res = await i.request(piholeCalls.gravity(), 24 * 3600_000);
      if (!res.ok) throw await httpError('updating gravity', res);
      if (!res.body) return { lines: 0 };
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      let lines = 0;
      const emit = (raw: string) => {
        const line = cleanLine(raw);
        if (!line) return;
        lines++;
        onLine(i.name, line);
      };
      for (;;) {
        let timer: NodeJS.Timeout | undefined;
        const idle = new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new PiholeError(
                  `gravity stopped talking for ${Math.round(idleTimeoutMs / 1000)} s.`,
                ),
              ),
            idleTimeoutMs,
          );
        });
        let chunk: Awaited<ReturnType<typeof reader.read>>;
        try {
          chunk = await Promise.race([reader.read(), idle]);
        } catch (err) {
          await reader.cancel().catch(() => {});
          throw err;
        } finally {
          clearTimeout(timer);
        }
        if (chunk.done) break;
        buf += chunk.value;
        const parts = buf.split(/\r?\n|\r/);
        buf = parts.pop() ?? '';
        for (const p of parts) emit(p);
      }
      emit(buf);
      return { lines };
    });
  }

  /** Logs every session out (Pi-hole has few seats). */
  async close(): Promise<void> {
    await Promise.all(this.instances.map((i) => i.logout()));
  }
}

interface Summary {
  queries?: { total?: number; blocked?: number; percent_blocked?: number };
  gravity?: { domains_being_blocked?: number; last_update?: number };
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escapes in gravity output
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;

function cleanLine(raw: string): string {
  return raw.replace(ANSI, '').trim();
}
