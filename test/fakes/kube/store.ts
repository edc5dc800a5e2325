/**
 * The fake API server's object store: every object of every resource, one global
 * resourceVersion counter (like etcd's revision), the history of changes that watches replay
 * from, and listeners (watch streams, the simulated controllers).
 */
import { randomUUID } from 'node:crypto';
import type { LonghornResource } from './longhorn/objects.js';

/** Timers captured at import, so a test's vi.useFakeTimers() does not freeze the fake. */
export const realSetTimeout = globalThis.setTimeout;
export const realClearTimeout = globalThis.clearTimeout;

export interface KMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: {
    apiVersion: string;
    kind: string;
    name: string;
    uid: string;
    controller?: boolean;
  }[];
  [key: string]: unknown;
}

/** A Kubernetes object as JSON: what is stored, served and patched. */
export interface KObject {
  apiVersion: string;
  kind: string;
  metadata: KMeta;
  [key: string]: unknown;
}

export type Resource =
  | 'nodes'
  | 'namespaces'
  | 'pods'
  | 'applications'
  /** Longhorn's (longhorn.io) volumes, replicas, … — `lh-` keeps them apart from core nodes. */
  | LonghornResource;
export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  resource: Resource;
  type: EventType;
  /** The object after the change (for DELETED: its last state, with the deletion's version). */
  object: KObject;
  /** The object before the change (MODIFIED, DELETED). */
  previous?: KObject;
  rv: number;
}

export const clone = <T>(v: T): T => structuredClone(v);

const key = (namespace: string | undefined, name: string) => `${namespace ?? ''}/${name}`;

export class ObjectStore {
  private rv = 1;
  private readonly objects = new Map<Resource, Map<string, KObject>>();
  private history: StoreEvent[] = [];
  /** Versions at or below this are gone from the history: a watch from them gets 410. */
  private compactedAt = 0;
  private readonly listeners = new Set<(ev: StoreEvent) => void>();

  get resourceVersion(): string {
    return String(this.rv);
  }

  get(resource: Resource, namespace: string | undefined, name: string): KObject | undefined {
    const obj = this.objects.get(resource)?.get(key(namespace, name));
    return obj && clone(obj);
  }

  /** Objects of a resource (in one namespace when given), sorted by namespace and name. */
  list(resource: Resource, namespace?: string): KObject[] {
    return [...(this.objects.get(resource)?.values() ?? [])]
      .filter((o) => namespace === undefined || o.metadata.namespace === namespace)
      .sort((a, b) =>
        key(a.metadata.namespace, a.metadata.name).localeCompare(
          key(b.metadata.namespace, b.metadata.name),
        ),
      )
      .map(clone);
  }

  create(resource: Resource, obj: KObject): KObject {
    const stored = clone(obj);
    stored.metadata.uid ??= randomUUID();
    stored.metadata.creationTimestamp ??= new Date().toISOString();
    return this.write(resource, 'ADDED', stored, undefined);
  }

  /**
   * Replaces an object. Returns it unchanged (same resourceVersion, no event) when nothing
   * differs, like the real API server does for a no-op patch.
   */
  update(resource: Resource, obj: KObject): KObject {
    const previous = this.get(resource, obj.metadata.namespace, obj.metadata.name);
    if (!previous) throw new Error(`update of missing ${resource} ${obj.metadata.name}`);
    const next = clone(obj);
    next.metadata.resourceVersion = previous.metadata.resourceVersion;
    if (JSON.stringify(next) === JSON.stringify(previous)) return previous;
    return this.write(resource, 'MODIFIED', next, previous);
  }

  /** Read, change, write back; `change` may return `false` for "nothing to do". */
  mutate(
    resource: Resource,
    namespace: string | undefined,
    name: string,
    change: (obj: KObject) => unknown,
  ): KObject | undefined {
    const obj = this.get(resource, namespace, name);
    if (!obj) return undefined;
    if (change(obj) === false) return obj;
    return this.update(resource, obj);
  }

  delete(resource: Resource, namespace: string | undefined, name: string): KObject | undefined {
    const previous = this.get(resource, namespace, name);
    if (!previous) return undefined;
    this.objects.get(resource)?.delete(key(namespace, name));
    this.rv += 1;
    const object = clone(previous);
    object.metadata.resourceVersion = String(this.rv);
    this.emit({ resource, type: 'DELETED', object, previous, rv: this.rv });
    return object;
  }

  /**
   * Changes after `rv` (for a watch that resumes), or 'expired' when the history no longer
   * reaches back that far.
   */
  since(resource: Resource, rv: number): StoreEvent[] | 'expired' {
    if (rv < this.compactedAt) return 'expired';
    return this.history.filter((e) => e.resource === resource && e.rv > rv);
  }

  /** Forget the history, like etcd compaction: resuming from an older version gets 410 Gone. */
  compact(): void {
    this.history = [];
    this.compactedAt = this.rv;
  }

  subscribe(listener: (ev: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private write(
    resource: Resource,
    type: EventType,
    obj: KObject,
    previous: KObject | undefined,
  ): KObject {
    this.rv += 1;
    obj.metadata.resourceVersion = String(this.rv);
    let byKey = this.objects.get(resource);
    if (!byKey) {
      byKey = new Map();
      this.objects.set(resource, byKey);
    }
    byKey.set(key(obj.metadata.namespace, obj.metadata.name), clone(obj));
    this.emit({ resource, type, object: clone(obj), previous, rv: this.rv });
    return obj;
  }

  private emit(ev: StoreEvent): void {
    this.history.push(ev);
    for (const l of [...this.listeners]) l(ev);
  }
}
