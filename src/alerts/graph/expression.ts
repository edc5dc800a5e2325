/**
 * What a graph of an alert shows, read from its `generatorURL`. Prometheus links each alert to
 * `<external-url>/graph?g0.expr=<the rule's expression>&g0.tab=1` (rules/alerting.go,
 * `strutil.TableLinkForExpression`). A rule like `node_load1 > 4` fires for the series above 4:
 * the graph shows the left-hand side and draws 4 as the threshold. Pure.
 */

export interface Threshold {
  op: '>' | '>=' | '<' | '<=' | '==' | '!=';
  value: number;
}

export interface GraphQuery {
  /** What to query: the rule's expression without its comparison with a constant. */
  expr: string;
  threshold?: Threshold;
}

/** The rule's expression from a generatorURL, or undefined when there is none. */
export function exprFromGeneratorURL(generatorURL: string): string | undefined {
  if (!generatorURL) return undefined;
  let url: URL;
  try {
    url = new URL(generatorURL);
  } catch {
    return undefined;
  }
  const expr = url.searchParams.get('g0.expr')?.trim();
  return expr ? expr : undefined;
}

interface Token {
  at: number;
  end: number;
  text: string;
}

const COMPARISONS = ['>=', '<=', '==', '!=', '>', '<'] as const;
const SET_OPS = new Set(['and', 'or', 'unless']);

/**
 * Top-level operators of an expression (outside parentheses, braces, brackets and strings):
 * comparisons and the set operators `and`/`or`/`unless`.
 */
function topLevelOperators(expr: string): Token[] {
  const out: Token[] = [];
  let depth = 0;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i]!;
    if (c === '"' || c === "'" || c === '`') {
      const close = c;
      for (i++; i < expr.length && expr[i] !== close; i++) if (expr[i] === '\\') i++;
      continue;
    }
    if (c === '#') {
      while (i < expr.length && expr[i] !== '\n') i++;
      continue;
    }
    if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c)) depth--;
    if (depth !== 0) continue;
    const op = COMPARISONS.find((o) => expr.startsWith(o, i));
    if (op && !(op === '!=' && expr[i + 2] === '~') && expr[i + 1] !== '~') {
      out.push({ at: i, end: i + op.length, text: op });
      i += op.length - 1;
      continue;
    }
    const word = /^[a-z]+/.exec(expr.slice(i))?.[0];
    if (word && (i === 0 || !/[\w:]/.test(expr[i - 1]!))) {
      const after = expr[i + word.length];
      if (SET_OPS.has(word) && (after === undefined || /[\s(]/.test(after)))
        out.push({ at: i, end: i + word.length, text: word });
      i += word.length - 1;
    }
  }
  return out;
}

/** `bool`, `on(…)`, `ignoring(…)`, `group_left(…)` after a binary operator. */
function stripModifiers(rhs: string): string {
  let s = rhs.trim();
  for (;;) {
    const m = /^(bool|on|ignoring|group_left|group_right)\b\s*(\([^)]*\))?\s*/.exec(s);
    if (!m) return s;
    s = s.slice(m[0].length);
  }
}

function numberLiteral(s: string): number | undefined {
  const t = s
    .trim()
    .replace(/^\((.*)\)$/s, '$1')
    .trim();
  if (!/^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(t)) return undefined;
  return Number(t);
}

const FLIP: Record<Threshold['op'], Threshold['op']> = {
  '>': '<',
  '<': '>',
  '>=': '<=',
  '<=': '>=',
  '==': '==',
  '!=': '!=',
};

/**
 * The expression to graph and the threshold it compares with: `node_load1 > 4` → `node_load1`
 * and `> 4`; `80 < x` → `x` and `> 80`; `a > 0.9 and b` → `a`, `> 0.9` (the first operand of a
 * top-level `and`/`unless`). Anything else is graphed as it is, without a threshold.
 */
export function graphQuery(expr: string): GraphQuery {
  const ops = topLevelOperators(expr);
  const firstSet = ops.find((o) => SET_OPS.has(o.text));
  if (firstSet?.text === 'or') return { expr: expr.trim() };
  const head = firstSet ? expr.slice(0, firstSet.at) : expr;
  const comparisons = ops.filter((o) => !SET_OPS.has(o.text) && (!firstSet || o.at < firstSet.at));
  if (comparisons.length !== 1) return { expr: (firstSet ? head : expr).trim() };
  const op = comparisons[0]!;
  const lhs = head.slice(0, op.at).trim();
  const rhs = stripModifiers(head.slice(op.end));
  const kind = op.text as Threshold['op'];
  const right = numberLiteral(rhs);
  if (right !== undefined && lhs) return { expr: lhs, threshold: { op: kind, value: right } };
  const left = numberLiteral(lhs);
  if (left !== undefined && rhs) return { expr: rhs, threshold: { op: FLIP[kind], value: left } };
  return { expr: head.trim() };
}
