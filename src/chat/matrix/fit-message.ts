/**
 * Matrix refuses an event over 65,536 bytes (the whole event as the server federates it:
 * content plus an envelope of ids, hashes and signatures) with 413 M_TOO_LARGE — matrix-spec
 * client-server-api "Size limits". An edit carries its text twice (body and m.new_content).
 * Pure helpers to measure content and to split a long Reply into parts that each fit.
 */
import type { Reply } from '../../core/reply.js';

export const MAX_EVENT_BYTES = 65_536;
/**
 * What the server adds around the content: room and sender ids, type, timestamps, depth, auth
 * and prev event ids, the content hash and a signature — under 1 KB in practice; 2 KB kept free.
 */
const ENVELOPE_BYTES = 2048;
export const MAX_CONTENT_BYTES = MAX_EVENT_BYTES - ENVELOPE_BYTES;
/** More parts than this and a long text goes as a file instead: a room should not fill up. */
export const MAX_PARTS = 4;

/** The content's size as sent (JSON, UTF-8). */
export function contentBytes(content: Record<string, unknown>): number {
  return Buffer.byteLength(JSON.stringify(content), 'utf8');
}

export function fitsInEvent(content: Record<string, unknown>): boolean {
  return contentBytes(content) <= MAX_CONTENT_BYTES;
}

interface Unit {
  kind: 'text' | 'code' | 'footer';
  line: string;
}

/**
 * Splits `reply` at line boundaries (its text, then its code block) into at most `maxParts`
 * replies for which `fits` holds, each titled `… (part i of n)`. The first part keeps what
 * belongs to the message as a whole (mentions, severity, fields, confirmation, progress); the
 * footer ends the last. Undefined when that is not possible (one line alone is too long, or
 * more parts would be needed): then the text belongs in a file.
 */
export function splitReply(
  reply: Reply,
  fits: (part: Reply) => boolean,
  maxParts = MAX_PARTS,
): Reply[] | undefined {
  const units: Unit[] = [
    ...(reply.text ?? '').split('\n').map((line) => ({ kind: 'text' as const, line })),
    ...(reply.code ?? '').split('\n').map((line) => ({ kind: 'code' as const, line })),
  ].filter((u) => (u.kind === 'text' ? reply.text : reply.code) !== undefined);
  if (reply.footer) units.push({ kind: 'footer', line: reply.footer });
  const title = reply.title ?? 'Message';
  const build = (slice: Unit[], first: boolean, label: string): Reply => {
    const part: Reply = first
      ? { ...reply, title: `${title} ${label}` }
      : { title: `${title} ${label}` };
    delete part.text;
    delete part.code;
    delete part.footer;
    const text = slice.filter((u) => u.kind === 'text').map((u) => u.line);
    const code = slice.filter((u) => u.kind === 'code').map((u) => u.line);
    const footer = slice.find((u) => u.kind === 'footer');
    if (text.length) part.text = text.join('\n');
    if (code.length) part.code = code.join('\n');
    if (footer) part.footer = footer.line;
    return part;
  };
  const slices: Unit[][] = [];
  let at = 0;
  while (at < units.length) {
    if (slices.length === maxParts) return undefined;
    const first = slices.length === 0;
    // The most units from `at` that fit, found by bisection (label at its longest).
    let lo = 0;
    let hi = units.length - at;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (fits(build(units.slice(at, at + mid), first, '(part 99 of 99)'))) lo = mid;
      else hi = mid - 1;
    }
    if (lo === 0) return undefined;
    slices.push(units.slice(at, at + lo));
    at += lo;
  }
  if (slices.length === 0) return undefined;
  return slices.map((slice, i) => build(slice, i === 0, `(part ${i + 1} of ${slices.length})`));
}

/** `Every alert of these 100 groups` → `every-alert-of-these-100-groups.txt`. */
export function fileNameFor(reply: Reply): string {
  const base = (reply.title ?? 'message')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60);
  return `${base || 'message'}.txt`;
}
