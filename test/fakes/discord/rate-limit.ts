/**
 * Per-route rate-limit buckets with Discord's headers. Off until a test configures a rule.
 *
 * Route keys look like `POST /channels/:id/messages` (every path parameter is written `:id`,
 * except webhook/interaction tokens, `:token`). A bucket is per "major parameter" (channel,
 * guild, webhook+token) like Discord's, unless `perResource: false`.
 */

export interface RateLimitRule {
  /** `METHOD /path/:id/...`, e.g. `POST /channels/:id/messages`. */
  route: string;
  /** Requests allowed per window. */
  limit: number;
  windowMs: number;
  /** One bucket per channel/guild/webhook (Discord's behaviour). Default true. */
  perResource?: boolean;
  /**
   * Send `X-RateLimit-*` headers on successful responses (Discord does). discord.js then waits
   * proactively and rarely gets a 429; set false to model a limit the client cannot see
   * coming (shared/undocumented limits), so every excess request is answered 429. Default true.
   */
  advertise?: boolean;
  /** `X-RateLimit-Scope` of the 429s. Default `user`. */
  scope?: 'user' | 'shared';
}

export interface GlobalRateLimit {
  limit: number;
  windowMs: number;
}

export interface RateLimitOutcome {
  headers: Record<string, string>;
  /** Set when the request must be answered 429. */
  limited?: { body: { message: string; retry_after: number; global: boolean; code?: number } };
}

interface Bucket {
  count: number;
  resetAt: number;
}

/** Normalizes `POST /channels/:channelId/messages` → `POST /channels/:id/messages`. */
export function normalizeRouteKey(route: string): string {
  const [method = '', path = ''] = route.trim().split(/\s+/, 2);
  const normalized = path
    .split('/')
    .map((seg) => (seg === ':token' ? seg : seg.startsWith(':') ? ':id' : seg))
    .join('/');
  return `${method.toUpperCase()} ${normalized}`;
}

const seconds = (ms: number): string => (Math.max(ms, 0) / 1000).toFixed(3);

export class RateLimiter {
  private readonly rules = new Map<string, Required<RateLimitRule> & { hash: string }>();
  private readonly buckets = new Map<string, Bucket>();
  private global: GlobalRateLimit | null = null;
  private globalBucket: Bucket = { count: 0, resetAt: 0 };
  /** 429s served. */
  rateLimited = 0;
  /** Requests that used up the last slot of a bucket (`X-RateLimit-Remaining: 0`). */
  bucketsExhausted = 0;
  readonly rateLimitedByRoute = new Map<string, number>();

  set(rule: RateLimitRule): void {
    const key = normalizeRouteKey(rule.route);
    this.rules.set(key, {
      perResource: true,
      advertise: true,
      scope: 'user',
      ...rule,
      route: key,
      hash: `fake${Buffer.from(key).toString('hex').slice(0, 24)}`,
    });
    for (const k of [...this.buckets.keys()]) if (k.startsWith(`${key}|`)) this.buckets.delete(k);
  }

  clear(route?: string): void {
    if (route === undefined) {
      this.rules.clear();
      this.buckets.clear();
      this.global = null;
      return;
    }
    this.rules.delete(normalizeRouteKey(route));
  }

  setGlobal(limit: GlobalRateLimit | null): void {
    this.global = limit;
    this.globalBucket = { count: 0, resetAt: 0 };
  }

  /** Counts the request against its buckets; tells whether it must be answered 429. */
  check(routeKey: string, major: string, now = Date.now()): RateLimitOutcome {
    if (this.global) {
      const g = this.globalBucket;
      if (now >= g.resetAt) {
        g.count = 0;
        g.resetAt = now + this.global.windowMs;
      }
      if (g.count >= this.global.limit) {
        return this.limited(routeKey, g.resetAt - now, true, 'global', {});
      }
      g.count++;
    }
    const rule = this.rules.get(routeKey);
    if (!rule) return { headers: {} };
    const bucketKey = `${routeKey}|${rule.perResource ? major : '*'}`;
    let bucket = this.buckets.get(bucketKey);
    if (!bucket || now >= bucket.resetAt) {
      bucket = { count: 0, resetAt: now + rule.windowMs };
      this.buckets.set(bucketKey, bucket);
    }
    const resetAfter = bucket.resetAt - now;
    const headers = (remaining: number): Record<string, string> => ({
      'X-RateLimit-Limit': String(rule.limit),
      'X-RateLimit-Remaining': String(remaining),
      'X-RateLimit-Reset': seconds(bucket.resetAt),
      'X-RateLimit-Reset-After': seconds(resetAfter),
      'X-RateLimit-Bucket': rule.hash,
    });
    if (bucket.count >= rule.limit) {
      return this.limited(routeKey, resetAfter, false, rule.scope, headers(0));
    }
    bucket.count++;
    if (bucket.count === rule.limit) this.bucketsExhausted++;
    return { headers: rule.advertise ? headers(rule.limit - bucket.count) : {} };
  }

  private limited(
    routeKey: string,
    retryMs: number,
    global: boolean,
    scope: string,
    headers: Record<string, string>,
  ): RateLimitOutcome {
    this.rateLimited++;
    this.rateLimitedByRoute.set(routeKey, (this.rateLimitedByRoute.get(routeKey) ?? 0) + 1);
    const retryAfter = Number(seconds(retryMs));
    return {
      headers: {
        ...headers,
        // Real Discord rounds this header up to whole seconds; fractions keep tests fast and
        // discord.js reads it as a float.
        'Retry-After': seconds(retryMs),
        'X-RateLimit-Scope': scope,
        ...(global ? { 'X-RateLimit-Global': 'true' } : {}),
      },
      limited: {
        body: {
          message: 'You are being rate limited.',
          retry_after: retryAfter,
          global,
          ...(global ? { code: 0 } : {}),
        },
      },
    };
  }
}
