import { mkdirSync, readdirSync } from 'node:fs';
import { readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { writeDurably } from '../core/state-file.js';
import { parseStored } from './records.js';

export { writeDurably };

/**
 * Accepted webhook notifications waiting to be applied, one file each, in arrival order.
 * `put` returns only once the entry is on disk, so a 2xx to Alertmanager means the
 * notification survives a crash; entries are removed once their effects are persisted.
 * Entries found at construction were left by a previous run (`leftover`): they come before
 * anything put since.
 */
export class Outbox<T> {
  private seq = 0;
  private readonly left: string[];

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    // Continue the sequence after what is already waiting (after a restart).
    for (const f of readdirSync(dir)) {
      const n = Number.parseInt(f, 10);
      if (Number.isFinite(n) && n >= this.seq) this.seq = n + 1;
    }
    this.left = this.ids();
  }

  /** Stores a value durably; its id and the size of its file. */
  async put(value: T): Promise<{ id: string; bytes: number }> {
    const id = String(this.seq++).padStart(12, '0');
    const text = JSON.stringify(value);
    await writeDurably(this.file(id), text);
    return { id, bytes: text.length };
  }

  /** Ids of the entries a previous run left, oldest first. */
  leftover(): string[] {
    return [...this.left];
  }

  /** An entry as stored, parsed (objects without prototype). Throws when unreadable. */
  async read(id: string): Promise<unknown> {
    return parseStored(await readFile(this.file(id), 'utf8'));
  }

  async remove(id: string): Promise<void> {
    await unlink(this.file(id)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  file(id: string): string {
    return path.join(this.dir, `${id}.json`);
  }

  size(): number {
    return this.ids().length;
  }

  private ids(): string[] {
    return readdirSync(this.dir)
      .filter((f) => /^\d{12}\.json$/.test(f))
      .sort()
      .map((f) => f.slice(0, -5));
  }
}
