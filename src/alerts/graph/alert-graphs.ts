/**
 * Graphs of alert groups: the rule's expression (from the alerts' generatorURL) queried over
 * the last hour (`alerts.prometheus`), drawn with the firing time and the threshold, as a PNG
 * for the group's root message. One drawing per group and state (firing, resolved) is kept and
 * shared by all destinations, so Discord and Matrix cause one query, and an edit of the root
 * (ack, silence) shows the same picture. Delivery never waits longer than `timeoutMs`:
 * Prometheus down or slow → no picture.
 */
import type { Logger } from '../../core/logger.js';
import type { ReplyImage } from '../../core/reply.js';
import type { GroupState } from '../types.js';
import { CHART, type ChartMark, type ChartSeries, chartSvg } from './chart-svg.js';
import { exprFromGeneratorURL, type GraphQuery, graphQuery } from './expression.js';
import { autoStep, type PrometheusClient, type RangeSeries } from './prometheus-client.js';
import type { PngImage } from './render-png.js';

export interface AlertGraphsOptions {
  prometheus: Pick<PrometheusClient, 'queryRange' | 'url'>;
  /** How far back a graph reaches, in seconds (default 1 h). */
  rangeSeconds: number;
  /** Query resolution in seconds; default: about 240 points over the range. */
  stepSeconds?: number;
  /** Query and rendering together, at most this long for a root post. */
  timeoutMs: number;
  log: Logger;
  /** Series drawn; the rest are counted as "and N more". */
  maxSeries?: number;
  now?: () => Date;
  render?: (svg: string) => Promise<PngImage>;
}

/** Groups whose last picture is kept (≈ 40 KB each). */
const KEEP = 50;

export class NoGraphError extends Error {}

export class AlertGraphs {
  private readonly kept = new Map<
    string,
    { key: string; image: Promise<ReplyImage | undefined> }
  >();
  private readonly now: () => Date;

  constructor(private readonly opts: AlertGraphsOptions) {
    this.now = opts.now ?? (() => new Date());
  }

  /**
   * The picture for a group's root: drawn once per state (when it fires, once more when it
   * resolves), undefined when the group has no expression or Prometheus did not answer within
   * `timeoutMs`. Never throws.
   */
  forGroup(state: GroupState): Promise<ReplyImage | undefined> {
    const key = `${state.status}:${state.firingSince}:${state.resolvedAt ?? ''}`;
    const kept = this.kept.get(state.groupKey);
    if (kept?.key === key) return kept.image;
    const image = this.bounded(state);
    this.kept.delete(state.groupKey);
    this.kept.set(state.groupKey, { key, image });
    for (const k of this.kept.keys()) {
      if (this.kept.size <= KEEP) break;
      this.kept.delete(k);
    }
    return image;
  }

  private async bounded(state: GroupState): Promise<ReplyImage | undefined> {
    if (!queryOf(state)) return undefined;
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => {
        abort.abort(new Error(`no graph within ${this.opts.timeoutMs} ms`));
        resolve(undefined);
      }, this.opts.timeoutMs);
    });
    const started = Date.now();
    try {
      const image = await Promise.race([this.draw(state, undefined, abort.signal), late]);
      if (!image)
        this.opts.log.warn(
          { ref: state.ref, prometheus: this.opts.prometheus.url, timeoutMs: this.opts.timeoutMs },
          'alert graph: Prometheus too slow; posted without it',
        );
      else this.opts.log.debug({ ref: state.ref, ms: Date.now() - started }, 'alert graph drawn');
      return image;
    } catch (err) {
      this.opts.log.warn(
        { ref: state.ref, prometheus: this.opts.prometheus.url, err: (err as Error).message },
        'alert graph failed; posted without it',
      );
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Draws the group's expression over `rangeSeconds` (default: the configured range) up to now,
   * or up to when it resolved. Throws NoGraphError when the alerts carry no expression.
   */
  async draw(
    state: GroupState,
    rangeSeconds = this.opts.rangeSeconds,
    signal?: AbortSignal,
  ): Promise<ReplyImage> {
    const query = queryOf(state);
    if (!query)
      throw new NoGraphError(
        `${state.ref}'s alerts carry no Prometheus expression (their generatorURL has no g0.expr).`,
      );
    const firedAt = firingTime(state);
    const resolvedAt =
      state.status === 'resolved' && state.resolvedAt
        ? Date.parse(state.resolvedAt) / 1000
        : undefined;
    const end = Math.floor(
      resolvedAt !== undefined
        ? Math.min(this.now().getTime() / 1000, resolvedAt + rangeSeconds / 12)
        : this.now().getTime() / 1000,
    );
    let start = end - rangeSeconds;
    // Keep the moment it fired in the picture (up to 7 ranges back).
    if (firedAt < start + rangeSeconds / 20)
      start = Math.max(end - 7 * rangeSeconds, Math.floor(firedAt - rangeSeconds / 10));
    const step = this.opts.stepSeconds ?? autoStep(end - start);
    const result = await this.opts.prometheus.queryRange(
      {
        expr: query.expr,
        start: new Date(start * 1000),
        end: new Date(end * 1000),
        stepSeconds: step,
      },
      signal,
    );
    const { series, more } = pickSeries(result, query, this.opts.maxSeries ?? 5);
    const marks: ChartMark[] = [{ at: firedAt, label: `firing ${hhmm(firedAt)}`, kind: 'firing' }];
    if (resolvedAt !== undefined)
      marks.push({ at: resolvedAt, label: `resolved ${hhmm(resolvedAt)}`, kind: 'resolved' });
    const name = state.groupLabels.alertname ?? state.commonLabels.alertname ?? 'alert';
    const svg = chartSvg({
      title: `${state.ref} ${name}: ${query.expr}`,
      series,
      more,
      start,
      end,
      step,
      threshold: query.threshold
        ? { label: `${query.threshold.op} ${query.threshold.value}`, value: query.threshold.value }
        : undefined,
      marks,
    });
    const render = this.opts.render ?? (await import('./render-png.js')).renderPng;
    const png = await render(svg);
    const minutes = Math.round((end - start) / 60);
    return {
      name: 'graph.png',
      mimetype: 'image/png',
      data: png.data,
      width: png.width,
      height: png.height,
      alt: `${name}: ${query.expr} over ${minutes >= 120 ? `${Math.round(minutes / 60)} h` : `${minutes} min`} until ${hhmm(end)} UTC${query.threshold ? `, threshold ${query.threshold.op} ${query.threshold.value}` : ''}; ${series.length + more} series`,
      key: `${state.status}@${end}`,
    };
  }
}

/** The expression of the group's first firing alert that has one (any alert when resolved). */
export function queryOf(state: GroupState): GraphQuery | undefined {
  const ordered = [...state.alerts].sort(
    (a, b) => Number(b.status === 'firing') - Number(a.status === 'firing'),
  );
  for (const a of ordered) {
    const expr = exprFromGeneratorURL(a.generatorURL);
    if (expr) return graphQuery(expr);
  }
  return undefined;
}

function firingTime(state: GroupState): number {
  const starts = state.alerts
    .map((a) => Date.parse(a.startsAt))
    .filter((t) => Number.isFinite(t) && t >= Date.parse(state.firingSince) - 86_400_000);
  const since = Date.parse(state.firingSince);
  return (starts.length ? Math.min(...starts, since) : since) / 1000;
}

const hhmm = (t: number) => new Date(t * 1000).toISOString().slice(11, 16);

/**
 * The series worth seeing first (the highest for `>` rules, the lowest for `<`), at most `max`;
 * labels every series shares are left out of the legend.
 */
export function pickSeries(
  result: RangeSeries[],
  query: GraphQuery,
  max: number,
): { series: ChartSeries[]; more: number } {
  const low = query.threshold?.op === '<' || query.threshold?.op === '<=';
  const score = (s: RangeSeries) => {
    const vs = s.values.map((v) => v[1]).filter(Number.isFinite);
    if (!vs.length) return Number.NEGATIVE_INFINITY;
    return low ? -Math.min(...vs) : Math.max(...vs);
  };
  const sorted = [...result].sort((a, b) => score(b) - score(a));
  const shown = sorted.slice(0, max);
  const shared = sharedLabels(result);
  return {
    series: shown.map((s) => ({
      label: seriesLabel(s.metric, shared, query.expr),
      points: s.values,
    })),
    more: sorted.length - shown.length,
  };
}

function sharedLabels(result: RangeSeries[]): Set<string> {
  if (result.length < 2) return new Set();
  const [first, ...rest] = result;
  return new Set(
    Object.entries(first!.metric)
      .filter(([k, v]) => k !== '__name__' && rest.every((r) => r.metric[k] === v))
      .map(([k]) => k),
  );
}

function seriesLabel(metric: Record<string, string>, shared: Set<string>, expr: string): string {
  const name = metric.__name__ ?? '';
  const labels = Object.entries(metric)
    .filter(([k]) => k !== '__name__' && !shared.has(k))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}="${v}"`);
  if (!name && !labels.length) return expr;
  return `${name}${labels.length ? `{${labels.join(', ')}}` : ''}`;
}

export { CHART };
