import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import type { MessageRef } from '../chat/publisher.js';
import type { Logger } from '../core/logger.js';
import { writeDurably } from './outbox.js';
import { parseStored } from './records.js';
import { moveAside } from './state-files.js';
import type { GroupState, RoutedDestination } from './types.js';

/** What one destination has been shown of one group: the thread is told the difference. */
export interface DestinationView {
  dest: RoutedDestination;
  /** The group's own root, or the roll-up it was listed in. */
  ref?: MessageRef;
  rollupId?: string;
  /** Alert fingerprint → the status the destination last saw (a record without prototype). */
  shown: Record<string, 'firing' | 'resolved'>;
  shownStatus?: 'firing' | 'resolved';
  shownRefires: number;
  /** Fingerprint of the last root rendering, to skip edits that change nothing. */
  rootKey?: string;
  /** Lines still to post in the thread (silence, ack, …). */
  notes: string[];
  dirty: boolean;
  /** Set when delivery failed; retried later. */
  lastError?: string;
}

export interface StoredGroup {
  state: GroupState;
  views: Record<string, DestinationView>;
  updatedAt: string;
}

export interface Rollup {
  id: string;
  dest: RoutedDestination;
  ref?: MessageRef;
  groupKeys: string[];
  rootKey?: string;
  dirty: boolean;
  /**
   * The roll-up is posted but its thread does not list the alerts yet: its groups are not shown
   * until it does (their views are not marked), and the worker posts the list first.
   */
  detailsPending?: boolean;
}

/** `index.json`: what is not one group's (small). */
interface IndexFile {
  version: 2;
  nextRef: number;
  rollups: Record<string, Rollup>;
}

/** The single file of versions before 2 (`groups.json`), migrated at start. */
interface LegacyFile {
  version: 1;
  nextRef: number;
  groups: Record<string, StoredGroup>;
  rollups: Record<string, Rollup>;
}

/** Resolved groups are forgotten after this long (their messages stay in chat). */
const KEEP_RESOLVED_MS = 7 * 24 * 3600 * 1000;
const GROUP_FILE = /^[0-9a-f]{32}\.json$/;

/** The file of one group: named by a hash of its groupKey (any string, any length). */
export const groupFileName = (groupKey: string) =>
  `${createHash('sha256').update(groupKey).digest('hex').slice(0, 32)}.json`;

const isGroup = (g: unknown): g is StoredGroup => {
  const x = g as StoredGroup | undefined;
  return (
    typeof x?.state?.groupKey === 'string' &&
    typeof x.state.ref === 'string' &&
    Array.isArray(x.state.alerts) &&
    typeof x.views === 'object' &&
    x.views !== null
  );
};

/**
 * The alert groups the bot has shown, and where. One file per group in `<dir>/groups/`
 * (a hash of the groupKey), plus `<dir>/index.json` (next ref, roll-ups); each written
 * durably (temp file, fsync, rename) when it changed, so a notification costs a write of
 * its own group, not of all of them. A file that cannot be read at start is moved aside
 * (`<file>.corrupt-<time>`) with a warning; the bot starts without it. A `groups.json` of an
 * earlier version is migrated by the first `save()`.
 */
export class AlertStore {
  private readonly byKey = new Map<string, StoredGroup>();
  private readonly rollupsById = new Map<string, Rollup>();
  private nextRef = 1;
  private readonly changed = new Set<string>();
  private readonly deleted = new Set<string>();
  private indexChanged = false;
  private legacy?: string;
  private writing: Promise<void> = Promise.resolve();
  private queued?: Promise<void>;
  /** Groups the last write could not write, and why. */
  private failed = new Map<string, Error>();
  private readonly groupsDir: string;
  private readonly indexFile: string;

  constructor(
    dir: string,
    private readonly log: Logger,
  ) {
    this.groupsDir = path.join(dir, 'groups');
    this.indexFile = path.join(dir, 'index.json');
    mkdirSync(this.groupsDir, { recursive: true });
    const legacy = path.join(dir, 'groups.json');
    const index = this.read(this.indexFile) as IndexFile | undefined;
    if (index) {
      this.nextRef = Number(index.nextRef) || 1;
      for (const r of Object.values(index.rollups ?? {})) this.rollupsById.set(r.id, r);
    }
    for (const f of readdirSync(this.groupsDir).filter((n) => GROUP_FILE.test(n))) {
      const file = path.join(this.groupsDir, f);
      const g = this.read(file);
      if (isGroup(g)) this.byKey.set(g.state.groupKey, g);
      else if (g !== undefined) this.aside(file, 'not an alert group');
    }
    if (existsSync(legacy)) {
      // With an index the migration finished (the old file is removed by the next save);
      // without one it did not start or was cut short: do it (again).
      if (index) this.legacy = legacy;
      else this.migrate(legacy);
    }
    // Never hand out a ref twice, even when the index was lost.
    for (const g of this.byKey.values()) {
      const n = Number(/^A-(\d+)$/.exec(g.state.ref)?.[1] ?? 0);
      if (n >= this.nextRef) this.nextRef = n + 1;
    }
  }

  newRef(): string {
    this.indexChanged = true;
    return `A-${this.nextRef++}`;
  }

  group(groupKey: string): StoredGroup | undefined {
    return this.byKey.get(groupKey);
  }

  byRef(ref: string): StoredGroup | undefined {
    const wanted = ref.toUpperCase();
    for (const g of this.byKey.values()) if (g.state.ref === wanted) return g;
    return undefined;
  }

  groups(): StoredGroup[] {
    return [...this.byKey.values()];
  }

  /** Adds or replaces a group; written by the next `save()`. */
  setGroup(group: StoredGroup): void {
    this.byKey.set(group.state.groupKey, group);
    this.changed.add(group.state.groupKey);
  }

  /** Puts a group back as it was before a `setGroup` whose write failed. */
  revert(groupKey: string, previous: StoredGroup | undefined): void {
    if (previous) this.byKey.set(groupKey, previous);
    else this.byKey.delete(groupKey);
    this.changed.delete(groupKey);
    this.failed.delete(groupKey);
  }

  rollup(id: string): Rollup | undefined {
    return this.rollupsById.get(id);
  }

  rollups(): Rollup[] {
    return [...this.rollupsById.values()];
  }

  setRollup(rollup: Rollup): void {
    this.rollupsById.set(rollup.id, rollup);
    this.indexChanged = true;
  }

  /** Drops groups resolved long ago (and roll-ups nobody refers to any more). */
  prune(now: Date): void {
    for (const [key, g] of this.byKey) {
      const resolved = g.state.status === 'resolved' && g.state.resolvedAt;
      const idle = !Object.values(g.views).some((v) => v.dirty);
      if (resolved && idle && now.getTime() - Date.parse(g.state.resolvedAt!) > KEEP_RESOLVED_MS) {
        this.byKey.delete(key);
        this.changed.delete(key);
        this.deleted.add(key);
      }
    }
    const live = new Set<string | undefined>();
    for (const g of this.byKey.values())
      for (const v of Object.values(g.views)) live.add(v.rollupId);
    for (const id of this.rollupsById.keys())
      if (!live.has(id)) {
        this.rollupsById.delete(id);
        this.indexChanged = true;
      }
  }

  /**
   * Persists what changed: the given groups and roll-ups (mutated in place by the caller),
   * groups added with `setGroup`, and the index when refs or roll-ups changed. Calls made
   * while a write is running coalesce into one more write. Rejects when one of the given
   * groups could not be written (it is tried again by the next save); a group that cannot be
   * written never keeps the others from being written.
   */
  async save(...touched: (StoredGroup | Rollup)[]): Promise<void> {
    const keys: string[] = [];
    for (const t of touched) {
      if ('state' in t) {
        this.changed.add(t.state.groupKey);
        keys.push(t.state.groupKey);
      } else this.indexChanged = true;
    }
    await this.schedule();
    for (const k of keys) {
      const err = this.failed.get(k);
      if (err) throw err;
    }
  }

  private schedule(): Promise<void> {
    if (this.queued) return this.queued;
    const next = this.writing.then(() => {
      this.queued = undefined;
      return this.flush();
    });
    this.queued = next;
    this.writing = next.catch(() => {});
    return next;
  }

  private async flush(): Promise<void> {
    const keys = [...this.changed];
    const deleted = [...this.deleted];
    const index = this.indexChanged || this.legacy !== undefined;
    this.changed.clear();
    this.deleted.clear();
    this.indexChanged = false;
    this.failed = new Map();
    for (const key of keys) {
      const g = this.byKey.get(key);
      if (!g) continue;
      try {
        await writeDurably(path.join(this.groupsDir, groupFileName(key)), JSON.stringify(g));
      } catch (err) {
        this.failed.set(key, err as Error);
        this.changed.add(key); // tried again by the next save
      }
    }
    for (const key of deleted)
      await unlink(path.join(this.groupsDir, groupFileName(key))).catch(ignoreMissing);
    if (!index) return;
    const data: IndexFile = {
      version: 2,
      nextRef: this.nextRef,
      rollups: Object.fromEntries(this.rollupsById),
    };
    try {
      await writeDurably(this.indexFile, JSON.stringify(data));
    } catch (err) {
      this.indexChanged = true;
      throw err;
    }
    if (this.legacy && this.failed.size === 0) {
      await unlink(this.legacy).catch(ignoreMissing);
      this.log.info({ file: this.legacy }, 'alert state migrated to one file per group');
      this.legacy = undefined;
    }
  }

  private migrate(file: string): void {
    const data = this.read(file) as LegacyFile | undefined;
    if (!data) return;
    this.nextRef = Number(data.nextRef) || 1;
    for (const g of Object.values(data.groups ?? {})) {
      if (!isGroup(g)) continue;
      this.byKey.set(g.state.groupKey, g);
      this.changed.add(g.state.groupKey);
    }
    for (const r of Object.values(data.rollups ?? {})) this.rollupsById.set(r.id, r);
    this.indexChanged = true;
    this.legacy = file;
  }

  /** A stored JSON file; undefined when absent, or unreadable (then moved aside). */
  private read(file: string): unknown {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      this.aside(file, (err as Error).message);
      return undefined;
    }
    try {
      return parseStored(text);
    } catch (err) {
      this.aside(file, (err as Error).message);
      return undefined;
    }
  }

  private aside(file: string, reason: string): void {
    moveAside(file, reason, this.log, 'alert state file');
  }
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}
