import { UserError } from '../core/errors.js';
import type { LocatedTask, TaskFiles } from './task-files.js';
import {
  checkDescription,
  checkNode,
  checkPhase,
  checkPriority,
  checkTags,
  checkTitle,
  type NewTask,
  type Requester,
  type TaskEdits,
} from './task-input.js';
import { DEFAULT_PRIORITY, formatTaskId, TaskSchema, taskIdNumber } from './task-schema.js';
import { cleanTaskRecord } from './yaml-render.js';

/**
 * The logical changes (add, start, done, drop, edit) applied to a set of task files. Each
 * checks the request, edits the files in memory and describes itself for the commit
 * message; the store commits and pushes. Running one again on a newer checkout is how a
 * change is rebuilt after the remote moved.
 */

export type ChangeVerb = 'add' | 'start' | 'done' | 'edit' | 'drop';

export interface Change {
  verb: ChangeVerb;
  id: string;
  title: string;
  node?: string;
  /** edit: the fields that changed. */
  fields?: string[];
}

/** `T-0042`, `t-42`, `42`, `#42` → `T-0042`; undefined when it is not an id at all. */
export function normalizeTaskId(input: string): string | undefined {
  const m = /^\s*(?:#|T-?)?0*(\d{1,9})\s*$/i.exec(input);
  return m ? formatTaskId(Number(m[1])) : undefined;
}

export function resolveTask(files: TaskFiles, input: string): LocatedTask {
  const id = normalizeTaskId(input);
  if (!id) throw new UserError(`"${input}" is not a task id.`, 'Task ids look like T-0042.');
  const found =
    files.find(id) ?? files.all().find((t) => taskIdNumber(t.task.id) === taskIdNumber(id));
  if (found) return found;
  const close = closeIds(
    id,
    files.all().map((t) => t.task.id),
  );
  const suggestion = close.length > 0 ? ` Did you mean ${orList(close)}?` : '';
  throw new UserError(`No task ${id}.${suggestion}`, '/task list shows the open tasks.');
}

/** Up to 3 ids near `id`: by edit distance, then by number. */
export function closeIds(id: string, ids: readonly string[], max = 3): string[] {
  const n = taskIdNumber(id) ?? 0;
  return ids
    .map((o) => ({ o, d: editDistance(id, o), nd: Math.abs((taskIdNumber(o) ?? 0) - n) }))
    .filter((s) => s.d <= 2 || s.nd <= 2)
    .sort((a, b) => a.d - b.d || a.nd - b.nd || a.o.localeCompare(b.o))
    .slice(0, max)
    .map((s) => s.o);
}

function orList(items: string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j]!;
      row[j] = Math.min(up + 1, row[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length]!;
}

function checked(raw: Record<string, unknown>): Record<string, unknown> {
  const r = TaskSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new UserError(`Invalid ${issue.path.join('.') || 'task'}: ${issue.message}`);
  }
  return raw;
}

export function addTask(files: TaskFiles, input: NewTask, who: Requester, now: string): Change {
  const raw = cleanTaskRecord({
    id: files.nextId(),
    title: checkTitle(input.title),
    description: input.description === undefined ? undefined : checkDescription(input.description),
    priority: input.priority === undefined ? DEFAULT_PRIORITY : checkPriority(input.priority),
    phase: input.phase === undefined ? undefined : checkPhase(input.phase),
    tags: checkTags(input.tags ?? []),
    node: input.node === undefined || input.node === '' ? undefined : checkNode(input.node),
    created: now,
    created_by: {
      platform: who.platform,
      user_id: who.userId,
      display_name: who.displayName || who.userId,
    },
    source: who.source || undefined,
  });
  files.add(checked(raw), files.backlogFile);
  return describe('add', raw);
}

function describe(verb: ChangeVerb, raw: Record<string, unknown>, fields?: string[]): Change {
  const change: Change = { verb, id: String(raw.id), title: String(raw.title) };
  if (typeof raw.node === 'string') change.node = raw.node;
  if (fields) change.fields = fields;
  return change;
}

function when(ts: string | undefined): string {
  return ts ? ` (${ts.slice(0, 10)})` : '';
}

export function startTask(files: TaskFiles, input: string, now: string): Change {
  const t = resolveTask(files, input);
  if (t.status === 'in-progress') {
    throw new UserError(`${t.task.id} is already in progress${when(t.task.started)}.`);
  }
  if (t.status === 'done')
    throw new UserError(`${t.task.id} is already done${when(t.task.completed)}.`);
  files.move(t.task.id, files.inProgressFile, { started: now });
  return describe('start', t.raw);
}

export function finishTask(files: TaskFiles, input: string, now: string): Change {
  const t = resolveTask(files, input);
  if (t.status === 'done')
    throw new UserError(`${t.task.id} is already done${when(t.task.completed)}.`);
  files.move(t.task.id, files.completedFile(now), { completed: now });
  return describe('done', t.raw);
}

export function dropTask(files: TaskFiles, input: string): Change {
  const t = resolveTask(files, input);
  if (t.status === 'done') {
    throw new UserError(
      `${t.task.id} is done; completed tasks stay in ${t.file} as history and cannot be dropped.`,
    );
  }
  files.remove(t.task.id);
  return describe('drop', t.raw);
}

export function editTask(files: TaskFiles, input: string, edits: TaskEdits): Change {
  const t = resolveTask(files, input);
  const wanted: Record<string, unknown> = {};
  const optional = (v: unknown, check: (v: unknown) => unknown) =>
    v === null || v === '' ? undefined : check(v);
  if (edits.title !== undefined) wanted.title = checkTitle(edits.title);
  if (edits.description !== undefined)
    wanted.description = optional(edits.description, checkDescription);
  if (edits.priority !== undefined) wanted.priority = checkPriority(edits.priority);
  if (edits.phase !== undefined) wanted.phase = optional(edits.phase, checkPhase);
  if (edits.tags !== undefined) wanted.tags = checkTags(edits.tags);
  if (edits.node !== undefined) wanted.node = optional(edits.node, checkNode);
  if (Object.keys(wanted).length === 0) {
    throw new UserError(
      'Nothing to change.',
      'Give at least one of title, description, priority, phase, tags, node.',
    );
  }
  const changes: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(wanted)) {
    if (JSON.stringify(t.raw[k]) !== JSON.stringify(v)) changes[k] = v;
  }
  if (Object.keys(changes).length === 0) {
    throw new UserError(`${t.task.id} already has those values; nothing to change.`);
  }
  const updated = cleanTaskRecord({ ...t.raw, ...changes });
  checked(updated);
  files.update(t.task.id, changes);
  return describe('edit', updated, Object.keys(changes));
}
