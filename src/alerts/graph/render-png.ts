/**
 * SVG → PNG with resvg (@resvg/resvg-js: Rust, prebuilt N-API binaries for linux x64/arm64 in
 * the registry, no install script, no browser). Loaded on first use, so a bot without
 * `alerts.prometheus` never maps the native library. Text uses DejaVu Sans (Debian's
 * fonts-dejavu-core) when it is installed, else the system's fonts; without any font, labels
 * are left out and the lines are still drawn.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

export interface PngImage {
  data: Buffer;
  width: number;
  height: number;
}

type ResvgModule = typeof import('@resvg/resvg-js');
let resvg: Promise<ResvgModule> | undefined;

/** Two font files parsed per render instead of every font on the system: faster, less memory. */
const DEJAVU = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf'].map((f) =>
  path.join('/usr/share/fonts/truetype/dejavu', f),
);
let fonts: { loadSystemFonts: boolean; fontFiles?: string[] } | undefined;

export async function renderPng(svg: string): Promise<PngImage> {
  resvg ??= import('@resvg/resvg-js');
  fonts ??= DEJAVU.every((f) => existsSync(f))
    ? { loadSystemFonts: false, fontFiles: DEJAVU }
    : { loadSystemFonts: true };
  const { renderAsync } = await resvg;
  // Off the event loop (a worker thread of the native module): webhooks keep being answered.
  const image = await renderAsync(svg, {
    font: { ...fonts, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
    background: '#ffffff',
  });
  return { data: image.asPng(), width: image.width, height: image.height };
}
