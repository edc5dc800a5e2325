/**
 * docs/configuration.md's reference describes every key of the config schema exactly once:
 * the keys come from the zod schema itself (config-keys.ts), the rows from the tables under
 * "## Reference" (`| key | default | env | what it does |`). A new key without a row, a row
 * left behind by a removed key, a default that changed, or an environment variable of the
 * loader missing from its row fails here, naming it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { SECRET_ENV } from '../../src/config/secrets.js';
import { configKeys } from './config-keys.js';
import { withoutCode } from './markdown.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DOC = 'docs/configuration.md';
const HEADER = ['key', 'default', 'env', 'what it does'];

interface Row {
  key: string;
  default: string;
  env: string;
  line: number;
}

/** The rows of the reference's tables; a row not in the expected form is a problem. */
function referenceRows(markdown: string): { rows: Row[]; problems: string[] } {
  const rows: Row[] = [];
  const problems: string[] = [];
  const lines = withoutCode(markdown).split('\n');
  const start = lines.findIndex((l) => /^## Reference\s*$/.test(l));
  if (start < 0) return { rows, problems: ['no "## Reference" section'] };
  const end = lines.findIndex((l, i) => i > start && /^## /.test(l));
  for (let i = start + 1; i < (end < 0 ? lines.length : end); i++) {
    const line = lines[i]!;
    if (!line.startsWith('|')) continue;
    const cells = line
      .replace(/^\||\|\s*$/g, '')
      .split(/(?<!\\)\|/)
      .map((c) => c.trim());
    if (cells.every((c) => /^:?-+:?$/.test(c))) continue;
    if (cells[0] === 'key') {
      if (cells.join('|') !== HEADER.join('|'))
        problems.push(`line ${i + 1}: header should be | ${HEADER.join(' | ')} |`);
      continue;
    }
    const key = /^`([^`]+)`$/.exec(cells[0] ?? '')?.[1];
    if (cells.length !== HEADER.length || key === undefined) {
      problems.push(`line ${i + 1}: expected | \`key\` | default | env | what it does |`);
      continue;
    }
    rows.push({ key, default: cells[1]!, env: cells[2]!, line: i + 1 });
  }
  return { rows, problems };
}

/** How a schema default is written in the default column: `info`, `9095`, `[]`. */
function formatDefault(value: unknown): string {
  return `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``;
}

type Obj = Record<string, unknown>;

/** Every scalar of a parsed config under its dotted path (objects only; arrays are left out). */
function scalars(value: unknown, at = ''): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (typeof value !== 'object' || value === null) out.set(at, value);
  else if (!Array.isArray(value))
    for (const [k, v] of Object.entries(value as Obj))
      for (const [p, x] of scalars(v, at ? `${at}.${k}` : k)) out.set(p, x);
  return out;
}

/**
 * The variables load.ts copies into the config (`CHATOPS_STATE_DIR` → `state.dir`, …): each
 * name it reads is given to the real loader, and the key whose value changes is the one it sets.
 */
function loaderEnv(): { env: string; key: string }[] {
  const source = readFileSync(path.join(ROOT, 'src/config/load.ts'), 'utf8');
  const names = new Set([...source.matchAll(/\benv\.([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]!));
  names.delete('CHATOPS_CONFIG'); // the file itself
  const before = scalars(loadConfig({ env: {} }).config);
  return [...names].map((env) => {
    for (const value of ['1234', 'debug', 'set-by-env']) {
      let after: Map<string, unknown>;
      try {
        after = scalars(loadConfig({ env: { [env]: value } }).config);
      } catch {
        continue; // not a value this variable takes
      }
      const changed = [...after].filter(([p, v]) => before.get(p) !== v).map(([p]) => p);
      if (changed.length === 1) return { env, key: changed[0]! };
    }
    return { env, key: `(${env} sets no key the loader shows)` };
  });
}

const keys = configKeys(ConfigSchema);
const { rows, problems } = referenceRows(readFileSync(path.join(ROOT, DOC), 'utf8'));
const rowsOf = (key: string) => rows.filter((r) => r.key === key);

describe(`${DOC}: the configuration reference`, () => {
  it('reads the schema: nested keys, array elements, records of objects, secret files', () => {
    const paths = keys.map((k) => k.path);
    for (const p of [
      'state.dir',
      'inventory.nodes[].host',
      'inventory.nodes[].ansibleVars',
      'access.roles.<name>.allow',
      'alerts.routes[].to[].matrix',
      'alerts.prometheus.url',
      'chat.discord.tokenFile',
      'pihole.instances[].passwordFile',
      'nodeOps.k3s.tokenFile',
    ])
      expect(paths).toContain(p);
    expect(paths).not.toContain('alerts.webhook'); // a section, not a key
    expect(keys.find((k) => k.path === 'http.port')?.default).toBe(9095);
    expect(keys.length).toBeGreaterThan(100);
  });

  it('has tables in the expected form', () => {
    expect(problems).toEqual([]);
    expect(rows.length).toBeGreaterThan(0);
  });

  it('describes every key of the schema', () => {
    const missing = keys.filter((k) => rowsOf(k.path).length === 0).map((k) => k.path);
    expect(missing, `keys missing from ${DOC}`).toEqual([]);
  });

  it('describes each key once', () => {
    const lines = (key: string) => rowsOf(key).map((r) => r.line);
    const twice = [...new Set(rows.map((r) => r.key))]
      .filter((k) => lines(k).length > 1)
      .map((k) => `${k} (lines ${lines(k).join(', ')})`);
    expect(twice, `keys described more than once in ${DOC}`).toEqual([]);
  });

  it('describes no key the schema does not have', () => {
    const known = new Set(keys.map((k) => k.path));
    const unknown = rows.filter((r) => !known.has(r.key)).map((r) => `${r.key} (line ${r.line})`);
    expect(unknown, `rows for keys the schema does not have in ${DOC}`).toEqual([]);
  });

  it("gives the schema's defaults", () => {
    const wrong = keys
      .filter((k) => 'default' in k)
      .flatMap((k) =>
        rowsOf(k.path)
          .filter((r) => !r.default.includes(formatDefault(k.default)))
          .map((r) => `${k.path}: ${formatDefault(k.default)}, not ${r.default}`),
      );
    expect(wrong, `defaults in ${DOC} that are not the schema's`).toEqual([]);
  });

  it('names the environment variables that set a key', () => {
    const expected = [
      ...loaderEnv(),
      ...SECRET_ENV.flatMap(({ env, path: p }) => [
        { env, key: p.join('.') },
        { env: `${env}_FILE`, key: `${p.join('.')}File` },
      ]),
    ];
    expect(expected).toEqual(
      expect.arrayContaining([
        { env: 'CHATOPS_HTTP_PORT', key: 'http.port' },
        { env: 'NODE_NAME', key: 'self.node' },
      ]),
    );
    const missing = expected
      .filter(({ env, key }) => !rowsOf(key).some((r) => r.env.includes(`\`${env}\``)))
      .map(({ env, key }) => `${env} in the env column of ${key}`);
    expect(missing, `environment variables missing from ${DOC}`).toEqual([]);
  });
});
