/**
 * The one Prometheus call graphs need: `GET /api/v1/query_range` (prometheus docs
 * querying/api.md "Range queries"): `query`, `start`, `end` (Unix seconds), `step` (seconds)
 * → `{status: "success", data: {resultType: "matrix", result: [{metric, values: [[t, "v"]]}]}}`;
 * errors are `{status: "error", errorType, error}` with 400/422/503. Prometheus refuses more
 * than 11,000 points per series.
 *
 * Over `node:http` (src/core/http-request.ts): Node's global `fetch` would load undici, ~16 MB
 * more resident memory on Node 24.
 */
import { httpRequest } from '../../core/http-request.js';

export interface RangeSeries {
  metric: Record<string, string>;
  /** [unix seconds, value] — NaN and ±Inf as Prometheus sends them ("NaN", "+Inf"). */
  values: [number, number][];
}

export interface RangeQuery {
  expr: string;
  start: Date;
  end: Date;
  stepSeconds: number;
}

export interface PrometheusClientOptions {
  url: string;
  /** Whole request, connect to last byte. */
  timeoutMs: number;
}

interface ApiAnswer {
  status?: string;
  error?: string;
  errorType?: string;
  data?: { resultType?: string; result?: { metric?: Record<string, string>; values?: unknown }[] };
}

export class PrometheusClient {
  private readonly base: string;

  constructor(private readonly opts: PrometheusClientOptions) {
    this.base = opts.url.replace(/\/+$/, '');
  }

  get url(): string {
    return this.base;
  }

  async queryRange(q: RangeQuery, signal?: AbortSignal): Promise<RangeSeries[]> {
    const params = new URLSearchParams({
      query: q.expr,
      start: String(q.start.getTime() / 1000),
      end: String(q.end.getTime() / 1000),
      step: String(q.stepSeconds),
    });
    const res = await httpRequest(`${this.base}/api/v1/query_range`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: params.toString(),
      timeoutMs: this.opts.timeoutMs,
      signal,
    });
    const { text } = res;
    const location = res.status >= 300 && res.status < 400 ? res.header('location') : null;
    if (location)
      throw new Error(
        `Prometheus ${this.base} answered ${res.status}, a redirect to ${location} (not followed): point alerts.prometheus.url at where it leads`,
      );
    let body: ApiAnswer;
    try {
      body = JSON.parse(text) as ApiAnswer;
    } catch {
      throw new Error(`Prometheus ${this.base} answered ${res.status}: ${text.slice(0, 200)}`);
    }
    if (res.status < 200 || res.status > 299 || body.status !== 'success')
      throw new Error(
        `Prometheus ${this.base} answered ${res.status}: ${body.errorType ?? ''} ${body.error ?? text.slice(0, 200)}`.trim(),
      );
    if (body.data?.resultType !== 'matrix')
      throw new Error(
        `Prometheus answered a ${body.data?.resultType ?? 'missing'} result, not a matrix`,
      );
    return (body.data.result ?? []).map((r) => ({
      metric: r.metric ?? {},
      values: (Array.isArray(r.values) ? r.values : []).map(
        (v: [number, string]) => [Number(v[0]), Number(v[1])] as [number, number],
      ),
    }));
  }
}

/**
 * A step that gives about `points` points over `rangeSeconds`, rounded up to a whole number of
 * seconds that reads well (10 s, 15 s, 30 s, 1 m, …), never below `minSeconds`.
 */
export function autoStep(rangeSeconds: number, points = 240, minSeconds = 5): number {
  const raw = Math.max(minSeconds, rangeSeconds / points);
  const nice = [5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400];
  return nice.find((n) => n >= raw) ?? Math.ceil(raw / 86400) * 86400;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** `1h30m` → 5400, `15s` → 15 (Prometheus-style durations, as the config schema allows). */
export function durationSeconds(text: string): number {
  let total = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)([smhdw])/g))
    total += Number(n) * UNIT_SECONDS[unit!]!;
  return total;
}
