import { readdir, readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { UserError } from '../core/errors.js';
import { parseTaskFile, type TaskFile } from './task-file.js';
import { formatTaskId, type Task, type TaskStatus, taskIdNumber } from './task-schema.js';
import {
  appendTask,
  insertTaskText,
  newTaskFileText,
  removeTask,
  updateTask,
} from './yaml-edit.js';

/**
 * The task files of one checkout (or of one commit), as text, with the edits the store
 * makes to them. Paths are repo-relative with `/`: `tasks/backlog.yaml`,
 * `tasks/completed/2025-01.yaml`. Nothing here touches the disk except `read`.
 */

export interface LocatedTask {
  readonly task: Task;
  /** The item as written (no defaults filled in). */
  readonly raw: Record<string, unknown>;
  readonly status: TaskStatus;
  readonly file: string;
  readonly line: number;
}

const HEADERS = {
  backlog:
    'Backlog: tasks nobody has started yet, oldest first.\n' +
    'Written by the ChatOps bot (/task add) and by hand; each entry follows schema.yaml.',
  inProgress:
    'Tasks someone is working on. /task start moves a task here from backlog.yaml,\n' +
    '/task done moves it on to completed/YYYY-MM.yaml.',
  completed: (month: string) =>
    `Tasks completed in ${month}; /task done moves them here from in-progress.yaml.\n` +
    'Each entry follows ../schema.yaml.',
};

export class TaskFiles {
  private readonly texts: Map<string, string | null>;
  private readonly original: ReadonlyMap<string, string | null>;
  private readonly dirty = new Set<string>();
  private index: Map<string, LocatedTask> | undefined;

  constructor(
    /** The task directory inside the repo, e.g. `tasks`. */
    readonly root: string,
    texts: Map<string, string | null>,
  ) {
    this.texts = new Map(texts);
    this.original = new Map(texts);
  }

  /** Reads backlog.yaml, in-progress.yaml and completed/*.yaml from a checkout. */
  static async read(workDir: string, root: string): Promise<TaskFiles> {
    const names = [posix.join(root, 'backlog.yaml'), posix.join(root, 'in-progress.yaml')];
    const done = await readdir(join(workDir, root, 'completed')).catch(() => [] as string[]);
    for (const n of done.filter((n) => n.endsWith('.yaml')).sort()) {
      names.push(posix.join(root, 'completed', n));
    }
    const texts = new Map<string, string | null>();
    for (const rel of names) {
      texts.set(rel, await readFile(join(workDir, rel), 'utf8').catch(() => null));
    }
    return new TaskFiles(root, texts);
  }

  get backlogFile(): string {
    return posix.join(this.root, 'backlog.yaml');
  }
  get inProgressFile(): string {
    return posix.join(this.root, 'in-progress.yaml');
  }
  /** `tasks/completed/2025-01.yaml` for a task completed at `at` (ISO timestamp, UTC month). */
  completedFile(at: string): string {
    return posix.join(this.root, 'completed', `${new Date(at).toISOString().slice(0, 7)}.yaml`);
  }

  statusOf(rel: string): TaskStatus | undefined {
    if (rel === this.backlogFile) return 'backlog';
    if (rel === this.inProgressFile) return 'in-progress';
    if (rel.startsWith(posix.join(this.root, 'completed/')) && rel.endsWith('.yaml')) return 'done';
    return undefined;
  }

  text(rel: string): string | null {
    return this.texts.get(rel) ?? null;
  }

  /** Files whose text differs from what was read, with their new text. */
  changed(): Map<string, string> {
    const out = new Map<string, string>();
    for (const rel of this.dirty) {
      const text = this.texts.get(rel) ?? '';
      if (text !== this.original.get(rel)) out.set(rel, text);
    }
    return out;
  }

  /** Every task, in file order: backlog, in progress, then completed months. */
  all(): LocatedTask[] {
    return [...this.tasks().values()];
  }

  find(id: string): LocatedTask | undefined {
    return this.tasks().get(id);
  }

  /**
   * Ids up to this number were taken once (they are in the repo's history), even if no
   * file holds them now; nextId() stays above it. Set by the clone before a change.
   */
  idFloor = 0;

  /** The next id after the highest one in any file and above idFloor: T-0001, T-0002, … */
  nextId(): string {
    let max = this.idFloor;
    for (const id of this.tasks().keys()) max = Math.max(max, taskIdNumber(id) ?? 0);
    return formatTaskId(max + 1);
  }

  add(raw: Record<string, unknown>, rel: string): void {
    this.write(rel, appendTask(this.textOrNew(rel), rel, raw));
  }

  update(id: string, changes: Record<string, unknown>): void {
    const at = this.mustFind(id);
    this.write(at.file, updateTask(this.text(at.file) ?? '', at.file, id, changes));
  }

  remove(id: string): void {
    const at = this.mustFind(id);
    this.write(at.file, removeTask(this.text(at.file) ?? '', at.file, id).text);
  }

  /** Moves a task to another file keeping its lines, then applies `changes` there. */
  move(id: string, to: string, changes: Record<string, unknown>): void {
    const at = this.mustFind(id);
    if (at.file === to) {
      this.update(id, changes);
      return;
    }
    const taken = removeTask(this.text(at.file) ?? '', at.file, id);
    const moved = insertTaskText(this.textOrNew(to), to, taken.itemText, taken.raw);
    this.write(at.file, taken.text);
    this.write(to, Object.keys(changes).length > 0 ? updateTask(moved, to, id, changes) : moved);
  }

  private mustFind(id: string): LocatedTask {
    const at = this.find(id);
    if (!at) throw new UserError(`No task ${id}.`);
    return at;
  }

  private textOrNew(rel: string): string {
    const text = this.text(rel);
    if (text !== null) return text;
    const status = this.statusOf(rel);
    const header =
      status === 'backlog'
        ? HEADERS.backlog
        : status === 'in-progress'
          ? HEADERS.inProgress
          : HEADERS.completed(posix.basename(rel, '.yaml'));
    return newTaskFileText(header);
  }

  private write(rel: string, text: string): void {
    this.texts.set(rel, text);
    this.dirty.add(rel);
    this.index = undefined;
  }

  private tasks(): Map<string, LocatedTask> {
    if (this.index) return this.index;
    const index = new Map<string, LocatedTask>();
    const files: TaskFile[] = [];
    for (const [rel, text] of this.texts) {
      if (text !== null && this.statusOf(rel)) files.push(parseTaskFile(text, rel));
    }
    for (const f of files) {
      const status = this.statusOf(f.file)!;
      for (const item of f.items) {
        const other = index.get(item.id);
        if (other) {
          throw new UserError(
            `${f.file}:${item.line}: task ${item.id} is also in ${other.file}:${other.line}`,
            'Each id may appear once over backlog.yaml, in-progress.yaml and completed/; fix the files in the lab repo.',
          );
        }
        index.set(item.id, {
          task: item.task,
          raw: item.raw,
          status,
          file: f.file,
          line: item.line,
        });
      }
    }
    this.index = index;
    return index;
  }
}
