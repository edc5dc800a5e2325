/**
 * Label sets, annotation sets and other maps keyed by data (group keys, fingerprints, label
 * names) are plain objects on the wire and on disk. A key like `constructor`, `toString` or
 * `__proto__` must be data like any other: records are built without a prototype, read with
 * `own` (never an inherited member), and stored files are parsed back into such records.
 */

/** The record's own value for `key`; never something inherited from Object.prototype. */
export function own<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** A record without a prototype: `__proto__` and `constructor` are ordinary keys in it. */
export function emptyRecord<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

export function recordOf<T>(entries: Iterable<readonly [string, T]>): Record<string, T> {
  const out = emptyRecord<T>();
  for (const [k, v] of entries) out[k] = v;
  return out;
}

/** JSON.parse whose objects have no prototype (so a stored `{"__proto__": …}` stays data). */
export function parseStored(text: string): unknown {
  return JSON.parse(text, (_key, value: unknown) =>
    value !== null && typeof value === 'object' && !Array.isArray(value)
      ? Object.assign(emptyRecord(), value)
      : value,
  );
}
