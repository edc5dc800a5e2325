/**
 * Acknowledged changes that are not on the remote yet, one ref each:
 * `refs/chatops/pending/<n>` → the change's commit, `n` in the order the changes were made.
 *
 * The refs, not the branch, are what must survive: rebuilding on a newer remote head
 * resets the branch and commits again, and a kill in between would otherwise leave the
 * change only in the reflog. A ref is moved to the rebuilt commit in one atomic
 * `update-ref` (old value checked), and deleted only once its commit is on the remote.
 * Git writes refs with a lock file and a rename, and the clone has `core.fsync=committed`,
 * so a ref written before the bot answers survives a kill or a power cut.
 */

export const PENDING_PREFIX = 'refs/chatops/pending/';

export interface PendingRef {
  ref: string;
  n: number;
  sha: string;
  /** The commit's first parent. */
  parent: string;
}

type Run = (args: string[]) => Promise<string>;

/** The pending changes, oldest first. */
export async function listPending(run: Run): Promise<PendingRef[]> {
  const out = await run([
    'for-each-ref',
    '--format=%(refname) %(objectname) %(parent)',
    PENDING_PREFIX,
  ]);
  const refs: PendingRef[] = [];
  for (const line of out.split('\n')) {
    const [ref, sha, parent] = line.trim().split(' ');
    if (!ref || !sha) continue;
    const n = Number(ref.slice(PENDING_PREFIX.length));
    if (Number.isInteger(n)) refs.push({ ref, n, sha, parent: parent ?? '' });
  }
  return refs.sort((a, b) => a.n - b.n);
}

/** Pending refs whose commit is already in `rev` (pushed). */
export async function pendingMergedInto(run: Run, rev: string): Promise<Set<string>> {
  const out = await run(['for-each-ref', '--format=%(refname)', '--merged', rev, PENDING_PREFIX]);
  return new Set(out.split('\n').filter((l) => l !== ''));
}

/** Records `sha` as the newest pending change. */
export async function keepPending(run: Run, sha: string): Promise<PendingRef> {
  const all = await listPending(run);
  const n = (all.at(-1)?.n ?? 0) + 1;
  const ref = `${PENDING_PREFIX}${String(n).padStart(6, '0')}`;
  // An empty old value: fails if the ref exists, never overwrites another change.
  await run(['update-ref', '-m', 'chatops: change saved, not pushed', ref, sha, '']);
  return { ref, n, sha, parent: '' };
}

/** Points a pending change at its rebuilt commit (only if it still points at the old one). */
export async function movePending(run: Run, p: PendingRef, sha: string): Promise<void> {
  await run(['update-ref', '-m', 'chatops: change rebuilt on the remote head', p.ref, sha, p.sha]);
}

/** Deletes pending refs (each only if it still points where it was seen). */
export async function dropPending(run: Run, refs: readonly PendingRef[]): Promise<void> {
  for (const p of refs) await run(['update-ref', '-d', p.ref, p.sha]);
}
