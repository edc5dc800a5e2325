/**
 * Line-level text helpers for splicing YAML source: the edits in yaml-edit.ts locate nodes
 * with the `yaml` Document API and then replace only the lines they change, so everything
 * else in a hand-edited file stays byte for byte.
 */

/** Offset of the first character of the line holding `offset`. */
export function lineStart(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1;
}

/** Offset just past the newline ending the line holding `offset` (or the end of the text). */
export function lineEnd(text: string, offset: number): number {
  const nl = text.indexOf('\n', offset);
  return nl === -1 ? text.length : nl + 1;
}

/**
 * End of a node's lines: past the newline of the line holding the last non-blank character
 * in `[start, end)`. Trailing comments on that line are included.
 */
export function spanEnd(text: string, start: number, end: number): number {
  let last = Math.min(end, text.length) - 1;
  while (last > start && /\s/.test(text[last] ?? '')) last--;
  return lineEnd(text, Math.max(last, start));
}

/** Whether the line holding `offset` has only spaces before `offset`. */
export function onlySpacesBefore(text: string, offset: number): boolean {
  return /^ *$/.test(text.slice(lineStart(text, offset), offset));
}

export function isBlankLine(text: string, offset: number): boolean {
  if (offset >= text.length) return false;
  return /^[ \t]*\r?$/.test(text.slice(offset, lineEnd(text, offset)).replace(/\n$/, ''));
}

/** Offset of the line before the one starting at `offset`, or -1 on the first line. */
export function previousLineStart(text: string, offset: number): number {
  return offset === 0 ? -1 : lineStart(text, offset - 1);
}

/** Indents every non-empty line by `by` spaces (or removes `-by` leading spaces). */
export function shiftLines(block: string, by: number): string {
  if (by === 0) return block;
  return block
    .split('\n')
    .map((line) => {
      if (line === '' || line === '\r') return line;
      if (by > 0) return ' '.repeat(by) + line;
      const remove = Math.min(-by, /^ */.exec(line)?.[0].length ?? 0);
      return line.slice(remove);
    })
    .join('\n');
}

/**
 * Like shiftLines but leaves the first line alone: for text spliced in after a key that
 * already sits at the right column.
 */
export function shiftFollowingLines(block: string, by: number): string {
  const nl = block.indexOf('\n');
  if (nl === -1) return block;
  return block.slice(0, nl + 1) + shiftLines(block.slice(nl + 1), by);
}

export function splice(text: string, start: number, end: number, insert: string): string {
  return text.slice(0, start) + insert + text.slice(end);
}

/** The line ending a file uses (`\r\n` when it has any). */
export function lineEnding(text: string): '\n' | '\r\n' {
  return text.includes('\r\n') ? '\r\n' : '\n';
}

export function toLineEnding(text: string, eol: '\n' | '\r\n'): string {
  const lf = text.replace(/\r\n/g, '\n');
  return eol === '\n' ? lf : lf.replace(/\n/g, '\r\n');
}

/** Makes sure `text` is empty or ends with a line break, so more lines can follow. */
export function endWithNewline(text: string, eol: string): string {
  return text === '' || text.endsWith('\n') ? text : text + eol;
}
