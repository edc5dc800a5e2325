import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHART, chartSvg, linePath } from '../../src/alerts/graph/chart-svg.js';
import { renderPng } from '../../src/alerts/graph/render-png.js';
import { decodePng, differingPixels, pngHeader } from '../helpers/png.js';
import { threeSeriesHour } from './graph-chart.js';

const GOLDEN = path.join(import.meta.dirname, 'golden', 'graph-3-series.png');

describe('alert graph rendering', () => {
  it('draws the series, the threshold, the firing time and "and N more" (SVG)', () => {
    const svg = chartSvg(threeSeriesHour());
    expect(svg).toMatch(/^<svg [^>]*width="800" height="400"/);
    expect(svg.match(/<path d="M/g)).toHaveLength(3);
    expect(svg).toContain('stroke-dasharray="6 4"'); // the threshold
    expect(svg).toContain('&#62; 4</text>');
    expect(svg).toContain('firing 11:45</text>');
    expect(svg).toContain('and 2 more</text>');
    expect(svg).toContain('node_load1{instance=&#34;pi1:9100&#34;}');
    // Times on the axis in UTC, every 10 min.
    for (const t of ['11:00', '11:10', '11:30', '11:50', '12:00'])
      expect(svg).toContain(`>${t}</text>`);
  });

  it('lifts the pen at NaN and at gaps longer than 1.5 steps', () => {
    const id = (v: number) => v;
    expect(
      linePath(
        [
          [0, 1],
          [15, 2],
          [30, Number.NaN],
          [45, 3],
          [60, 4],
          [120, 5],
        ],
        15,
        id,
        id,
      ),
    ).toBe('M0 1L15 2M45 3L60 4M120 5');
  });

  it('escapes label text and says when there is no data', () => {
    const svg = chartSvg({
      ...threeSeriesHour(),
      series: [{ label: '<b>&"x"', points: [] }],
      more: 0,
    });
    expect(svg).toContain('&#60;b&#62;&#38;&#34;x&#34;');
    expect(svg).toContain('no data in this range');
  });

  it('renders a PNG that matches the golden one (tolerance for font rasterising)', async () => {
    const png = await renderPng(chartSvg(threeSeriesHour()));
    expect(pngHeader(png.data)).toMatchObject({ width: CHART.width, height: CHART.height });
    if (process.env.UPDATE_GOLDEN === '1' || !existsSync(GOLDEN)) {
      if (process.env.CI) throw new Error(`missing golden ${GOLDEN}`);
      writeFileSync(GOLDEN, png.data);
    }
    const got = decodePng(png.data);
    const want = decodePng(readFileSync(GOLDEN));
    // Lines, grid, marks and colours are exact; text may rasterise differently with another
    // version of the font, so allow up to 2 % of the pixels to differ.
    expect(differingPixels(got, want)).toBeLessThan(0.02);
    // And the picture is not blank: the three series' colours are there.
    for (const [r, g, b] of [
      [0x1f, 0x77, 0xb4],
      [0xff, 0x7f, 0x0e],
      [0x2c, 0xa0, 0x2c],
    ]) {
      let n = 0;
      for (let i = 0; i < got.rgba.length; i += 4)
        if (got.rgba[i] === r && got.rgba[i + 1] === g && got.rgba[i + 2] === b) n++;
      expect(n).toBeGreaterThan(200);
    }
  });
});
