import { UserError } from '../core/errors.js';
import { own } from './records.js';

/**
 * Alertmanager label matchers, as in its config and amtool: `severity="critical"`,
 * `severity=~"critical|warning"`, `namespace!="kube-system"`, `team!~"ops.*"`, unquoted
 * values (`severity=critical`), several in braces (`{a="b", c=~"d.*"}`) or as a list of
 * strings. Quoted values take the escapes `\"`, `\\` and `\n`; any other backslash is kept
 * as is (so `"ops\.lab"` is the regex `ops\.lab`), like Alertmanager's classic parser.
 */

export type MatchOp = '=' | '!=' | '=~' | '!~';

export interface Matcher {
  name: string;
  op: MatchOp;
  value: string;
  /** For `=~`/`!~`: the value, fully anchored (`^(?:value)$`) like Alertmanager. */
  re?: RegExp;
}

/** A matcher that cannot be parsed; the message names it and says why. Safe to show. */
export class MatcherError extends UserError {}

const MATCHER = /^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|!~|!=|=)\s*([\s\S]*?)\s*$/;
const NAME_START = /^\s*([^=!~\s]*)/;

/** One matcher: `name op value`. Throws `MatcherError`. */
export function parseMatcher(text: string): Matcher {
  const m = MATCHER.exec(text);
  if (!m) {
    const name = NAME_START.exec(text)?.[1] ?? '';
    const why =
      name && !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)
        ? `"${name}" is not a label name (letters, digits, _ and :, not starting with a digit)`
        : 'expected name, one of = != =~ !~, and a value, like severity="critical"';
    throw new MatcherError(`bad matcher ${quote(text)}: ${why}`);
  }
  const [, name, op, raw] = m as unknown as [string, string, MatchOp, string];
  let value: string;
  try {
    value = unquote(raw);
  } catch (err) {
    throw new MatcherError(`bad matcher ${quote(text)}: ${(err as Error).message}`);
  }
  if (op === '=' || op === '!=') return { name, op, value };
  return { name, op, value, re: compile(value, text) };
}

/**
 * `{a="b", c=~"d"}` or `a="b", c=~"d"` or a list of such strings (each may hold several,
 * as in Alertmanager's `matchers:`). Commas inside quotes do not split. Throws `MatcherError`.
 */
export function parseMatchers(input: string | readonly string[]): Matcher[] {
  if (typeof input !== 'string') return input.flatMap((s) => parseMatchers(s));
  let s = input.trim();
  if (s.startsWith('{') || s.endsWith('}')) {
    if (!(s.startsWith('{') && s.endsWith('}'))) {
      throw new MatcherError(`bad matchers ${quote(input)}: unbalanced braces`);
    }
    s = s.slice(1, -1);
  }
  const tokens = splitOutsideQuotes(s);
  if (tokens.length > 0 && tokens[tokens.length - 1]!.trim() === '') tokens.pop();
  return tokens.map((t, i) => {
    if (t.trim() === '') {
      throw new MatcherError(`bad matchers ${quote(input)}: matcher ${i + 1} is empty`);
    }
    return parseMatcher(t);
  });
}

/** True when every matcher matches. A missing label counts as the empty string. */
export function matches(matchers: readonly Matcher[], labels: Record<string, string>): boolean {
  return matchers.every((m) => {
    const v = own(labels, m.name) ?? '';
    if (m.op === '=') return v === m.value;
    if (m.op === '!=') return v !== m.value;
    return m.re!.test(v) === (m.op === '=~');
  });
}

/** `name="value"` with Alertmanager's escapes: the inverse of `parseMatcher`. */
export function formatMatcher(m: Pick<Matcher, 'name' | 'op' | 'value'>): string {
  const escaped = m.value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  return `${m.name}${m.op}"${escaped}"`;
}

/** `{a="b",c="d"}`: the equality matchers selecting exactly these label values. */
export function formatLabelSet(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([name, value]) =>
    formatMatcher({ name, op: '=', value }),
  );
  return `{${parts.join(',')}}`;
}

function quote(s: string): string {
  return `'${s.trim()}'`;
}

function splitOutsideQuotes(s: string): string[] {
  const tokens: string[] = [];
  let current = '';
  let inQuotes = false;
  let escaped = false;
  for (const ch of s) {
    if (escaped) escaped = false;
    else if (ch === '\\') escaped = true;
    else if (ch === '"') inQuotes = !inQuotes;
    else if (ch === ',' && !inQuotes) {
      tokens.push(current);
      current = '';
      continue;
    }
    current += ch;
  }
  tokens.push(current);
  return tokens;
}

function unquote(raw: string): string {
  const quoted = raw.startsWith('"');
  if (quoted && (raw.length < 2 || !raw.endsWith('"') || !closingQuoteUnescaped(raw))) {
    throw new Error('missing closing quote');
  }
  const body = quoted ? raw.slice(1, -1) : raw;
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (ch === '\\' && i < body.length - 1) {
      const next = body[++i]!;
      if (next === 'n') out += '\n';
      else if (next === '"' || next === '\\') out += next;
      else out += `\\${next}`;
    } else if (ch === '"') {
      throw new Error(
        quoted ? 'unescaped " inside the value (write \\")' : 'a value with " must be quoted',
      );
    } else out += ch;
  }
  return out;
}

/** The last `"` closes the value unless an odd number of backslashes escapes it. */
function closingQuoteUnescaped(raw: string): boolean {
  let n = 0;
  for (let i = raw.length - 2; i >= 0 && raw[i] === '\\'; i--) n++;
  return n % 2 === 0;
}

/**
 * Go's RE2 and JS regexes agree on the usual syntax; a leading `(?i)`/`(?s)` (RE2 flags,
 * common in Alertmanager configs) becomes the JS flag.
 */
function compile(value: string, text: string): RegExp {
  const flags = /^\(\?([is]+)\)/.exec(value);
  const body = flags ? value.slice(flags[0].length) : value;
  try {
    return new RegExp(`^(?:${body})$`, [...new Set(flags?.[1] ?? '')].join(''));
  } catch (err) {
    const why = (err as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /, '');
    throw new MatcherError(`bad matcher ${quote(text)}: invalid regular expression: ${why}`);
  }
}
