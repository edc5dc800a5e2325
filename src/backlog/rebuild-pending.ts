import { wrapError } from '../core/errors.js';
import { renumberMessage } from './commit-message.js';
import { dropPending, movePending, pendingMergedInto } from './pending-refs.js';
import { type ReplayResult, replayChange } from './replay.js';
import type { TaskClone } from './task-clone.js';
import { TaskFiles } from './task-files.js';

/**
 * Puts the clone's branch on the remote head as last fetched, with the pending changes
 * (pending-refs.ts) on top: a change already on the remote is forgotten, one whose commit
 * sits on the right parent is kept as it is, the others are rebuilt from what each did to
 * the task files (replay.ts). Each rebuilt commit replaces its pending ref atomically, so a
 * kill at any point leaves every change in exactly one pending ref, and the next rebuild
 * carries on from there. A commit on the branch without a pending ref (a change killed
 * before it was answered, or one whose push was rejected) is dropped.
 */

export interface ReplayedCommit extends ReplayResult {
  original: string;
  commit: string | undefined;
  subject: string;
}

export async function rebuildOnRemote(clone: TaskClone): Promise<ReplayedCommit[]> {
  const run = (args: string[]) => clone.out(args);
  const pending = await clone.pending();
  const [head = '', base = ''] = (await run(['rev-parse', 'HEAD', clone.originRef])).split('\n');
  let tip = base;
  const done: ReplayedCommit[] = [];
  if (pending.length > 0) {
    const pushed = await pendingMergedInto(run, clone.originRef);
    await dropPending(
      run,
      pending.filter((p) => pushed.has(p.ref)),
    );
    try {
      for (const p of pending.filter((x) => !pushed.has(x.ref))) {
        if (p.parent === tip) {
          tip = p.sha;
          continue;
        }
        await clone.resetTo(tip);
        const plan = await describeCommit(clone, p.sha);
        const files = await clone.filesForChange();
        const result = replayChange(files, plan.before, plan.after, await clone.idsTakenOnRemote());
        const message = renumberMessage(plan.message, result.renumbered);
        const commit = await clone.commit(files.changed(), message, plan.authorDate);
        if (commit) {
          await movePending(run, p, commit);
          tip = commit;
        } else {
          await dropPending(run, [p]);
        }
        done.push({ ...result, original: p.sha, commit, subject: message.split('\n')[0] ?? '' });
      }
    } catch (err) {
      // Every change is still in its pending ref; the next rebuild starts from there.
      await clone.resetTo(head).catch(() => undefined);
      throw wrapError('while re-applying unpushed task commits on the new remote head', err);
    }
  }
  if (head !== tip) await clone.resetTo(tip);
  return done;
}

async function describeCommit(clone: TaskClone, sha: string) {
  const changed = (await clone.out(['diff-tree', '--no-commit-id', '--name-only', '-r', '-z', sha]))
    .split('\0')
    .filter((p) => p !== '');
  const probe = new TaskFiles(clone.opts.path, new Map());
  const paths = changed.filter((p) => probe.statusOf(p) !== undefined);
  const message = await clone.out(['log', '-1', '--format=%B', sha]);
  const authorDate = await clone.out(['log', '-1', '--format=%aI', sha]);
  return {
    sha,
    message,
    authorDate,
    before: await filesAt(clone, `${sha}^`, paths),
    after: await filesAt(clone, sha, paths),
  };
}

async function filesAt(clone: TaskClone, rev: string, paths: string[]): Promise<TaskFiles> {
  const texts = new Map<string, string | null>();
  for (const rel of paths) {
    const text = await clone.run(['cat-file', '-p', `${rev}:${rel}`]).then(
      (r) => r.stdout,
      () => null,
    );
    texts.set(rel, text);
  }
  return new TaskFiles(clone.opts.path, texts);
}
