import { UserError } from './errors.js';

/** One word of a text command. `name` is set for `name:value` / `name=value` words. */
export interface Token {
  value: string;
  name?: string;
}

const NAMED = /^([a-z_][a-z0-9_]*)[:=]/i;

/**
 * Splits a command line into words, Discord-style: `title:"Replace SD card"` is one named
 * word, `"two words"` one positional word. Double quotes allow `\"`, `\\` and `\n`; single
 * quotes are literal. A name only counts when it is written unquoted before the `:` or `=`.
 */
export function tokenize(line: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = line.length;
  while (i < n) {
    while (i < n && /\s/.test(line[i]!)) i++;
    if (i >= n) break;
    const start = i;
    let value = '';
    let name: string | undefined;
    let sawQuote = false;
    // An unquoted `name:` / `name=` prefix (not `http://`).
    const m = NAMED.exec(line.slice(i));
    if (m && !line.startsWith('//', i + m[0].length)) {
      name = m[1]!.toLowerCase();
      i += m[0].length;
    }
    while (i < n && !/\s/.test(line[i]!)) {
      const ch = line[i]!;
      if (ch === '"' || ch === "'" || ch === '“' || ch === '”') {
        const close = ch === '“' ? '”' : ch;
        const quoteAt = i;
        i++;
        sawQuote = true;
        let closed = false;
        while (i < n) {
          const c = line[i]!;
          if (c === close || (ch === '"' && c === '”')) {
            closed = true;
            i++;
            break;
          }
          if (c === '\\' && ch !== "'" && i + 1 < n) {
            const next = line[i + 1]!;
            value += next === 'n' ? '\n' : next;
            i += 2;
            continue;
          }
          value += c;
          i++;
        }
        if (!closed) {
          throw new UserError(
            `Unclosed quote ${ch} at column ${quoteAt + 1}.`,
            `Close it, or escape a literal quote inside double quotes as \\". Example: title:"Replace SD card"`,
          );
        }
        continue;
      }
      value += ch;
      i++;
    }
    if (name !== undefined && value === '' && !sawQuote) {
      throw new UserError(
        `Option ${name} has no value (column ${start + 1}).`,
        `Write ${name}:value, or ${name}:"" for an empty value.`,
      );
    }
    tokens.push(name === undefined ? { value } : { name, value });
  }
  return tokens;
}
