import { renameSync } from 'node:fs';
import type { Logger } from '../core/logger.js';

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
