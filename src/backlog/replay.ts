import { isDeepStrictEqual } from 'node:util';
import type { TaskFiles } from './task-files.js';
import { taskIdNumber } from './task-schema.js';

/**
 * Re-applying a commit that could not be pushed on top of a newer remote head, from what
 * the commit did to the task files (so it works after a restart, with nothing but Git):
 * a task that appeared is added again (under the next free id when its id was taken
 * meanwhile — it is on the new head, or was once: `takenUpTo`, the highest id in the new
 * head's history), a task that disappeared is removed, a task that moved between files is
 * moved, and changed fields are set. Nothing is duplicated and no other task is touched.
 */

export interface ReplayResult {
  /** Ids given to added tasks whose id was taken on the new head: old → new. */
  renumbered: Map<string, string>;
  /** Parts that no longer apply, e.g. "T-0007 was removed on the remote". */
  skipped: string[];
}

type Raw = Record<string, unknown>;

function fieldChanges(before: Raw, after: Raw): Raw {
  const out: Raw = {};
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (!isDeepStrictEqual(before[k], after[k])) out[k] = after[k];
  }
  return out;
}

/**
 * Applies to `files` (the new head) the difference between `before` and `after` (the task
 * files a commit changed, at its parent and at the commit).
 */
export function replayChange(
  files: TaskFiles,
  before: TaskFiles,
  after: TaskFiles,
  takenUpTo = 0,
): ReplayResult {
  const result: ReplayResult = { renumbered: new Map(), skipped: [] };
  const ids = new Set([...before.all(), ...after.all()].map((t) => t.task.id));
  for (const id of ids) {
    const b = before.find(id);
    const a = after.find(id);
    const cur = files.find(id);
    if (!b && a) {
      const taken = cur !== undefined || (taskIdNumber(id) ?? 0) <= takenUpTo;
      const newId = taken ? files.nextId() : id;
      files.add({ ...a.raw, id: newId }, a.file);
      if (newId !== id) result.renumbered.set(id, newId);
    } else if (b && !a) {
      if (cur) files.remove(id);
      else result.skipped.push(`${id} was already removed on the remote`);
    } else if (b && a) {
      const changes = fieldChanges(b.raw, a.raw);
      if (!cur) {
        result.skipped.push(`${id} was removed on the remote`);
      } else if (b.file !== a.file && cur.file === b.file) {
        files.move(id, a.file, changes);
      } else if (b.file !== a.file && cur.file !== a.file) {
        result.skipped.push(`${id} was moved to ${cur.file} on the remote`);
      } else {
        const still = fieldChanges(cur.raw, { ...cur.raw, ...changes });
        if (Object.keys(still).length > 0) files.update(id, still);
      }
    }
  }
  return result;
}
