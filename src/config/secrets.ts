import { readFileSync } from 'node:fs';
import { SECRET_KEYS } from './schema.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface SecretProblem {
  path: (string | number)[];
  message: string;
}

function readSecretFile(file: string): string {
  return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
}

/**
 * Replaces every `<secret>File: /path` (tokenFile, passwordFile, …) with the file's content
 * under `<secret>`, in place. Kubernetes Secrets and SOPS-decrypted files work this way.
 */
export function resolveSecretFiles(
  value: unknown,
  path: (string | number)[] = [],
  problems: SecretProblem[] = [],
): SecretProblem[] {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      resolveSecretFiles(v, [...path, i], problems);
    });
  } else if (isObj(value)) {
    for (const key of SECRET_KEYS) {
      const fileKey = `${key}File`;
      const file = value[fileKey];
      if (file === undefined) continue;
      delete value[fileKey];
      if (typeof file !== 'string') {
        problems.push({ path: [...path, fileKey], message: 'expected a file path' });
        continue;
      }
      try {
        value[key] = readSecretFile(file);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'error';
        problems.push({ path: [...path, fileKey], message: `cannot read ${file} (${code})` });
      }
    }
    for (const [k, v] of Object.entries(value)) resolveSecretFiles(v, [...path, k], problems);
  }
  return problems;
}

/** Env variables that fill a secret (directly or `<NAME>_FILE`), applied when the section exists. */
export const SECRET_ENV: readonly { env: string; path: readonly string[] }[] = [
  { env: 'CHATOPS_DISCORD_TOKEN', path: ['chat', 'discord', 'token'] },
  { env: 'CHATOPS_MATRIX_TOKEN', path: ['chat', 'matrix', 'accessToken'] },
  { env: 'CHATOPS_ALERT_TOKEN', path: ['alerts', 'webhook', 'token'] },
];

export function applySecretEnv(raw: Obj, env: NodeJS.ProcessEnv, problems: SecretProblem[]): void {
  for (const { env: name, path } of SECRET_ENV) {
    // Applies when the top-level section exists (chat.discord, alerts …); creates what is below it.
    let parent: unknown = raw;
    for (const [i, k] of path.slice(0, -1).entries()) {
      if (!isObj(parent)) break;
      if (parent[k] === undefined && i >= (path[0] === 'chat' ? 2 : 1)) parent[k] = {};
      parent = parent[k];
    }
    if (!isObj(parent)) continue;
    const key = path[path.length - 1]!;
    if (env[name]) parent[key] = env[name];
    else if (env[`${name}_FILE`]) {
      try {
        parent[key] = readSecretFile(env[`${name}_FILE`]!);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'error';
        problems.push({
          path: [`${name}_FILE`],
          message: `cannot read ${env[`${name}_FILE`]} (${code})`,
        });
      }
    }
  }
}

/** A deep copy with every secret value replaced by `[redacted]`. */
export function redactSecrets<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v)) as T;
  if (!isObj(value)) return value;
  const out: Obj = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] =
      (SECRET_KEYS as readonly string[]).includes(k) && v !== undefined
        ? '[redacted]'
        : redactSecrets(v);
  }
  return out as T;
}
