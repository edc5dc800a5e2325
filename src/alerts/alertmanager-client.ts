/**
 * A small client of Alertmanager's API v2 (checked against Debian's prometheus-alertmanager
 * 0.25): silences (create, list, expire), alerts, status.
 *
 * Behaviour of the real server this client relies on (see test/alerts/alertmanager-client.test.ts):
 * - `POST /api/v2/silences` requires `startsAt`, `endsAt`, `createdBy`, `comment` and every
 *   matcher's `isRegex` (422 `{"code":602,"message":"… is required"}` otherwise); `isEqual`
 *   defaults to true. A `startsAt` in the past is moved to "now". `endsAt` before `startsAt` →
 *   400 `"Failed to create silence: start time must be before end time"`; a bad regex or only
 *   matchers that match "" → 400 `"silence invalid: …"`. Success: `{"silenceID":"<uuid>"}`.
 * - `DELETE /api/v2/silence/{id}`: 200 (also for a silence that is already expired); an unknown
 *   uuid → **500** `"silence not found"` in 0.25 (404 in later versions); not a uuid → 422.
 * - `GET /api/v2/silences` lists active, pending and expired silences. `filter=` takes matcher
 *   strings (`name="value"`, `=~`, `!=`, `!~`), repeated; a silence is listed when it has an
 *   identical matcher for each filter.
 * - `GET /api/v2/alerts` takes `active`, `silenced`, `inhibited`, `unprocessed` (each defaults to
 *   true — so `silenced=true` alone still lists unsilenced alerts) and repeated `filter=`.
 *   A firing alert's `endsAt` there is `startsAt + resolve_timeout` (not `0001-01-01…` as in the
 *   webhook), and `generatorURL` is left out when empty.
 *
 * Over `node:http` (src/core/http-request.ts): Node's global `fetch` would load undici, ~16 MB
 * more resident memory on Node 24. Redirects are not followed: a 3xx is a UserError that says
 * where it leads.
 */
import { UserError } from '../core/errors.js';
import { HttpRequestError, type HttpResponse, httpRequest } from '../core/http-request.js';

/** One label matcher, as Alertmanager's API v2 spells it. */
export interface Matcher {
  name: string;
  value: string;
  isRegex: boolean;
  /** false = negative matcher (`!=` / `!~`). */
  isEqual: boolean;
}

export type SilenceState = 'active' | 'pending' | 'expired';

/** A silence as `GET /api/v2/silences` returns it. */
export interface ApiSilence {
  /** A uuid: `5ed702f7-7f31-410d-842d-95ce76b7ea91`. */
  id: string;
  status: { state: SilenceState };
  matchers: Matcher[];
  /** ISO times with milliseconds: `2026-11-26T07:59:19.873Z`. */
  startsAt: string;
  endsAt: string;
  updatedAt: string;
  createdBy: string;
  comment: string;
}

export type ApiAlertState = 'active' | 'suppressed' | 'unprocessed';

/** An alert as `GET /api/v2/alerts` returns it. */
export interface ApiAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  /** While firing: the last update + resolve_timeout (5m by default). */
  endsAt: string;
  updatedAt: string;
  fingerprint: string;
  receivers: { name: string }[];
  status: {
    /** `suppressed` when silenced or inhibited. */
    state: ApiAlertState;
    /** Ids of the silences that mute it. */
    silencedBy: string[];
    /** Fingerprints of the alerts that inhibit it. */
    inhibitedBy: string[];
  };
  /** Left out when the alert was pushed without one. */
  generatorURL?: string;
}

/** What `GET /api/v2/status` returns (the parts worth reading). */
export interface ApiStatus {
  versionInfo?: {
    version?: string;
    revision?: string;
    branch?: string;
    buildDate?: string;
    buildUser?: string;
    goVersion?: string;
  };
  /** `{status: "disabled", peers: []}` without clustering. */
  cluster?: { status?: string; name?: string; peers?: unknown[] };
  /** The loaded configuration as YAML, secrets shown as `<secret>`. */
  config?: { original?: string };
  uptime?: string;
}

export interface AlertmanagerClientOptions {
  /** Base URL, e.g. `http://alertmanager.monitoring:9093` (a path prefix is kept). */
  url: string;
  /** Sent as `Authorization: Bearer <token>` (e.g. behind an authenticating proxy). */
  token?: string;
  basicAuth?: { username: string; password: string };
  /** Per request; default 10 s. */
  timeoutMs?: number;
}

export interface NewSilence {
  matchers: Matcher[];
  /** Default: now. */
  startsAt?: Date;
  endsAt: Date;
  createdBy: string;
  comment: string;
}

export interface AlertsQuery {
  /** Each defaults to true on the server side. */
  active?: boolean;
  silenced?: boolean;
  inhibited?: boolean;
  /** Matcher strings: `alertname="DiskFull"`, `severity=~"warn|crit"`. */
  filter?: string[];
}

/** An HTTP error answer from Alertmanager, with what was attempted in the message. */
export class AlertmanagerError extends Error {
  override readonly name = 'AlertmanagerError';
  constructor(
    message: string,
    readonly status: number,
    /** The answer's body (trimmed), e.g. `"silence not found"`. */
    readonly body: string,
  ) {
    super(message);
  }
}

const DEFAULT_TIMEOUT_MS = 10_000;
const CONFIG_HINT = 'check alerts.alertmanager.url';

export class AlertmanagerClient {
  /** Base URL without trailing slash and without credentials. */
  readonly url: string;
  private readonly authorization: string | undefined;
  private readonly timeoutMs: number;

  constructor(opts: AlertmanagerClientOptions) {
    let parsed: URL;
    try {
      parsed = new URL(opts.url);
    } catch {
      throw new UserError(
        `alerts.alertmanager.url is not a valid URL: ${JSON.stringify(opts.url)}`,
        'e.g. http://alertmanager.monitoring:9093',
      );
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new UserError(`alerts.alertmanager.url must be http(s): ${JSON.stringify(opts.url)}`);
    }
    // Credentials in the URL are sent as basic auth, and kept out of `url` (shown in messages).
    let basic = opts.basicAuth;
    if (parsed.username || parsed.password) {
      basic ??= {
        username: decodeURIComponent(parsed.username),
        password: decodeURIComponent(parsed.password),
      };
      parsed.username = '';
      parsed.password = '';
    }
    this.url = parsed.toString().replace(/\/+$/, '');
    if (opts.token) this.authorization = `Bearer ${opts.token}`;
    else if (basic) {
      this.authorization = `Basic ${Buffer.from(`${basic.username}:${basic.password}`).toString('base64')}`;
    }
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** Creates a silence and returns its id. */
  async createSilence(s: NewSilence): Promise<string> {
    if (s.matchers.length === 0) {
      throw new UserError('a silence needs at least one matcher');
    }
    if (!s.matchers.some((m) => !matchesEmpty(m))) {
      throw new UserError(
        'a silence needs at least one matcher that does not match an empty value',
        'e.g. alertname="DiskFull"',
      );
    }
    const startsAt = s.startsAt ?? new Date();
    if (s.endsAt.getTime() <= Math.max(startsAt.getTime(), Date.now())) {
      throw new UserError(`a silence must end in the future (ends ${s.endsAt.toISOString()})`);
    }
    const body = {
      matchers: s.matchers.map((m) => ({
        name: m.name,
        value: m.value,
        isRegex: m.isRegex,
        isEqual: m.isEqual,
      })),
      startsAt: startsAt.toISOString(),
      endsAt: s.endsAt.toISOString(),
      createdBy: s.createdBy,
      comment: s.comment,
    };
    const answer = await this.json<{ silenceID?: unknown }>(
      'creating a silence',
      'POST',
      '/api/v2/silences',
      { body },
    );
    if (typeof answer?.silenceID !== 'string' || answer.silenceID === '') {
      throw new Error(
        `while creating a silence on ${this.url}/api/v2/silences: no silenceID in the answer ${JSON.stringify(answer)}`,
      );
    }
    return answer.silenceID;
  }

  /** Expires a silence now. Unknown id → UserError. */
  async expireSilence(id: string): Promise<void> {
    const path = `/api/v2/silence/${encodeURIComponent(id)}`;
    try {
      await this.request('expiring a silence', 'DELETE', path);
    } catch (err) {
      if (err instanceof AlertmanagerError) {
        // 0.25 answers 500 "silence not found"; later versions 404.
        if (err.status === 404 || /silence not found/i.test(err.body)) {
          throw new UserError(`silence ${id} not found (already expired?)`);
        }
        if (err.status === 422 && /uuid/i.test(err.body)) {
          throw new UserError(
            `${JSON.stringify(id)} is not a silence id`,
            'silence ids look like 5ed702f7-7f31-410d-842d-95ce76b7ea91',
          );
        }
      }
      throw err;
    }
  }

  /** All silences (active, pending, expired), optionally only those with these matchers. */
  async silences(filter?: Matcher[]): Promise<ApiSilence[]> {
    const query = new URLSearchParams();
    for (const m of filter ?? []) query.append('filter', formatMatcher(m));
    const list = await this.json<ApiSilence[]>('listing silences', 'GET', '/api/v2/silences', {
      query,
    });
    return list ?? [];
  }

  async alerts(opts: AlertsQuery = {}): Promise<ApiAlert[]> {
    const query = new URLSearchParams();
    for (const key of ['active', 'silenced', 'inhibited'] as const) {
      const v = opts[key];
      if (v !== undefined) query.set(key, String(v));
    }
    for (const f of opts.filter ?? []) query.append('filter', f);
    const list = await this.json<ApiAlert[]>('listing alerts', 'GET', '/api/v2/alerts', { query });
    return list ?? [];
  }

  async status(): Promise<ApiStatus> {
    return (await this.json<ApiStatus>('reading the status', 'GET', '/api/v2/status')) ?? {};
  }

  private async json<T>(
    what: string,
    method: string,
    path: string,
    opts: { query?: URLSearchParams; body?: unknown } = {},
  ): Promise<T | undefined> {
    const { text, url } = await this.request(what, method, path, opts);
    if (text.trim() === '') return undefined;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new Error(`while ${what} on ${url}: the answer is not JSON: ${clip(text)}`);
    }
  }

  private async request(
    what: string,
    method: string,
    path: string,
    opts: { query?: URLSearchParams; body?: unknown } = {},
  ): Promise<{ text: string; url: string }> {
    const qs = opts.query?.toString();
    const url = `${this.url}${path}${qs ? `?${qs}` : ''}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    if (this.authorization) headers.authorization = this.authorization;
    let res: HttpResponse;
    try {
      res = await httpRequest(url, {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        timeoutMs: this.timeoutMs,
      });
    } catch (err) {
      throw this.networkError(what, method, url, err);
    }
    const { text } = res;
    if (res.status === 401 || res.status === 403) {
      throw new UserError(
        `Alertmanager at ${this.url} refused the bot's credentials (${res.status})`,
        `while ${what}; check alerts.alertmanager.token / basicAuth`,
      );
    }
    if (res.status >= 300 && res.status < 400) {
      // Not followed (e.g. an authenticating proxy sending the bot to its login page).
      const location = res.header('location');
      throw new UserError(
        `Alertmanager at ${this.url} answered ${res.status}, a redirect${location ? ` to ${clip(location, 200)}` : ''} the bot does not follow; ${CONFIG_HINT}`,
        `while ${what} (${method} ${url}); behind a proxy, check alerts.alertmanager.token / basicAuth too`,
      );
    }
    if (res.status < 200 || res.status > 299) {
      const detail = errorDetail(text);
      throw new AlertmanagerError(
        `while ${what} on ${url}: ${res.status}${detail ? ` ${detail}` : ''}`,
        res.status,
        clip(text),
      );
    }
    return { text, url };
  }

  private networkError(what: string, method: string, url: string, err: unknown): Error {
    const hint = `while ${what} (${method} ${url})`;
    // ETIMEDOUT: httpRequest's own timeout (the whole exchange took longer than timeoutMs).
    if (err instanceof HttpRequestError && err.code === 'ETIMEDOUT') {
      return new UserError(
        `Alertmanager at ${this.url} did not answer within ${formatMs(this.timeoutMs)}; ${CONFIG_HINT}`,
        hint,
      );
    }
    if (err instanceof HttpRequestError) {
      return new UserError(
        `Alertmanager at ${this.url} is not reachable (${err.code}); ${CONFIG_HINT}`,
        hint,
      );
    }
    return new Error(`while ${what} on ${url}: ${(err as Error)?.message ?? String(err)}`, {
      cause: err,
    });
  }
}

/** The readable part of an error body: `"silence not found"` or `{"code":602,"message":…}`. */
function errorDetail(text: string): string {
  const t = text.trim();
  if (!t) return '';
  try {
    const v = JSON.parse(t) as unknown;
    if (typeof v === 'string') return clip(v);
    if (v && typeof v === 'object' && typeof (v as { message?: unknown }).message === 'string') {
      return clip((v as { message: string }).message);
    }
  } catch {
    // not JSON: show as is
  }
  return clip(t);
}

function clip(s: string, max = 500): string {
  const t = s.trim();
  return t.length > max ? `${t.slice(0, max)}…` : t;
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/** Whether a matcher matches the empty string (Alertmanager needs one that does not). */
function matchesEmpty(m: Matcher): boolean {
  let matches: boolean;
  if (m.isRegex) {
    try {
      matches = new RegExp(`^(?:${m.value})$`).test('');
    } catch {
      return false; // let Alertmanager report the bad regex
    }
  } else {
    matches = m.value === '';
  }
  return m.isEqual ? matches : !matches;
}

/** A matcher in Alertmanager's filter syntax: `name="value"`, `name!~"re"`. */
export function formatMatcher(m: Matcher): string {
  const op = m.isRegex ? (m.isEqual ? '=~' : '!~') : m.isEqual ? '=' : '!=';
  const value = m.value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  return `${m.name}${op}"${value}"`;
}

/**
 * Matchers that select exactly one alert group: one equality matcher per group label (or per
 * common label when group_by is empty/`...`).
 *
 * With `group_by: ['...']` Alertmanager puts every label into `groupLabels`; with `group_by: []`
 * `groupLabels` is `{}` and the common labels are the best handle. But when the receiver's
 * `max_alerts` truncated the notification, `commonLabels` are computed over the alerts that were
 * sent only (checked with 0.25) and would miss the others: pass the payload's `truncatedAlerts`
 * and this refuses instead of silencing part of the group.
 */
export function groupMatchers(
  groupLabels: Record<string, string>,
  commonLabels: Record<string, string>,
  truncatedAlerts = 0,
): Matcher[] {
  const pick = (labels: Record<string, string>) =>
    Object.entries(labels)
      .filter(([, value]) => value !== '')
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, value]) => ({ name, value, isRegex: false, isEqual: true }));
  const byGroup = pick(groupLabels);
  if (byGroup.length > 0) return byGroup;
  if (truncatedAlerts > 0) {
    throw new UserError(
      `this alert group has no group labels and ${truncatedAlerts} of its alerts were not shown, so the labels they share are not known`,
      'silence it with explicit matchers, or give the route a group_by',
    );
  }
  const byCommon = pick(commonLabels);
  if (byCommon.length > 0) return byCommon;
  throw new UserError(
    'this alert group has no labels in common to silence it by',
    'silence its alerts one by one, or give the route a group_by',
  );
}

const UNIT_MS = { w: 7 * 86_400_000, d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 } as const;
const MIN_MS = 60_000;
const MAX_MS = 30 * 86_400_000;
const DURATION = /^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;
const EXAMPLE = 'e.g. 30m, 2h, 2h30m, 1d (from 1 minute to 30 days)';

/** "1h", "30m", "2h30m", "1d", "90s" → milliseconds; UserError with an example for anything else (limits: 1 min … 30 days). */
export function parseDuration(text: string): number {
  const t = text.trim().replace(/\s+/g, '');
  const m = DURATION.exec(t);
  if (!t || !m || m.slice(1).every((g) => g === undefined)) {
    throw new UserError(`${JSON.stringify(text.trim())} is not a duration`, EXAMPLE);
  }
  const [, w, d, h, min, s] = m;
  const ms =
    Number(w ?? 0) * UNIT_MS.w +
    Number(d ?? 0) * UNIT_MS.d +
    Number(h ?? 0) * UNIT_MS.h +
    Number(min ?? 0) * UNIT_MS.m +
    Number(s ?? 0) * UNIT_MS.s;
  if (ms < MIN_MS) {
    throw new UserError(`${text.trim()} is too short: at least 1 minute`, EXAMPLE);
  }
  if (ms > MAX_MS) {
    throw new UserError(`${text.trim()} is too long: at most 30 days`, EXAMPLE);
  }
  return ms;
}
