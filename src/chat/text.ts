/** Cuts `text` to at most `max` characters (code points), marking the cut with `…`. */
export function truncate(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

/**
 * Splits text into chunks of at most `max` characters, preferring line breaks; a single
 * over-long line is cut hard. Nothing is dropped: joining the chunks with '\n' gives back
 * the text, except where a line had to be cut.
 */
export function splitText(text: string, max: number): string[] {
  const chunks: string[] = [];
  let current = '';
  for (const line of text.split('\n')) {
    const pieces =
      line.length <= max ? [line] : (line.match(new RegExp(`[\\s\\S]{1,${max}}`, 'g')) ?? ['']);
    for (const piece of pieces) {
      if (current === '') current = piece;
      else if (current.length + 1 + piece.length <= max) current += `\n${piece}`;
      else {
        chunks.push(current);
        current = piece;
      }
    }
  }
  if (current !== '' || chunks.length === 0) chunks.push(current);
  return chunks;
}

/** `[####......] 2/5` */
export function progressBar(done: number, total: number, width = 10): string {
  const filled = total > 0 ? Math.min(width, Math.round((done / total) * width)) : 0;
  return `${'▰'.repeat(filled)}${'▱'.repeat(width - filled)} ${done}/${total}`;
}
