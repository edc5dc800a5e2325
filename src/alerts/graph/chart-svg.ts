/**
 * An alert graph as SVG: the series of a range query as lines over time, the threshold the rule
 * compares with as a dashed line, when the alert fired (and resolved) as marks, a legend capped
 * with "and N more". Fixed size, UTC times. Pure: the PNG comes from render-png.ts.
 */
import { type AxisTick, timeTicks, valueTicks } from './ticks.js';

export interface ChartSeries {
  label: string;
  /** [unix seconds, value]; NaN breaks the line. */
  points: [number, number][];
}

export interface ChartMark {
  at: number;
  label: string;
  kind: 'firing' | 'resolved';
}

export interface ChartInput {
  title: string;
  series: ChartSeries[];
  /** Series left out of the picture (shown as "and N more"). */
  more: number;
  /** Unix seconds. */
  start: number;
  end: number;
  /** Points closer than this (seconds) are joined; further apart, the line breaks. */
  step: number;
  threshold?: { label: string; value: number };
  marks: ChartMark[];
}

export const CHART = { width: 800, height: 400 } as const;
export const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#e377c2'];
const FONT = 'DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif';
const LEFT = 64;
const RIGHT = 16;
const TOP = 34;
const LEGEND_ROW = 18;
const COLUMNS = 2;

// biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g;

export const escapeXml = (s: string) =>
  s
    .replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`)
    // XML 1.0 allows no control characters but tab and newlines.
    .replace(CONTROL, '');

const fmt = (n: number) => (Math.round(n * 10) / 10).toFixed(1).replace(/\.0$/, '');

/** Cuts text to about `max` characters (the legend has two columns of fixed width). */
function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

export function chartSvg(input: ChartInput): string {
  const { width, height } = CHART;
  const entries = input.series.length + (input.more > 0 ? 1 : 0);
  const legendRows = Math.max(1, Math.ceil(entries / COLUMNS));
  const bottom = height - 30 - legendRows * LEGEND_ROW;
  const plotW = width - LEFT - RIGHT;
  const plotH = bottom - TOP;
  const span = Math.max(1, input.end - input.start);
  const x = (t: number) => LEFT + ((t - input.start) / span) * plotW;

  const finite = input.series.flatMap((s) => s.points.map((p) => p[1]).filter(Number.isFinite));
  if (input.threshold) finite.push(input.threshold.value);
  const yTicks = valueTicks(finite);
  const lo = yTicks[0]!.value;
  const hi = yTicks.at(-1)!.value;
  const y = (v: number) => bottom - ((v - lo) / (hi - lo || 1)) * plotH;

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${LEFT}" y="22" font-size="15" font-weight="bold" fill="#222">${escapeXml(clip(input.title, 90))}</text>`,
  ];
  // The time the alert was firing, shaded.
  const firing = input.marks.find((m) => m.kind === 'firing');
  if (firing) {
    const resolved = input.marks.find((m) => m.kind === 'resolved' && m.at >= firing.at);
    const from = Math.max(LEFT, x(firing.at));
    const to = Math.min(LEFT + plotW, x(resolved?.at ?? input.end));
    if (to > from)
      out.push(
        `<rect x="${fmt(from)}" y="${TOP}" width="${fmt(to - from)}" height="${fmt(plotH)}" fill="#ed4245" fill-opacity="0.07"/>`,
      );
  }
  out.push(...grid(yTicks, timeTicks(input.start, input.end), { x, y, bottom, plotW }));
  input.series.forEach((s, i) => {
    const d = linePath(s.points, input.step, x, y);
    if (d)
      out.push(
        `<path d="${d}" fill="none" stroke="${PALETTE[i % PALETTE.length]}" stroke-width="1.8" stroke-linejoin="round"/>`,
      );
  });
  if (input.series.every((s) => !s.points.some((p) => Number.isFinite(p[1]))))
    out.push(
      `<text x="${fmt(LEFT + plotW / 2)}" y="${fmt(TOP + plotH / 2)}" font-size="14" fill="#888" text-anchor="middle">no data in this range</text>`,
    );
  if (input.threshold) {
    const ty = fmt(y(input.threshold.value));
    out.push(
      `<line x1="${LEFT}" y1="${ty}" x2="${LEFT + plotW}" y2="${ty}" stroke="#d62728" stroke-width="1.5" stroke-dasharray="6 4"/>`,
      `<text x="${LEFT + plotW - 4}" y="${fmt(Number(ty) - 4)}" font-size="11" fill="#d62728" text-anchor="end">${escapeXml(input.threshold.label)}</text>`,
    );
  }
  for (const m of input.marks) {
    if (m.at < input.start || m.at > input.end) continue;
    const mx = fmt(x(m.at));
    const color = m.kind === 'firing' ? '#d62728' : '#2ca02c';
    out.push(
      `<line x1="${mx}" y1="${TOP}" x2="${mx}" y2="${fmt(bottom)}" stroke="${color}" stroke-width="1.5"/>`,
      `<text x="${fmt(Number(mx) + 4)}" y="${TOP + 12}" font-size="11" fill="${color}">${escapeXml(m.label)}</text>`,
    );
  }
  out.push(...legend(input, bottom + 40));
  out.push('</svg>');
  return out.join('\n');
}

function grid(
  yTicks: AxisTick[],
  xTicks: AxisTick[],
  g: { x: (t: number) => number; y: (v: number) => number; bottom: number; plotW: number },
): string[] {
  const out: string[] = [];
  for (const t of yTicks) {
    const ty = fmt(g.y(t.value));
    out.push(
      `<line x1="${LEFT}" y1="${ty}" x2="${LEFT + g.plotW}" y2="${ty}" stroke="#e5e5e5" stroke-width="1"/>`,
      `<text x="${LEFT - 6}" y="${fmt(Number(ty) + 4)}" font-size="11" fill="#555" text-anchor="end">${escapeXml(t.label)}</text>`,
    );
  }
  for (const t of xTicks) {
    const tx = fmt(g.x(t.value));
    out.push(
      `<line x1="${tx}" y1="${TOP}" x2="${tx}" y2="${fmt(g.bottom)}" stroke="#eeeeee" stroke-width="1"/>`,
      `<text x="${tx}" y="${fmt(g.bottom + 15)}" font-size="11" fill="#555" text-anchor="${Number(tx) > LEFT + g.plotW - 20 ? 'end' : 'middle'}">${escapeXml(t.label)}</text>`,
    );
  }
  out.push(
    `<rect x="${LEFT}" y="${TOP}" width="${g.plotW}" height="${fmt(g.bottom - TOP)}" fill="none" stroke="#bbbbbb" stroke-width="1"/>`,
  );
  return out;
}

/** SVG path of a series; a gap longer than 1.5 steps (or a NaN) lifts the pen. */
export function linePath(
  points: [number, number][],
  step: number,
  x: (t: number) => number,
  y: (v: number) => number,
): string {
  const parts: string[] = [];
  let last: number | undefined;
  for (const [t, v] of points) {
    if (!Number.isFinite(v)) {
      last = undefined;
      continue;
    }
    const joined = last !== undefined && t - last <= step * 1.5;
    parts.push(`${joined ? 'L' : 'M'}${fmt(x(t))} ${fmt(y(v))}`);
    last = t;
  }
  return parts.join('');
}

function legend(input: ChartInput, top: number): string[] {
  const colW = (CHART.width - LEFT - RIGHT) / COLUMNS;
  const out: string[] = [];
  const cell = (i: number) => ({
    lx: LEFT + (i % COLUMNS) * colW,
    ly: top + Math.floor(i / COLUMNS) * LEGEND_ROW,
  });
  input.series.forEach((s, i) => {
    const { lx, ly } = cell(i);
    out.push(
      `<rect x="${fmt(lx)}" y="${ly - 9}" width="12" height="4" fill="${PALETTE[i % PALETTE.length]}"/>`,
      `<text x="${fmt(lx + 18)}" y="${ly - 3}" font-size="11" fill="#333">${escapeXml(clip(s.label, 52))}</text>`,
    );
  });
  if (input.more > 0) {
    const { lx, ly } = cell(input.series.length);
    out.push(
      `<text x="${fmt(lx + 18)}" y="${ly - 3}" font-size="11" fill="#777">and ${input.more} more</text>`,
    );
  }
  return out;
}
