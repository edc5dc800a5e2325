import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from './logger.js';

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

/**
 * Keeps an unreadable state file for inspection (`<file>.corrupt-<ms since epoch>`) and says
 * so in one warning that names it: the bot starts without it rather than not at all.
 */
export function moveAside(file: string, reason: string, log: Logger, what: string): string {
  const movedTo = `${file}.corrupt-${Date.now()}`;
  try {
    renameSync(file, movedTo);
  } catch (err) {
    log.warn(
      { file, reason, renameError: (err as Error).message },
      `${what} ${file} is unreadable and could not be moved aside; ignored`,
    );
    return file;
  }
  log.warn(
    { file, movedTo, reason },
    `${what} ${file} is unreadable (${reason}); moved to ${movedTo}`,
  );
  return movedTo;
}

/** A JSON state file that no longer parses is moved aside (see `moveAside`); where it went, if it was. */
export function setAsideIfCorruptJson(
  file: string,
  log: Logger,
  what = 'state file',
): string | undefined {
  if (!existsSync(file)) return undefined;
  try {
    JSON.parse(readFileSync(file, 'utf8'));
    return undefined;
  } catch (err) {
    return moveAside(file, (err as Error).message, log, what);
  }
}
