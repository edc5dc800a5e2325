import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync } from 'node:fs';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

/** Writes a file durably: temp file, fsync, rename, fsync of the directory. */
export async function writeDurably(file: string, data: string): Promise<void> {
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
  const dir = await open(path.dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

export interface OutboxEntry<T> {
  id: string;
  value: T;
}

/**
 * Accepted webhook notifications waiting to be applied, one file each, in arrival order.
 * `put` returns only once the entry is on disk, so a 2xx to Alertmanager means the
 * notification survives a crash; entries are removed once their effects are persisted.
 */
export class Outbox<T> {
  private seq = 0;

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    // Continue the sequence after what is already waiting (after a restart).
    for (const f of readdirSync(dir)) {
      const n = Number.parseInt(f, 10);
      if (Number.isFinite(n) && n >= this.seq) this.seq = n + 1;
    }
  }

  async put(value: T): Promise<string> {
    const id = String(this.seq++).padStart(12, '0');
    await writeDurably(path.join(this.dir, `${id}.json`), JSON.stringify(value));
    return id;
  }

  /** Waiting entries, oldest first. An unreadable entry is skipped and reported through `onBad`. */
  async pending(onBad: (id: string, err: unknown) => void): Promise<OutboxEntry<T>[]> {
    const ids = readdirSync(this.dir)
      .filter((f) => /^\d{12}\.json$/.test(f))
      .sort()
      .map((f) => f.slice(0, -5));
    const entries: OutboxEntry<T>[] = [];
    for (const id of ids) {
      try {
        entries.push({
          id,
          value: JSON.parse(await readFile(path.join(this.dir, `${id}.json`), 'utf8')) as T,
        });
      } catch (err) {
        onBad(id, err);
      }
    }
    return entries;
  }

  async remove(id: string): Promise<void> {
    await unlink(path.join(this.dir, `${id}.json`)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  size(): number {
    return readdirSync(this.dir).filter((f) => /^\d{12}\.json$/.test(f)).length;
  }
}
