// Alert graph rendering (#17): how long one picture takes — the SVG chart of 3 series × 1 h
// (241 points each, 15 s step, threshold, firing mark, legend) and resvg turning it into an
// 800×400 PNG (renderAsync: on the native module's worker thread, with the system fonts loaded
// per render). Cold = the first render in the process (loads the native module). p50/p90 over
// RUNS renders one after another. Goal (issue 17): p50 < 150 ms. Prints a summary and one JSON
// line. `npm run bench graph`. Asserts the PNG only, never timings.
import { expect, it } from 'vitest';
import { chartSvg } from '../src/alerts/graph/chart-svg.js';
import { renderPng } from '../src/alerts/graph/render-png.js';
import { threeSeriesHour } from '../test/alerts/graph-chart.js';
import { pngHeader } from '../test/helpers/png.js';

const RUNS = Number(process.env.BENCH_GRAPH_RUNS ?? 100);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const ms = (x: number) => Math.round(x * 10) / 10;

it('renders 3 series × 1 h to PNG', async () => {
  const input = threeSeriesHour();
  const rss0 = process.memoryUsage().rss;
  let t = performance.now();
  const first = await renderPng(chartSvg(input));
  const cold = performance.now() - t;
  expect(pngHeader(first.data)).toMatchObject({ width: 800, height: 400 });
  const svg: number[] = [];
  const total: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    t = performance.now();
    const s = chartSvg(input);
    const mid = performance.now();
    await renderPng(s);
    svg.push(mid - t);
    total.push(performance.now() - t);
  }
  const result = {
    bench: 'graph-render',
    node: process.version,
    arch: process.arch,
    runs: RUNS,
    coldMs: ms(cold),
    p50Ms: ms(pct(total, 50)),
    p90Ms: ms(pct(total, 90)),
    maxMs: ms(Math.max(...total)),
    svgP50Ms: ms(pct(svg, 50)),
    pngBytes: first.data.length,
    rssGrowthMB: Math.round((process.memoryUsage().rss - rss0) / 1e6),
  };
  console.log(
    `graph render (3 series × 1 h, 800×400, node ${process.version} ${process.arch}): cold ${result.coldMs} ms, p50 ${result.p50Ms} ms, p90 ${result.p90Ms} ms, max ${result.maxMs} ms (SVG alone p50 ${result.svgP50Ms} ms); PNG ${Math.round(result.pngBytes / 1024)} KB; RSS +${result.rssGrowthMB} MB`,
  );
  console.log(JSON.stringify(result));
});
