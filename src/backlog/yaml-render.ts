import {
  Document,
  isMap,
  isScalar,
  isSeq,
  type Node,
  Scalar,
  type ToStringOptions,
  visit,
} from 'yaml';
import { TASK_FIELD_ORDER, TIMESTAMP_FIELDS } from './task-schema.js';

/**
 * Renders new task YAML (a whole item or one `key: value` pair) with scalar styles that
 * read back as the identical string. yaml-edit.ts verifies every result by parsing it
 * again and falls back to `safe` rendering (JSON-style double quotes everywhere) when the
 * readable style did not survive.
 */

export interface RenderOptions {
  /** Spaces per nesting level for maps inside an item (created_by). */
  indent: number;
  /** Quote every string with JSON-compatible double quotes and never fold lines. */
  safe?: boolean;
}

const LINE_WIDTH = 100;

// Characters YAML does not allow raw, plus the ones YAML 1.1 readers treat as line breaks
// (NEL, LS, PS) and the BOM: strings holding any of them are written double-quoted.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const UNPRINTABLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/u;

/**
 * Whether a multi-line string reads well and round-trips as a plain `|` block: printable,
 * no carriage returns or tabs, no line ending in a blank (editors strip those), and no
 * leading blank or trailing blank lines (those need indentation indicators or `|+`, which
 * are easy to break by hand).
 */
export function fitsLiteralBlock(s: string): boolean {
  if (!s.includes('\n') || s.includes('\r') || s.includes('\t') || UNPRINTABLE.test(s)) {
    return false;
  }
  if (/^[ \n]/.test(s) || s.endsWith('\n\n')) return false;
  return s.split('\n').every((line) => !line.endsWith(' '));
}

/** The style for one string value; undefined lets `yaml` choose plain or quoted. */
export function stringStyle(
  value: string,
  key: string | undefined,
  safe = false,
): Scalar.Type | undefined {
  if (safe) return Scalar.QUOTE_DOUBLE;
  if (key !== undefined && TIMESTAMP_FIELDS.has(key)) return Scalar.QUOTE_DOUBLE;
  if (fitsLiteralBlock(value)) return Scalar.BLOCK_LITERAL;
  if (/[\n\r\t]/.test(value) || UNPRINTABLE.test(value)) return Scalar.QUOTE_DOUBLE;
  return undefined;
}

export function toStringOptions(opts: RenderOptions): ToStringOptions {
  return {
    indent: opts.indent,
    indentSeq: true,
    lineWidth: opts.safe ? 0 : LINE_WIDTH,
    minContentWidth: 40,
    flowCollectionPadding: false,
    doubleQuotedAsJSON: opts.safe === true,
  };
}

/** Drops undefined values and orders task fields the way the store writes them. */
export function cleanTaskRecord(raw: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const keys = [
    ...TASK_FIELD_ORDER.filter((k) => k in raw),
    ...Object.keys(raw).filter((k) => !(TASK_FIELD_ORDER as readonly string[]).includes(k)),
  ];
  for (const k of keys) if (raw[k] !== undefined) out[k] = raw[k];
  return out;
}

/** A node for `value` in `doc`, styled for task files (tags as `[a, b]`, see stringStyle). */
export function createStyledNode(doc: Document, value: unknown, key?: string, safe = false): Node {
  const node = doc.createNode(value) as Node;
  styleNode(node, key, safe);
  return node;
}

function styleNode(node: Node, key: string | undefined, safe: boolean): void {
  if (isScalar(node)) {
    if (typeof node.value === 'string') node.type = stringStyle(node.value, key, safe);
    return;
  }
  visit(node, {
    Pair(_, pair) {
      if (isScalar(pair.value) && typeof pair.value.value === 'string') {
        const k = isScalar(pair.key) ? String(pair.key.value) : undefined;
        pair.value.type = stringStyle(pair.value.value, k, safe);
      }
    },
    Seq(_, seq) {
      // Short lists of words (tags) read best on one line: `tags: [storage, pi3]`.
      seq.flow = seq.items.every((i) => isScalar(i));
      for (const item of seq.items) {
        if (isScalar(item) && typeof item.value === 'string') {
          item.type = stringStyle(item.value, undefined, safe);
        }
      }
    },
  });
}

/** `- id: T-0001\n  title: …\n` at column 0, lines joined with `\n`. */
export function renderItem(raw: Record<string, unknown>, opts: RenderOptions): string {
  const doc = new Document();
  const seq = doc.createNode([]) as Node;
  if (!isSeq(seq)) throw new Error('unreachable: createNode([]) is not a sequence');
  seq.items.push(createStyledNode(doc, cleanTaskRecord(raw), undefined, opts.safe));
  doc.contents = seq;
  return doc.toString(toStringOptions(opts));
}

/** `key: value\n` at column 0 (more lines for block scalars and maps). */
export function renderPair(key: string, value: unknown, opts: RenderOptions): string {
  const doc = new Document();
  const map = doc.createNode({}) as Node;
  if (!isMap(map)) throw new Error('unreachable: createNode({}) is not a map');
  map.set(doc.createNode(key), createStyledNode(doc, value, key, opts.safe));
  doc.contents = map;
  return doc.toString(toStringOptions(opts));
}
