import { UserError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { prepareClone } from './clone-setup.js';
import { commitMessage } from './commit-message.js';
import { TaskClone } from './task-clone.js';
import type { LocatedTask, TaskFiles } from './task-files.js';
import { checkRequester, type NewTask, type Requester, type TaskEdits } from './task-input.js';
import {
  addTask,
  type Change,
  dropTask,
  editTask,
  finishTask,
  resolveTask,
  startTask,
} from './task-ops.js';
import { Publisher } from './task-publish.js';
import { formatTimestamp, type Task, type TaskStatus, taskIdNumber } from './task-schema.js';

/**
 * The lab's task backlog, kept in Git: `<path>/backlog.yaml`, `<path>/in-progress.yaml`,
 * `<path>/completed/YYYY-MM.yaml` in the repo `repo`, worked on in the bot's own clone.
 *
 *   const store = new TaskStore({ repo, branch: 'main', path: 'tasks', workDir, author, logger });
 *   await store.init();                                   // clone or fetch, push leftovers
 *   await store.add({ title, description?, priority?, phase?, tags?, node? }, who)
 *   await store.start(id, who) / done(id, who) / drop(id, who)      → ChangeResult
 *   await store.edit(id, { title?, description?, priority?, phase?, tags?, node? }, who)
 *                                                          (null removes description/phase/node)
 *   await store.list({ status?, tag?, node? })             → TaskWithStatus[]
 *   await store.show(id)                                   → TaskWithStatus
 *   await store.ids(prefix?, statuses?)                    → ['T-0001', …]  (autocomplete)
 *   await store.pendingPushes()                            → commits not on the remote yet
 *   await store.sync()                                     → push pending / pick up remote changes
 *   await store.close()                                    // stop the timer, wait for work
 *   await ensureSeededBareRepo(bareDir, seedDir, branch, author)   → created? (demo remote)
 *
 * User mistakes (unknown id, invalid move, too long a title, a task file that does not
 * parse or fails the schema — with file:line) reject with UserError; git failures with
 * Error (GitError inside).
 *
 * Ids given to the store may be written `T-0042`, `t-42`, `42` or `#42`.
 *
 * Every change is one commit (`tasks: add T-0042 Replace SD card on pi4-b`, trailer
 * `Requested-by: discord:1234 (alice)`) pushed at once. Changes run one at a time. When the
 * push is rejected because the remote moved, the change is rebuilt on the new head (a new
 * id if its id was taken) and pushed again. When the remote cannot be reached the commit
 * stays in the clone (`pushed: false`) and is pushed by the background timer, the next
 * change or the next init() — rebuilt on the remote's head if that moved meanwhile. Until
 * it is on the remote, an answered change is kept in a ref of its own (pending-refs.ts),
 * so a kill at any moment loses none and pushes none twice.
 *
 * Ids are never given out twice: a new one is above every id in the repo's history
 * (id-history.ts), not only above those in the files now.
 *
 * At start-up, lock files a killed git left are removed (git-locks.ts), and a clone of
 * another remote than `repo` is moved aside with its unpushed commits (clone-setup.ts).
 * Reads answer from the last state the store saw (refreshed after every change and sync).
 */

export { ensureSeededBareRepo } from './seed-repo.js';
export type { NewTask, Requester, TaskEdits } from './task-input.js';
export type { Task, TaskStatus } from './task-schema.js';

export interface TaskStoreOptions {
  /** Remote URL or path of the lab repo (a bare repo). */
  repo: string;
  branch: string;
  /** Task directory inside the repo; default `tasks`. */
  path?: string;
  /** The bot's own clone, e.g. `<stateDir>/tasks-clone`. */
  workDir: string;
  author: { name: string; email: string };
  logger: Logger;
  now?: () => Date;
  /** Background push of unpushed commits and refresh from the remote; 0 = off. Default 60 s. */
  retryPushMs?: number;
  /** Timeout of each git command. Default 30 s. */
  gitTimeoutMs?: number;
  /** Push attempts per change when the remote keeps moving. Default 5. */
  maxPushAttempts?: number;
}

export type TaskWithStatus = Task & { status: TaskStatus; file: string };

export interface TaskFilter {
  status?: TaskStatus;
  tag?: string;
  node?: string;
}

export interface ChangeResult {
  task: Task;
  /** Where the task is now; `dropped` after drop. */
  status: TaskStatus | 'dropped';
  /** Repo-relative file that held the task last: `tasks/in-progress.yaml`. */
  file: string;
  commit: string;
  pushed: boolean;
  /** Set when not pushed: what happened and that it will be pushed later. */
  message?: string;
}

type Apply = (files: TaskFiles, now: string) => Change & { before?: LocatedTask };

export class TaskStore {
  private readonly clone: TaskClone;
  private readonly publisher: Publisher;
  private readonly log: Logger;
  private readonly now: () => Date;
  private queue: Promise<unknown> = Promise.resolve();
  private snapshot: TaskFiles | Error | undefined;
  private timer: NodeJS.Timeout | undefined;
  private syncQueued = false;
  private closed = false;
  /** A failed change's edits could not be undone (e.g. a lock): undo them before the next. */
  private dirty = false;

  constructor(private readonly opts: TaskStoreOptions) {
    this.log = opts.logger.child({ component: 'task-store' });
    this.now = opts.now ?? (() => new Date());
    this.clone = new TaskClone({ ...opts, path: opts.path ?? 'tasks', logger: this.log });
    this.publisher = new Publisher(this.clone, this.log, opts.maxPushAttempts ?? 5);
  }

  init(): Promise<void> {
    return this.enqueue(async () => {
      await prepareClone(this.clone);
      const fetched = await this.clone.fetch();
      await this.clone.ensureBranch();
      if (fetched.ok) {
        await this.publisher.syncWithRemote('start-up');
      } else {
        this.log.warn(
          { detail: fetched.detail },
          'task repo unreachable at start-up; working offline',
        );
        // Put the pending changes back on the branch (a kill may have left it elsewhere).
        await this.publisher
          .rebuild()
          .catch((err: unknown) =>
            this.log.warn({ err }, 'could not rebuild pending task changes'),
          );
      }
      await this.refresh();
      this.startTimer();
    });
  }

  add(input: NewTask, who: Requester): Promise<ChangeResult> {
    return this.change(who, (files, now) => addTask(files, input, who, now));
  }
  start(id: string, who: Requester): Promise<ChangeResult> {
    return this.change(who, (files, now) => withBefore(files, id, () => startTask(files, id, now)));
  }
  done(id: string, who: Requester): Promise<ChangeResult> {
    return this.change(who, (files, now) =>
      withBefore(files, id, () => finishTask(files, id, now)),
    );
  }
  drop(id: string, who: Requester): Promise<ChangeResult> {
    return this.change(who, (files) => withBefore(files, id, () => dropTask(files, id)));
  }
  edit(id: string, changes: TaskEdits, who: Requester): Promise<ChangeResult> {
    return this.change(who, (files) => withBefore(files, id, () => editTask(files, id, changes)));
  }

  async list(filter: TaskFilter = {}): Promise<TaskWithStatus[]> {
    const tag = filter.tag?.toLowerCase();
    const node = filter.node?.toLowerCase();
    return this.current()
      .all()
      .filter((t) => !filter.status || t.status === filter.status)
      .filter((t) => !tag || t.task.tags.some((x) => x.toLowerCase() === tag))
      .filter((t) => !node || t.task.node?.toLowerCase() === node)
      .map(withStatus);
  }

  async show(id: string): Promise<TaskWithStatus> {
    return withStatus(resolveTask(this.current(), id));
  }

  /** Ids starting with `prefix` (`T-00`, `t-1`, or digits of the number), for autocomplete. */
  async ids(prefix = '', statuses?: readonly TaskStatus[]): Promise<string[]> {
    const p = prefix.trim().toLowerCase();
    const digits = /^\d+$/.test(p) ? p.replace(/^0+(?=\d)/, '') : undefined;
    return this.current()
      .all()
      .filter((t) => !statuses || statuses.includes(t.status))
      .map((t) => t.task.id)
      .filter(
        (id) =>
          id.toLowerCase().startsWith(p) ||
          (digits !== undefined && String(taskIdNumber(id)).startsWith(digits)),
      );
  }

  /** Commits made but not on the remote yet (saved while it was unreachable). */
  async pendingPushes(): Promise<number> {
    if (this.snapshot === undefined) throw new Error('TaskStore.init() has not finished');
    return (await this.clone.pending()).length;
  }

  /** Pushes unpushed commits and picks up remote changes now; returns commits still pending. */
  sync(): Promise<number> {
    return this.enqueue(async () => {
      await this.cleanCheckout();
      if ((await this.clone.fetch()).ok) await this.publisher.syncWithRemote('sync');
      await this.refresh();
      return (await this.clone.pending()).length;
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.queue.catch(() => undefined);
  }

  private enqueue<T>(job: () => Promise<T>): Promise<T> {
    const run = this.queue.then(job, job);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private current(): TaskFiles {
    if (this.snapshot === undefined) throw new Error('TaskStore.init() has not finished');
    if (this.snapshot instanceof Error) throw this.snapshot;
    return this.snapshot;
  }

  private async refresh(): Promise<void> {
    try {
      const files = await this.clone.files();
      files.all(); // parse now, so a broken file is reported by reads too
      this.snapshot = files;
    } catch (err) {
      this.snapshot = err instanceof Error ? err : new Error(String(err));
    }
  }

  private async cleanCheckout(): Promise<void> {
    if (!this.dirty) return;
    await this.clone.discardUncommitted();
    this.dirty = false;
  }

  private change(who: Requester, apply: Apply): Promise<ChangeResult> {
    if (this.closed) return Promise.reject(new Error('the task store is closed'));
    checkRequester(who);
    const now = formatTimestamp(this.now());
    return this.enqueue(async () => {
      if (this.snapshot === undefined) throw new Error('TaskStore.init() has not finished');
      try {
        await this.cleanCheckout();
        const done = await this.publisher.commitAndPush(
          (files) => apply(files, now),
          (change) => commitMessage(change, who),
        );
        return await this.result(done.change, done.commit, done.pushed, done.message);
      } catch (err) {
        this.dirty = true;
        await this.cleanCheckout().catch(() => undefined);
        throw err;
      } finally {
        await this.refresh();
      }
    });
  }

  private async result(
    change: Change & { before?: LocatedTask },
    commit: string,
    pushed: boolean,
    message?: string,
  ): Promise<ChangeResult> {
    const files = await this.clone.files();
    const now = files.find(change.id);
    const at = now ?? change.before;
    if (!at) throw new Error(`${change.id} is missing after ${change.verb}`);
    const result: ChangeResult = {
      task: at.task,
      status: now ? now.status : 'dropped',
      file: at.file,
      commit,
      pushed,
    };
    if (message) result.message = message;
    return result;
  }

  private startTimer(): void {
    const every = this.opts.retryPushMs ?? 60_000;
    if (every <= 0 || this.timer || this.closed) return;
    this.timer = setInterval(() => {
      if (this.closed || this.syncQueued) return;
      this.syncQueued = true;
      this.sync()
        .catch((err: unknown) => this.log.warn({ err }, 'background task sync failed'))
        .finally(() => {
          this.syncQueued = false;
        });
    }, every);
    this.timer.unref();
  }
}

function withBefore(
  files: TaskFiles,
  id: string,
  run: () => Change,
): Change & { before?: LocatedTask } {
  let before: LocatedTask | undefined;
  try {
    before = resolveTask(files, id);
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
  }
  return { ...run(), before };
}

function withStatus(t: LocatedTask): TaskWithStatus {
  return { ...t.task, status: t.status, file: t.file };
}
