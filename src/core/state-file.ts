import { existsSync, readFileSync, renameSync } from 'node:fs';
import type { Logger } from './logger.js';

/**
 * A state file that no longer parses (a disk full mid-write, a hand edit) is moved aside to
 * `<file>.corrupt-<time>` with a warning naming both paths, so the bot starts with a fresh
 * one instead of failing on every start. Returns where it went, if it was moved.
 */
export function setAsideIfCorruptJson(
  file: string,
  log: Logger,
  now = new Date(),
): string | undefined {
  if (!existsSync(file)) return undefined;
  try {
    JSON.parse(readFileSync(file, 'utf8'));
    return undefined;
  } catch (err) {
    const aside = `${file}.corrupt-${now.toISOString().replace(/[:.]/g, '-')}`;
    renameSync(file, aside);
    log.warn(
      { file, movedTo: aside, err: (err as Error).message },
      'state file is corrupt; moved aside, starting with a fresh one',
    );
    return aside;
  }
}
