import { open } from 'node:fs/promises';

export interface DeadLetter {
  /** The outbox entry's id; for a post, `<destination> <what>`. */
  id: string;
  groupKey?: string;
  reason: string;
  /** For a post: where it was to go (`discord:<channel>`) and what it was (`A-3 update`). */
  destination?: string;
  what?: string;
  /** The notification as it was stored, or the post as it was refused (without its picture). */
  payload: unknown;
}

/**
 * Notifications that could not be applied, and alert posts no chat would take (a locked thread,
 * a post no smaller form of which was accepted), one JSON line each (with when and why), appended
 * and fsync'ed: out of the way so they block nothing, kept for a person to look at (or to post
 * again to the webhook once the cause is fixed).
 */
export class DeadLetterFile {
  constructor(readonly file: string) {}

  async add(letter: DeadLetter): Promise<void> {
    const handle = await open(this.file, 'a+', 0o600);
    try {
      // A line cut short by a crash must not swallow the next one.
      const { size } = await handle.stat();
      let sep = '';
      if (size > 0) {
        const last = Buffer.alloc(1);
        await handle.read(last, 0, 1, size - 1);
        if (last[0] !== 0x0a) sep = '\n';
      }
      const line = JSON.stringify({ at: new Date().toISOString(), ...letter });
      await handle.appendFile(`${sep}${line}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}
