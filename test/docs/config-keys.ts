/**
 * Every key a config file may set, read from the zod 4 schema itself (`schema._zod.def`):
 * objects by their `shape`; optional/default/prefault/nullable/readonly/catch/pipe unwrapped;
 * array elements as `[]` (`inventory.nodes[].host`); records of objects as `<name>`
 * (`access.roles.<name>.allow`); records and arrays of plain values are one key. A key whose
 * name is a secret (`token`, `password`, …) also has its `<key>File` form (src/config/secrets.ts).
 */
import type { z } from 'zod';
import { SECRET_KEYS } from '../../src/config/schema.js';

// biome-ignore lint/suspicious/noExplicitAny: walking zod's internal definition
type Def = any;

export interface ConfigKey {
  /** `alerts.prometheus.url`, `inventory.nodes[].host`, `chat.discord.tokenFile`. */
  path: string;
  /** The schema's own default for this key, when it has one (`.default(…)`). */
  default?: unknown;
  /** A `<key>File` form: not in the schema, resolved before validation. */
  secretFile?: boolean;
}

const WRAPPERS = ['optional', 'nullable', 'readonly', 'catch', 'nonoptional'];

function defOf(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/** The definition under the wrappers, and the outermost `.default(…)` value (the one that applies). */
function unwrap(def: Def): { def: Def; default?: unknown; hasDefault: boolean } {
  let dflt: unknown;
  let hasDefault = false;
  for (;;) {
    if (def.type === 'default') {
      if (!hasDefault) dflt = def.defaultValue;
      hasDefault = true;
      def = defOf(def.innerType);
    } else if (def.type === 'prefault' || WRAPPERS.includes(def.type)) {
      def = defOf(def.innerType);
    } else if (def.type === 'pipe') {
      def = defOf(def.in);
    } else {
      return { def, default: dflt, hasDefault };
    }
  }
}

/** Does the value schema hold keys of its own (an object, or a union of objects)? */
function hasKeys(def: Def): boolean {
  const inner = unwrap(def).def;
  if (inner.type === 'object') return true;
  if (inner.type === 'union') return inner.options.some((o: z.ZodType) => hasKeys(defOf(o)));
  if (inner.type === 'array' || inner.type === 'record')
    return hasKeys(defOf(inner.type === 'array' ? inner.element : inner.valueType));
  return false;
}

export function configKeys(schema: z.ZodType): ConfigKey[] {
  const out = new Map<string, ConfigKey>();
  const walk = (raw: Def, path: string, name: string) => {
    const { def, default: dflt, hasDefault } = unwrap(raw);
    if (def.type === 'object') {
      for (const [k, child] of Object.entries(def.shape as Record<string, z.ZodType>)) {
        walk(defOf(child), path ? `${path}.${k}` : k, k);
      }
    } else if (def.type === 'union') {
      for (const option of def.options as z.ZodType[]) walk(defOf(option), path, name);
    } else if (def.type === 'array' && hasKeys(defOf(def.element))) {
      walk(defOf(def.element), `${path}[]`, name);
    } else if (def.type === 'record' && hasKeys(defOf(def.valueType))) {
      walk(defOf(def.valueType), `${path}.<name>`, name);
    } else {
      out.set(path, hasDefault ? { path, default: dflt } : { path });
      if ((SECRET_KEYS as readonly string[]).includes(name)) {
        out.set(`${path}File`, { path: `${path}File`, secretFile: true });
      }
    }
  };
  walk(defOf(schema), '', '');
  return [...out.values()];
}
