/**
 * A fake Pi-hole v6 API on 127.0.0.1: sessions (app password, validity extended on use, the
 * seat limit → 429 api_seats_exceeded), blocking with a timer that really switches back,
 * exact allow/deny lists, summary stats, gravity streaming text. Records every request.
 *
 * Follows pi-hole/FTL: src/api/docs/content/specs/auth.yaml (examples no_login_required,
 * rate_limit, no_seats), src/api/auth.c (api_auth, check_client_auth, get_session_object) and
 * src/config/password.c (verify_password):
 * - `password: ''` is a Pi-hole without a password (empty pwhash): POST /api/auth answers
 *   `{session: {valid: true, sid: null, validity: -1, message: "no password set"}}` and every
 *   endpoint works without X-FTL-SID; no seat is taken (DELETE /api/auth has nothing to end).
 * - A login without a `password` key is 400 bad_request ("No password found in JSON payload").
 * - Login attempts are rate-limited as FTL does: more than 3 within the same second (all
 *   clients together) → 429 `rate_limiting` ("Rate-limiting login attempts", after 250 ms),
 *   no Retry-After header. `rateLimitLoginsFor(ms)` stands for a client hammering the login
 *   (every attempt in that time is refused); `api_seats_exceeded` (also 429) is the other kind.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface PiholeRequest {
  method: string;
  path: string;
  sid?: string;
  body?: unknown;
}

export interface FakePiholeOptions {
  /** The app password; '' = no password set (no login needed). */
  password?: string;
  maxSessions?: number;
  validitySeconds?: number;
  gravityLines?: string[];
  gravityLineDelayMs?: number;
}

type List = 'allow' | 'deny';

export class FakePihole {
  readonly requests: PiholeRequest[] = [];
  readonly password: string;
  maxSessions: number;
  validitySeconds: number;
  /** sid → expiry (ms). */
  readonly sessions = new Map<string, number>();
  blocking = true;
  private timer?: NodeJS.Timeout;
  private timerEndsAt?: number;
  readonly lists: Record<List, Map<string, string>> = { allow: new Map(), deny: new Map() };
  stats = { total: 12_345, blocked: 2_469 };
  domainsBeingBlocked = 123_456;
  gravityLastUpdate = Math.floor(Date.now() / 1000) - 3 * 86400;
  gravityLines: string[];
  gravityLineDelayMs: number;
  private server?: Server;
  port = 0;
  /** FTL's verify_password counter: attempts within the current second. */
  private loginSecond = 0;
  private loginAttempts = 0;
  private rateLimitedUntil = 0;
  /** Logins refused with 429 rate_limiting. */
  rateLimitedLogins = 0;

  private constructor(opts: FakePiholeOptions) {
    this.password = opts.password ?? 'app-password';
    this.maxSessions = opts.maxSessions ?? 16;
    this.validitySeconds = opts.validitySeconds ?? 1800;
    this.gravityLines = opts.gravityLines ?? [
      '  [i] Neutrino emissions detected...',
      '\u001b[K  [✓] Pulling blocklist source list into range',
      '  [i] Target: https://raw.githubusercontent.com/StevenBlack/hosts/master/hosts',
      '  [✓] Status: Retrieval successful',
      '  [✓] Building tree',
      '  [i] Number of gravity domains: 123456 (123456 unique domains)',
      '  [✓] Done.',
    ];
    this.gravityLineDelayMs = opts.gravityLineDelayMs ?? 20;
  }

  static async start(opts: FakePiholeOptions = {}): Promise<FakePihole> {
    const f = new FakePihole(opts);
    await f.listen(0);
    return f;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts answering again (on the same port) after `stop()`. */
  async listen(port = this.port): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { key: 'internal', message: String(err) } }));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  /** Down: connections are refused until `listen()`. */
  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    await this.stop();
  }

  /** Every login attempt for the next `ms` is refused with 429 rate_limiting (a client hammers it). */
  rateLimitLoginsFor(ms: number): void {
    this.rateLimitedUntil = Date.now() + ms;
  }

  /** Other clients take `n` seats. */
  occupySeats(n: number): string[] {
    return Array.from({ length: n }, () => this.newSession());
  }

  /** Every session ends (FTL restarted, or they expired). */
  dropSessions(): void {
    this.sessions.clear();
  }

  authRequests(): PiholeRequest[] {
    return this.requests.filter((r) => r.path === '/api/auth' && r.method === 'POST');
  }

  timerRemaining(): number | null {
    return this.timerEndsAt ? Math.max(0, (this.timerEndsAt - Date.now()) / 1000) : null;
  }

  private newSession(): string {
    const sid = randomBytes(16).toString('base64url');
    this.sessions.set(sid, Date.now() + this.validitySeconds * 1000);
    return sid;
  }

  /** FTL's verify_password: more than 3 attempts within one second (any client) are refused. */
  private loginRateLimited(): boolean {
    if (Date.now() < this.rateLimitedUntil) return true;
    const second = Math.floor(Date.now() / 1000);
    if (second !== this.loginSecond) {
      this.loginSecond = second;
      this.loginAttempts = 1;
      return false;
    }
    return ++this.loginAttempts > 3;
  }

  private liveSessions(): number {
    const now = Date.now();
    for (const [sid, exp] of this.sessions) if (exp <= now) this.sessions.delete(sid);
    return this.sessions.size;
  }

  private setBlocking(enabled: boolean, timer: number | null): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerEndsAt = undefined;
    this.blocking = enabled;
    if (timer) {
      this.timerEndsAt = Date.now() + timer * 1000;
      this.timer = setTimeout(() => {
        this.blocking = !enabled;
        this.timer = undefined;
        this.timerEndsAt = undefined;
      }, timer * 1000);
      this.timer.unref();
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      return send(res, 400, apiErr('bad_request', 'Invalid JSON'));
    }
    const sid = (req.headers['x-ftl-sid'] as string | undefined) ?? undefined;
    const method = req.method ?? 'GET';
    const path = decodeURIComponent(url.pathname);
    this.requests.push({ method, path, sid, body });

    const noPassword = this.password === '';
    if (path === '/api/auth' && method === 'POST') {
      const pw = (body as { password?: unknown } | undefined)?.password;
      if (pw === undefined) {
        return send(res, 400, apiErr('bad_request', 'No password found in JSON payload'));
      }
      if (typeof pw !== 'string') {
        return send(res, 400, apiErr('bad_request', "Field password has to be of type 'string'"));
      }
      if (noPassword) {
        return send(res, 200, {
          session: {
            valid: true,
            totp: false,
            sid: null,
            validity: -1,
            message: 'no password set',
          },
          took: 0.0001,
        });
      }
      if (pw !== '' && this.loginRateLimited()) {
        this.rateLimitedLogins++;
        await new Promise((r) => setTimeout(r, 250));
        return send(res, 429, apiErr('rate_limiting', 'Rate-limiting login attempts'));
      }
      if (pw !== this.password) {
        return send(res, 401, {
          session: {
            valid: false,
            totp: false,
            sid: null,
            validity: -1,
            message: 'password incorrect',
          },
        });
      }
      if (this.liveSessions() >= this.maxSessions) {
        return send(
          res,
          429,
          apiErr('api_seats_exceeded', 'API seats exceeded', 'increase webserver.api.max_sessions'),
        );
      }
      const newSid = this.newSession();
      return send(res, 200, {
        session: {
          valid: true,
          totp: false,
          sid: newSid,
          csrf: 'x',
          validity: this.validitySeconds,
          message: 'app-password correct',
        },
      });
    }

    // Everything else needs a live session, unless there is no password at all.
    const exp = sid ? this.sessions.get(sid) : undefined;
    if (noPassword) {
      if (path === '/api/auth' && method === 'DELETE') {
        return send(res, 404, apiErr('not_found', 'No session active'));
      }
    } else if (!sid || !exp || exp <= Date.now()) {
      if (sid) this.sessions.delete(sid);
      return send(res, 401, apiErr('unauthorized', 'Unauthorized'));
    } else this.sessions.set(sid, Date.now() + this.validitySeconds * 1000);

    if (path === '/api/auth' && method === 'DELETE' && sid) {
      this.sessions.delete(sid);
      res.writeHead(204).end();
      return;
    }
    if (path === '/api/dns/blocking' && method === 'GET') {
      return send(res, 200, this.blockingJson());
    }
    if (path === '/api/dns/blocking' && method === 'POST') {
      const b = body as { blocking?: unknown; timer?: unknown } | undefined;
      if (
        typeof b?.blocking !== 'boolean' ||
        !(b.timer === null || b.timer === undefined || typeof b.timer === 'number')
      ) {
        return send(res, 400, apiErr('bad_request', 'Invalid blocking request'));
      }
      this.setBlocking(b.blocking, (b.timer as number | null | undefined) ?? null);
      return send(res, 200, this.blockingJson());
    }
    if (path === '/api/stats/summary' && method === 'GET') {
      return send(res, 200, {
        queries: {
          total: this.stats.total,
          blocked: this.stats.blocked,
          percent_blocked: (this.stats.blocked / this.stats.total) * 100,
          unique_domains: 4321,
        },
        clients: { active: 12, total: 20 },
        gravity: {
          domains_being_blocked: this.domainsBeingBlocked,
          last_update: this.gravityLastUpdate,
        },
        took: 0.001,
      });
    }
    const dm = /^\/api\/domains\/(allow|deny)\/(exact|regex)(?:\/(.+))?$/.exec(path);
    if (dm) {
      const list = dm[1] as List;
      if (dm[2] !== 'exact') return send(res, 400, apiErr('bad_request', 'only exact in the fake'));
      if (method === 'POST' && !dm[3]) {
        const b = body as { domain?: unknown; comment?: unknown } | undefined;
        if (typeof b?.domain !== 'string')
          return send(res, 400, apiErr('bad_request', 'No domain'));
        if (this.lists[list].has(b.domain)) {
          return send(res, 201, {
            domains: [],
            processed: {
              success: [],
              errors: [
                {
                  item: b.domain,
                  error: 'UNIQUE constraint failed: domainlist.domain, domainlist.type',
                },
              ],
            },
          });
        }
        this.lists[list].set(b.domain, typeof b.comment === 'string' ? b.comment : '');
        return send(res, 201, {
          domains: [{ domain: b.domain, type: list, kind: 'exact', comment: b.comment }],
          processed: { success: [{ item: b.domain }], errors: [] },
        });
      }
      if (method === 'DELETE' && dm[3]) {
        if (!this.lists[list].delete(dm[3]))
          return send(res, 404, apiErr('not_found', 'Item not found'));
        res.writeHead(204).end();
        return;
      }
    }
    if (path === '/api/action/gravity' && method === 'POST') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      for (const line of this.gravityLines) {
        res.write(`${line}\n`);
        await new Promise((r) => setTimeout(r, this.gravityLineDelayMs));
      }
      this.gravityLastUpdate = Math.floor(Date.now() / 1000);
      res.end();
      return;
    }
    send(res, 404, apiErr('not_found', 'Not found'));
  }

  private blockingJson() {
    const t = this.timerRemaining();
    return { blocking: this.blocking ? 'enabled' : 'disabled', timer: t, took: 0.0001 };
  }
}

function apiErr(key: string, message: string, hint: string | null = null) {
  return { error: { key, message, hint }, took: 0.0001 };
}

function send(res: ServerResponse, status: number, json: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(json));
}
