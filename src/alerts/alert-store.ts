import { existsSync, readFileSync, renameSync } from 'node:fs';
import type { MessageRef } from '../chat/publisher.js';
import { writeDurably } from './outbox.js';
import type { GroupState, RoutedDestination } from './types.js';

/** What one destination has been shown of one group: the thread is told the difference. */
export interface DestinationView {
  dest: RoutedDestination;
  /** The group's own root, or the roll-up it was listed in. */
  ref?: MessageRef;
  rollupId?: string;
  /** Alert fingerprint → the status the destination last saw. */
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
}

interface StoreFile {
  version: 1;
  nextRef: number;
  groups: Record<string, StoredGroup>;
  rollups: Record<string, Rollup>;
}

/** Resolved groups are forgotten after this long (their messages stay in chat). */
const KEEP_RESOLVED_MS = 7 * 24 * 3600 * 1000;

/**
 * The alert groups the bot has shown, and where: one JSON file in the state dir, written
 * durably after every change so a restart neither loses nor repeats a post.
 */
export class AlertStore {
  private data: StoreFile = { version: 1, nextRef: 1, groups: {}, rollups: {} };
  private writing: Promise<void> = Promise.resolve();
  private pendingWrite = false;

  constructor(private readonly file: string) {
    if (existsSync(file)) {
      try {
        this.data = JSON.parse(readFileSync(file, 'utf8')) as StoreFile;
      } catch (err) {
        // Keep the unreadable file for inspection; start empty rather than not at all.
        renameSync(file, `${file}.corrupt-${Date.now()}`);
        throw new Error(
          `alert state ${file} was unreadable and was moved aside: ${(err as Error).message}`,
        );
      }
    }
  }

  newRef(): string {
    return `A-${this.data.nextRef++}`;
  }

  group(groupKey: string): StoredGroup | undefined {
    return this.data.groups[groupKey];
  }

  byRef(ref: string): StoredGroup | undefined {
    const wanted = ref.toUpperCase();
    return Object.values(this.data.groups).find((g) => g.state.ref === wanted);
  }

  groups(): StoredGroup[] {
    return Object.values(this.data.groups);
  }

  setGroup(group: StoredGroup): void {
    this.data.groups[group.state.groupKey] = group;
  }

  rollup(id: string): Rollup | undefined {
    return this.data.rollups[id];
  }

  rollups(): Rollup[] {
    return Object.values(this.data.rollups);
  }

  setRollup(rollup: Rollup): void {
    this.data.rollups[rollup.id] = rollup;
  }

  /** Drops groups resolved long ago (and roll-ups nobody refers to any more). */
  prune(now: Date): void {
    for (const [key, g] of Object.entries(this.data.groups)) {
      const resolved = g.state.status === 'resolved' && g.state.resolvedAt;
      const idle = !Object.values(g.views).some((v) => v.dirty);
      if (resolved && idle && now.getTime() - Date.parse(g.state.resolvedAt!) > KEEP_RESOLVED_MS) {
        delete this.data.groups[key];
      }
    }
    const live = new Set(
      Object.values(this.data.groups).flatMap((g) => Object.values(g.views).map((v) => v.rollupId)),
    );
    for (const id of Object.keys(this.data.rollups))
      if (!live.has(id)) delete this.data.rollups[id];
  }

  /** Persists the current state; concurrent calls coalesce into one more write. */
  save(): Promise<void> {
    if (this.pendingWrite) return this.writing;
    this.pendingWrite = true;
    this.writing = this.writing.then(async () => {
      this.pendingWrite = false;
      await writeDurably(this.file, JSON.stringify(this.data));
    });
    return this.writing;
  }
}
