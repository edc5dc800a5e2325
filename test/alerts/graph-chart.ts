/** The chart the renderer's golden test and the render benchmark draw: 3 series × 1 h at 15 s. */
import type { ChartInput } from '../../src/alerts/graph/chart-svg.js';

export function threeSeriesHour(): ChartInput {
  const end = 1_767_268_800; // 2026-01-01T12:00:00Z
  const start = end - 3600;
  const step = 15;
  const series = [0, 1, 2].map((s) => ({
    label: `node_load1{instance="pi${s + 1}:9100"}`,
    points: Array.from({ length: 241 }, (_, i): [number, number] => [
      start + i * step,
      // A gap (NaN) in the second series, a rise after 45 min in all.
      s === 1 && i > 100 && i < 110
        ? Number.NaN
        : 2 + Math.sin(i / 20 + s) * 1.5 + s + (i > 180 ? 2 : 0),
    ]),
  }));
  return {
    title: 'A-7 HighLoad: node_load1',
    series,
    more: 2,
    start,
    end,
    step,
    threshold: { label: '> 4', value: 4 },
    marks: [{ at: start + 181 * step, label: 'firing 11:45', kind: 'firing' }],
  };
}
