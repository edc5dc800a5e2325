/**
 * SVG → PNG with resvg (@resvg/resvg-js: Rust, prebuilt N-API binaries for linux x64/arm64 in
 * the registry, no install script, no browser). Loaded on first use, so a bot without
 * `alerts.prometheus` never maps the native library. Text uses the system's fonts (DejaVu Sans
 * on Debian); without any font, labels are left out and the lines are still drawn.
 */

export interface PngImage {
  data: Buffer;
  width: number;
  height: number;
}

type ResvgModule = typeof import('@resvg/resvg-js');
let resvg: Promise<ResvgModule> | undefined;

export async function renderPng(svg: string): Promise<PngImage> {
  resvg ??= import('@resvg/resvg-js');
  const { renderAsync } = await resvg;
  // Off the event loop (a worker thread of the native module): webhooks keep being answered.
  const image = await renderAsync(svg, {
    font: {
      loadSystemFonts: true,
      defaultFontFamily: 'DejaVu Sans',
      sansSerifFamily: 'DejaVu Sans',
    },
    background: '#ffffff',
  });
  return { data: image.asPng(), width: image.width, height: image.height };
}
