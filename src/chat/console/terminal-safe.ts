/**
 * Control characters a terminal would act on instead of showing: C0 except newline and tab
 * (ESC starts CSI/OSC sequences: colours, cursor moves, OSC 8 links, OSC 52 clipboard writes;
 * BEL, backspace and a lone CR rewrite what is shown), DEL, C1 (0x80–0x9f, CSI and OSC in
 * one character), and the bidirectional overrides that reorder what is shown.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

function visible(c: string): string {
  const code = c.charCodeAt(0);
  if (c === '\r') return '\\r';
  if (code <= 0xff) return `\\x${code.toString(16).padStart(2, '0')}`;
  return `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * Text from outside (alert labels, node output, task titles) as the terminal should show it:
 * every control character visible as an escape (`\x1b`, `\r`, `\x9b`), so none of it can
 * recolour, move the cursor, overwrite lines, open links or write the clipboard. A CRLF line
 * end is a line end. The console's own sequences are written after this, untouched.
 */
export function terminalSafe(text: string): string {
  return text.replace(/\r\n/g, '\n').replace(CONTROL, visible);
}
