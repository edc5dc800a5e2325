import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, stringify } from 'yaml';
import type { z } from 'zod';
import { redactUrlsDeep } from '../core/redact.js';
import { didYouMean } from '../core/suggest.js';
import { DEMO_CONFIG } from './demo.js';
import { type Config, ConfigSchema } from './schema.js';
import { applySecretEnv, redactSecrets, resolveSecretFiles } from './secrets.js';

export interface ConfigProblem {
  path: string;
  message: string;
  line?: number;
}

/** Start-up stops on this; `format()` is what the user sees, without a stack trace. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly source: string,
    readonly problems: ConfigProblem[],
  ) {
    super(`invalid configuration (${source})`);
  }

  format(): string {
    const lines = this.problems.map(
      (p) => `  ${p.line ? `line ${p.line}: ` : ''}${p.path ? `${p.path}: ` : ''}${p.message}`,
    );
    return [
      `Invalid configuration in ${this.source}:`,
      ...lines,
      'Fix the above and start again (docs/configuration.md has every key; --print-config shows the effective config).',
    ].join('\n');
  }
}

export interface LoadOptions {
  /** `--config FILE`; falls back to `CHATOPS_CONFIG`, then the built-in demo. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface LoadedConfig {
  config: Config;
  /** The file it came from, or `built-in demo`. */
  source: string;
  demo: boolean;
}

type Obj = Record<string, unknown>;

export function formatPath(p: readonly PropertyKey[]): string {
  return p
    .map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i === 0 ? '' : '.'}${String(k)}`))
    .join('');
}

function readYaml(file: string): {
  raw: Obj;
  lineOf: (p: (string | number)[]) => number | undefined;
} {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'the file does not exist' : `cannot read it (${code})`;
    throw new ConfigError(file, [
      {
        path: '',
        message: `${why}. Check the path, or start without --config/CHATOPS_CONFIG for the demo.`,
      },
    ]);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({
        path: '',
        line: lineCounter.linePos(e.pos[0]).line,
        message: `not valid YAML: ${e.message.split('\n')[0]}`,
      })),
    );
  }
  let raw: unknown;
  try {
    // The yaml library refuses alias expansion beyond maxAliasCount ("billion laughs").
    raw = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (err) {
    throw new ConfigError(file, [
      {
        path: '',
        message: `cannot be read: ${(err as Error).message}. Write the values out instead of using YAML aliases (*name).`,
      },
    ]);
  }
  const cycle = findCycle(raw);
  if (cycle) {
    throw new ConfigError(file, [
      {
        path: formatPath(cycle),
        message:
          'refers to itself through a YAML alias (a cycle). Write the value out instead of using *name inside its own &name.',
      },
    ]);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(file, [
      { path: '', message: 'expected a YAML mapping at the top level' },
    ]);
  }
  /** The line of the deepest existing key on `p` (the key, not its value). */
  const lineOf = (p: (string | number)[]): number | undefined => {
    let line: number | undefined;
    let node: unknown = doc.contents;
    for (const k of p) {
      if (isMap(node)) {
        const pair = node.items.find((i) => isScalar(i.key) && i.key.value === k);
        if (!pair) break;
        const at = (pair.key as { range?: [number, number, number] }).range?.[0];
        if (at !== undefined) line = lineCounter.linePos(at).line;
        node = pair.value;
      } else if (isSeq(node) && typeof k === 'number' && node.items[k]) {
        node = node.items[k];
        const at = (node as { range?: [number, number, number] }).range?.[0];
        if (at !== undefined) line = lineCounter.linePos(at).line;
      } else break;
    }
    return line;
  };
  return { raw: raw as Obj, lineOf };
}

/** The path of the first value that contains itself (a YAML alias cycle), if any. */
function findCycle(value: unknown): (string | number)[] | undefined {
  const onPath = new Set<object>();
  const walk = (v: unknown, at: (string | number)[]): (string | number)[] | undefined => {
    if (typeof v !== 'object' || v === null) return undefined;
    if (onPath.has(v)) return at;
    onPath.add(v);
    const entries: [string | number, unknown][] = Array.isArray(v)
      ? v.map((x, i) => [i, x])
      : Object.entries(v);
    for (const [k, child] of entries) {
      const found = walk(child, [...at, k]);
      if (found) return found;
    }
    onPath.delete(v);
    return undefined;
  };
  return walk(value, []);
}

/** Known keys of the object schema at `path`, for "did you mean" on unknown keys. */
function knownKeys(schema: z.ZodType, p: readonly PropertyKey[]): string[] {
  // biome-ignore lint/suspicious/noExplicitAny: walking zod's internal definition
  let def: any = (schema as any)._zod.def;
  const unwrap = () => {
    while (def && ['optional', 'default', 'prefault', 'nullable', 'pipe'].includes(def.type)) {
      def = (def.innerType ?? def.in)._zod.def;
    }
  };
  unwrap();
  for (const k of p) {
    if (def?.type === 'object') def = def.shape[k as string]?._zod.def;
    else if (def?.type === 'array') def = def.element._zod.def;
    else if (def?.type === 'record') def = def.valueType._zod.def;
    else return [];
    unwrap();
  }
  return def?.type === 'object' ? Object.keys(def.shape) : [];
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined
        ? `required (expected ${issue.expected})`
        : `expected ${issue.expected}, got ${JSON.stringify(issue.input)}`;
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${JSON.stringify(issue.input)}`;
    case 'invalid_key':
      // A record key that failed its own schema: say why, not just "Invalid key".
      return issue.issues.map(describeIssue).join('; ') || issue.message;
    default:
      return issue.message;
  }
}

function toProblems(
  issues: readonly z.core.$ZodIssue[],
  lineOf: (p: (string | number)[]) => number | undefined,
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of issues) {
    const p = issue.path as (string | number)[];
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeys(ConfigSchema, p);
      for (const key of issue.keys) {
        problems.push({
          path: formatPath([...p, key]),
          line: lineOf([...p, key]),
          message: `unknown key.${didYouMean(key, known)} Known keys here: ${known.join(', ')}.`,
        });
      }
    } else {
      problems.push({ path: formatPath(p), line: lineOf(p), message: describeIssue(issue) });
    }
  }
  return problems;
}

function applyEnv(raw: Obj, env: NodeJS.ProcessEnv, problems: ConfigProblem[]): void {
  const section = (k: string): Obj => {
    if (typeof raw[k] !== 'object' || raw[k] === null) raw[k] = {};
    return raw[k] as Obj;
  };
  if (env.CHATOPS_STATE_DIR) section('state').dir = env.CHATOPS_STATE_DIR;
  if (env.CHATOPS_HTTP_HOST) section('http').host = env.CHATOPS_HTTP_HOST;
  if (env.CHATOPS_HTTP_PORT) {
    const port = Number(env.CHATOPS_HTTP_PORT);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      problems.push({
        path: 'CHATOPS_HTTP_PORT',
        message: `expected a port number 0-65535, got "${env.CHATOPS_HTTP_PORT}"`,
      });
    } else section('http').port = port;
  }
  if (env.CHATOPS_LOG_LEVEL) section('log').level = env.CHATOPS_LOG_LEVEL;
  // The downward API in the Deployment (deploy/): where the bot's own pod runs.
  if (env.POD_NAME) section('self').pod = env.POD_NAME;
  if (env.POD_NAMESPACE) section('self').namespace = env.POD_NAMESPACE;
  if (env.NODE_NAME) section('self').node = env.NODE_NAME;
}

/** defaults → YAML file (or the demo) → env, validated. Throws `ConfigError`. */
export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const env = opts.env ?? {};
  const fileArg = opts.file ?? env.CHATOPS_CONFIG;
  const source = fileArg ? path.resolve(opts.cwd ?? '.', fileArg) : 'built-in demo';
  const { raw, lineOf } = fileArg
    ? readYaml(source)
    : { raw: structuredClone(DEMO_CONFIG) as Obj, lineOf: () => undefined };

  const problems: ConfigProblem[] = [];
  for (const p of resolveSecretFiles(raw)) {
    problems.push({ path: formatPath(p.path), line: lineOf(p.path), message: p.message });
  }
  const envProblems: { path: (string | number)[]; message: string }[] = [];
  applySecretEnv(raw, env, envProblems);
  for (const p of envProblems) problems.push({ path: formatPath(p.path), message: p.message });
  applyEnv(raw, env, problems);

  const parsed = ConfigSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) problems.push(...toProblems(parsed.error.issues, lineOf));
  if (problems.length > 0 || !parsed.success) throw new ConfigError(source, problems);
  return { config: parsed.data, source, demo: !fileArg };
}

/** The effective config as YAML, secrets redacted: `--print-config`. */
export function printConfig(config: Config): string {
  return stringify(redactUrlsDeep(redactSecrets(config)));
}
