import { open } from 'node:fs/promises';

export interface DeadLetter {
  /** The outbox entry's id. */
  id: string;
  groupKey?: string;
  reason: string;
  /** The notification as it was stored. */
  payload: unknown;
}

/**
 * Notifications that could not be applied, one JSON line each (with when and why), appended
 * and fsync'ed: out of the outbox so they block nothing, kept for a person to look at (or to
 * post again to the webhook once the cause is fixed).
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
