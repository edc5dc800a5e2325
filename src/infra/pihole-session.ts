/**
 * One Pi-hole's API session. Created on first use and reused (Pi-hole allows only 16 by
 * default), re-created once when it has expired (401), logged out on close.
 *
 * A Pi-hole without a password answers the login with `valid: true, sid: null` (FTL's
 * get_session_object for API_AUTH_EMPTYPASS): the API then works without X-FTL-SID, and there
 * is no session to log out. A login refused with 429 says whether seats are taken or logins
 * are rate-limited (see pihole-http.ts).
 */
import type { Logger } from '../core/logger.js';
import type { ApiCall } from './pihole-calls.js';
import { apiError, httpError, PiholeError } from './pihole-errors.js';
import { PiholeHttp, type PiholeResponse } from './pihole-http.js';

export class PiholeSession {
  /** The session id; '' when the Pi-hole needs none (no password set). */
  private sid?: Promise<string>;
  /** Set once a session was created: what close() logs out. */
  private liveSid?: string;
  private readonly http: PiholeHttp;

  constructor(
    readonly name: string,
    readonly url: string,
    private readonly password: string | undefined,
    timeoutMs: number,
    private readonly log: Logger,
  ) {
    this.http = new PiholeHttp(name, url, timeoutMs, log);
  }

  private session(): Promise<string> {
    this.sid ??= this.login().catch((err) => {
      this.sid = undefined;
      throw err;
    });
    return this.sid;
  }

  private async login(): Promise<string> {
    const res = await this.http.send({
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
      res.discard();
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
  async request(call: ApiCall, timeoutMs?: number): Promise<PiholeResponse> {
    let sid = await this.session();
    let res = await this.http.send(call, sid || undefined, timeoutMs);
    if (res.status === 401) {
      // The session expired (or a password was set since): log in again, once.
      res.discard();
      if (this.sid && (await this.sid.catch(() => undefined)) === sid) this.sid = undefined;
      this.liveSid = undefined;
      sid = await this.session();
      res = await this.http.send(call, sid || undefined, timeoutMs);
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
      const res = await this.http.request({ method: 'DELETE', path: '/api/auth' }, sid);
      res.discard();
      this.log.debug({ instance: this.name, status: res.status }, 'pihole session closed');
    } catch (err) {
      this.log.warn({ instance: this.name, err }, 'pihole logout failed');
    }
  }
}
