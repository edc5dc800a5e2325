/**
 * Label sets, annotation sets and other maps keyed by data (group keys, fingerprints, label
 * names) are plain objects on the wire and on disk. A key like `constructor`, `toString` or
 * `__proto__` must be data like any other:
 * - records are built with `Object.fromEntries` (or JSON.parse), which define own properties
 *   (`obj[key] = v` or Object.assign onto a plain object would set the prototype for
 *   `__proto__`);
 * - a key that comes from data is read with `own` (never an inherited member: `labels.toString`
 *   of a label set without a `toString` label is a function);
 * - maps with many such keys are `Map`s.
 * (Objects without a prototype would do too, but V8 keeps them in dictionary mode: twice the
 * memory for the hundreds of thousands of label sets a large state holds.)
 */

/** The record's own value for `key`; never something inherited from Object.prototype. */
export function own<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** A small record without a prototype (to add data keys to one by one). */
export function emptyRecord<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/** A record of these entries, every key an own property (`__proto__` included). */
export function recordOf<T>(entries: Iterable<readonly [string, T]>): Record<string, T> {
  return Object.fromEntries(entries) as Record<string, T>;
}

/** A stored JSON file. JSON.parse defines own properties: `{"__proto__": …}` stays data. */
export function parseStored(text: string): unknown {
  return JSON.parse(text);
}
