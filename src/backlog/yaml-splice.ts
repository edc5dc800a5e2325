import { isMap, isScalar, isSeq, type Node, type Pair, type YAMLMap } from 'yaml';
import type { TaskFile } from './task-file.js';
import { TASK_FIELD_ORDER } from './task-schema.js';
import { type RenderOptions, renderPair } from './yaml-render.js';
import {
  endWithNewline,
  isBlankLine,
  lineEnd,
  lineEnding,
  lineStart,
  onlySpacesBefore,
  previousLineStart,
  shiftFollowingLines,
  shiftLines,
  spanEnd,
  splice,
  toLineEnding,
} from './yaml-text.js';

/**
 * Edits that replace only the lines they change. Each returns undefined when the file's
 * layout is one it does not handle (flow-style lists or items, odd indicators); the
 * caller then falls back to re-rendering through the Document API.
 */

interface ItemSpan {
  /** Start of the line holding the item's `-`. */
  start: number;
  /** Past the item's last line (including comment lines indented under it). */
  end: number;
  dashCol: number;
  keyCol: number;
}

function itemSpan(text: string, f: TaskFile, index: number): ItemSpan | undefined {
  const node = f.seq?.items[index];
  if (!node || !isMap(node) || node.flow || !node.range || f.seq?.flow) return undefined;
  const keyStart = node.range[0];
  let d = keyStart - 1;
  while (d >= 0 && text[d] === ' ') d--;
  if (text[d] !== '-' || !onlySpacesBefore(text, d)) return undefined;
  const start = lineStart(text, d);
  const dashCol = d - start;
  let end = spanEnd(text, keyStart, node.range[1]);
  while (end < text.length) {
    const m = /^( *)#/.exec(text.slice(end, lineEnd(text, end)));
    if (!m || (m[1] ?? '').length <= dashCol) break;
    end = lineEnd(text, end);
  }
  return { start, end, dashCol, keyCol: keyStart - start };
}

function hasBlankLine(text: string, from: number, to: number): boolean {
  for (let at = from; at < to; at = lineEnd(text, at)) if (isBlankLine(text, at)) return true;
  return false;
}

function keyColumn(text: string, pair: Pair<Node, Node | null> | undefined): number | undefined {
  const k = pair?.key;
  if (!k?.range) return 0;
  return onlySpacesBefore(text, k.range[0]) ? k.range[0] - lineStart(text, k.range[0]) : undefined;
}

/** Appends an item (`- id: …` rendered at column 0 with `\n`) to the file's list. */
export function spliceAppend(f: TaskFile, item: string): string | undefined {
  const eol = lineEnding(f.text);
  const text = endWithNewline(f.text, eol);
  const seq = f.seq;
  const count = seq?.items.length ?? 0;
  if (seq && count > 0) {
    const last = itemSpan(text, f, count - 1);
    if (!last) return undefined;
    const prev = count >= 2 ? itemSpan(text, f, count - 2) : undefined;
    const gap = prev && hasBlankLine(text, prev.end, last.start) ? eol : '';
    return splice(
      text,
      last.end,
      last.end,
      gap + toLineEnding(shiftLines(item, last.dashCol), eol),
    );
  }
  const pair = f.tasksPair;
  const col = keyColumn(text, pair);
  if (col === undefined) return undefined;
  const block = toLineEnding(shiftLines(item, col + 2), eol);
  if (!pair) {
    const root = f.doc.contents;
    if (root !== null && !(isMap(root) && !root.flow) && !(isScalar(root) && root.value === null)) {
      return undefined;
    }
    return `${text}tasks:${eol}${block}`;
  }
  // `tasks:`, `tasks: ~` or `tasks: []`: drop the empty value, put the item under the key.
  const v = pair.value;
  let t = text;
  if (v?.range && v.range[1] > v.range[0]) {
    const empty = (isSeq(v) && v.items.length === 0) || (isScalar(v) && v.value === null);
    if (!empty) return undefined;
    let s = v.range[0];
    while (t[s - 1] === ' ') s--;
    t = splice(t, s, v.range[1], '');
  }
  const at = lineEnd(t, pair.key.range?.[0] ?? 0);
  return endWithNewline(t.slice(0, at), eol) + block + t.slice(at);
}

/** Removes item `index`; also returns its lines, moved to column 0 with `\n` endings. */
export function spliceRemove(
  f: TaskFile,
  index: number,
): { text: string; itemText: string } | undefined {
  const eol = lineEnding(f.text);
  const text = endWithNewline(f.text, eol);
  const span = itemSpan(text, f, index);
  const key = f.tasksPair?.key;
  if (!span || !key?.range) return undefined;
  const itemText = shiftLines(
    text.slice(span.start, span.end).replace(/\r\n/g, '\n'),
    -span.dashCol,
  );
  if (f.items.length === 1) {
    // The list becomes `tasks: []`; lines between the key and the item (comments) stay.
    const colon = text.indexOf(':', key.range[1]);
    if (colon === -1 || colon >= span.start) return undefined;
    const t = splice(text, span.start, span.end, '');
    return { text: splice(t, colon + 1, colon + 1, ' []'), itemText };
  }
  let { start, end } = span;
  const before = previousLineStart(text, start);
  if (before >= 0 && isBlankLine(text, before)) start = before;
  else if (index === 0 && isBlankLine(text, end)) end = lineEnd(text, end);
  return { text: splice(text, start, end, ''), itemText };
}

interface Edit {
  start: number;
  end: number;
  text: string;
  /** Orders inserts at the same place: canonical field order. */
  rank: number;
}

function keyOf(p: Pair): string | undefined {
  return isScalar(p.key) && typeof p.key.value === 'string' ? p.key.value : undefined;
}

const rankOf = (key: string | undefined) => {
  const i = (TASK_FIELD_ORDER as readonly (string | undefined)[]).indexOf(key);
  return i === -1 ? TASK_FIELD_ORDER.length : i;
};

/**
 * Sets (or, for undefined values, removes) fields of item `index`. A changed field's lines
 * are replaced; a new field goes after the field before it in TASK_FIELD_ORDER.
 */
export function spliceUpdate(
  f: TaskFile,
  index: number,
  changes: Record<string, unknown>,
  opts: RenderOptions,
): string | undefined {
  const eol = lineEnding(f.text);
  const text = endWithNewline(f.text, eol);
  const span = itemSpan(text, f, index);
  const node = f.seq?.items[index] as YAMLMap<Node, Node | null> | undefined;
  if (!span || !node) return undefined;
  const pairEnd = (p: Pair<Node, Node | null>) =>
    spanEnd(text, p.key.range?.[0] ?? 0, p.value?.range?.[1] ?? p.key.range?.[1] ?? 0);
  const edits: Edit[] = [];
  for (const [key, value] of Object.entries(changes)) {
    const pair = node.items.find((p) => keyOf(p) === key);
    const rank = rankOf(key);
    if (pair?.key.range) {
      const kStart = pair.key.range[0];
      const end = pairEnd(pair);
      if (value === undefined) {
        if (!onlySpacesBefore(text, kStart)) return undefined;
        edits.push({ start: lineStart(text, kStart), end, text: '', rank });
        continue;
      }
      const rendered = shiftFollowingLines(renderPair(key, value, opts), span.keyCol);
      const vEnd = pair.value?.range?.[1] ?? pair.key.range[1];
      const oneLine =
        lineEnd(text, kStart) === end &&
        !text.slice(kStart, vEnd).includes('\n') &&
        !rendered.slice(0, -1).includes('\n');
      if (oneLine) {
        // Keep what follows the value on its line (a comment) exactly as it was.
        edits.push({ start: kStart, end: vEnd, text: rendered.slice(0, -1), rank });
      } else {
        edits.push({ start: kStart, end, text: toLineEnding(rendered, eol), rank });
      }
    } else if (value !== undefined) {
      const after = node.items
        .filter((p) => rankOf(keyOf(p)) < rank)
        .sort((a, b) => rankOf(keyOf(a)) - rankOf(keyOf(b)))
        .pop();
      const at = after ? pairEnd(after) : span.end;
      const rendered = shiftLines(renderPair(key, value, opts), span.keyCol);
      edits.push({ start: at, end: at, text: toLineEnding(rendered, eol), rank });
    }
  }
  edits.sort((a, b) => b.start - a.start || b.rank - a.rank);
  let out = text;
  let limit = Number.POSITIVE_INFINITY;
  for (const e of edits) {
    if (e.end > limit) return undefined; // overlapping edits: let the fallback handle it
    out = splice(out, e.start, e.end, e.text);
    limit = e.start;
  }
  return out;
}
