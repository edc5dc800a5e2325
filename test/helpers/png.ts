/**
 * Reading PNGs in tests (W3C PNG spec, 3rd ed.: signature, IHDR first, IDAT zlib stream, filter
 * types 0–4 per scanline). Enough for what resvg writes: 8-bit RGBA or RGB, not interlaced.
 */
import { inflateSync } from 'node:zlib';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  interlace: number;
}

/** The IHDR of a PNG; throws if `buf` is not one. */
export function pngHeader(buf: Uint8Array): PngHeader {
  const b = Buffer.from(buf);
  if (b.length < 33 || !b.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG');
  if (b.toString('latin1', 12, 16) !== 'IHDR') throw new Error('PNG without IHDR first');
  return {
    width: b.readUInt32BE(16),
    height: b.readUInt32BE(20),
    bitDepth: b[24]!,
    colorType: b[25]!,
    interlace: b[28]!,
  };
}

/** Decoded RGBA pixels (every chunk walked, IEND required). */
export function decodePng(buf: Uint8Array): { width: number; height: number; rgba: Buffer } {
  const b = Buffer.from(buf);
  const h = pngHeader(b);
  if (h.bitDepth !== 8 || (h.colorType !== 6 && h.colorType !== 2) || h.interlace !== 0)
    throw new Error(`unsupported PNG: ${JSON.stringify(h)}`);
  const idat: Buffer[] = [];
  let at = 8;
  let ended = false;
  while (at + 8 <= b.length) {
    const len = b.readUInt32BE(at);
    const type = b.toString('latin1', at + 4, at + 8);
    if (type === 'IDAT') idat.push(b.subarray(at + 8, at + 8 + len));
    if (type === 'IEND') {
      ended = true;
      break;
    }
    at += 12 + len;
  }
  if (!ended) throw new Error('PNG without IEND (truncated)');
  const channels = h.colorType === 6 ? 4 : 3;
  const stride = h.width * channels;
  const raw = inflateSync(Buffer.concat(idat));
  const out = Buffer.alloc(h.width * h.height * 4);
  let prev = Buffer.alloc(stride);
  for (let y = 0; y < h.height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const line = Buffer.from(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? line[i - channels]! : 0;
      const up = prev[i]!;
      const c = i >= channels ? prev[i - channels]! : 0;
      const pred =
        filter === 0
          ? 0
          : filter === 1
            ? a
            : filter === 2
              ? up
              : filter === 3
                ? (a + up) >> 1
                : paeth(a, up, c);
      line[i] = (line[i]! + pred) & 0xff;
    }
    for (let x = 0; x < h.width; x++) {
      const o = (y * h.width + x) * 4;
      line.copy(out, o, x * channels, x * channels + channels);
      if (channels === 3) out[o + 3] = 255;
    }
    prev = line;
  }
  return { width: h.width, height: h.height, rgba: out };
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Share of pixels whose channels differ by more than `threshold` (0–255) anywhere. */
export function differingPixels(
  a: { rgba: Buffer; width: number; height: number },
  b: { rgba: Buffer; width: number; height: number },
  threshold = 48,
): number {
  if (a.width !== b.width || a.height !== b.height) return 1;
  let n = 0;
  for (let i = 0; i < a.rgba.length; i += 4) {
    for (let k = 0; k < 4; k++)
      if (Math.abs(a.rgba[i + k]! - b.rgba[i + k]!) > threshold) {
        n++;
        break;
      }
  }
  return n / (a.width * a.height);
}
