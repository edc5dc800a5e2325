import { chmod, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { git, type Lab, makeLab, pushByHand } from './helpers.js';
import { distBuilt, type StoreProcess, startStore } from './store-process.js';

// An answered change ("saved locally, will be pushed") must survive a SIGKILL at the worst
// moments of pushing it later. The store runs in a child process (the built dist/); a real
// git `reference-transaction` hook kills it exactly when a ref moves the way the kill point
// needs — no test hook in the store itself.
let lab: Lab;
let child: StoreProcess | undefined;
afterEach(async () => {
  child?.kill(true);
  child = undefined;
  await lab?.cleanup();
});
beforeAll(() => {
  if (!distBuilt()) throw new Error('dist/ is not built: run `npx tsc -p tsconfig.build.json`');
});

/** A reference-transaction hook that SIGKILLs `pid` when `when` (sh, $old $new $ref) holds. */
async function killHook(gitDir: string, pid: number, when: string): Promise<void> {
  const hook = join(gitDir, 'hooks', 'reference-transaction');
  await writeFile(
    hook,
    `#!/bin/sh
[ "$1" = committed ] || exit 0
while read old new ref; do
  if ${when}; then kill -9 ${pid}; fi
done
exit 0
`,
  );
  await chmod(hook, 0o755);
}

const HAND_TASK = `
  - id: T-0005
    title: Taken by hand
    priority: low
    created: "2025-02-01T00:00:00Z"
    created_by: {platform: console, user_id: dave, display_name: Dave}
`;

const KILL_POINTS = {
  // The clone's branch reset to the new remote head, before the change is committed again:
  // before, the change then lived only in the reflog.
  'after the branch was reset to the remote head': (origin: string) =>
    `[ "$ref" = refs/heads/main ] && [ "$new" = "$(git rev-parse ${origin})" ]`,
  // The change committed again on the new head, before its pending ref was moved.
  'after the change was committed again on the new head': (origin: string) =>
    `[ "$ref" = refs/heads/main ] && [ "$old" = "$(git rev-parse ${origin})" ] && [ "$new" != "$old" ]`,
};

describe('TaskStore: a change answered "saved locally" survives a SIGKILL', () => {
  for (const [point, condition] of Object.entries(KILL_POINTS)) {
    it(`killed ${point} while pushing it later: pushed exactly once after a restart`, async () => {
      lab = await makeLab();
      child = startStore(lab.bare, lab.workDir);
      await child.waitFor(/^READY 0$/);
      await rename(lab.bare, `${lab.bare}.away`);
      child.send('add Saved offline');
      await child.waitFor(/^ACK Saved offline\tT-0005\tfalse$/);
      await rename(`${lab.bare}.away`, lab.bare);
      const other = await lab.otherClone();
      const backlog = await readFile(join(other, 'tasks/backlog.yaml'), 'utf8');
      await pushByHand(other, { 'backlog.yaml': backlog + HAND_TASK }, 'T-0005 by hand');

      await killHook(
        join(lab.workDir, '.git'),
        child.proc.pid!,
        condition('refs/remotes/origin/main'),
      );
      child.send('sync');
      expect((await child.exited).signal).toBe('SIGKILL');
      expect(child.lines.some((l) => l.startsWith('SYNCED'))).toBe(false);
      await rm(join(lab.workDir, '.git', 'hooks', 'reference-transaction'));

      const restarted = await lab.open();
      expect(await restarted.pendingPushes()).toBe(0);
      const titles = (await lab.remoteTasks('backlog.yaml')).map((t) => `${t.id} ${t.title}`);
      expect(titles.filter((t) => t.endsWith('Saved offline'))).toEqual(['T-0006 Saved offline']);
      expect(lab.remoteLog('%s').filter((s) => s.includes('Saved offline'))).toEqual([
        'tasks: add T-0006 Saved offline',
      ]);
    });
  }

  it('killed right after the remote accepted the push: not pushed again after the remote moved on', async () => {
    lab = await makeLab();
    child = startStore(lab.bare, lab.workDir);
    await child.waitFor(/^READY 0$/);
    await rename(lab.bare, `${lab.bare}.away`);
    child.send('add Saved offline');
    await child.waitFor(/^ACK Saved offline\tT-0005\tfalse$/);
    await rename(`${lab.bare}.away`, lab.bare);

    // The remote's own hook kills the bot once its branch holds the change.
    await killHook(
      lab.bare,
      child.proc.pid!,
      '[ "$ref" = refs/heads/main ] && git log -1 --format=%s "$new" | grep -q "Saved offline"',
    );
    child.send('sync');
    expect((await child.exited).signal).toBe('SIGKILL');
    await rm(join(lab.bare, 'hooks', 'reference-transaction'));
    // Someone else pushes before the bot is back: its commit is no longer the remote head.
    const other = await lab.otherClone();
    const backlog = await readFile(join(other, 'tasks/backlog.yaml'), 'utf8');
    await pushByHand(
      other,
      { 'backlog.yaml': backlog + HAND_TASK.replace('0005', '0006') },
      'T-0006 by hand',
    );

    const restarted = await lab.open();
    expect(await restarted.pendingPushes()).toBe(0);
    expect(lab.remoteLog('%s').slice(0, 2)).toEqual([
      'T-0006 by hand',
      'tasks: add T-0005 Saved offline',
    ]);
    const titles = (await lab.remoteTasks('backlog.yaml')).map((t) => t.title);
    expect(titles.filter((t) => t === 'Saved offline')).toHaveLength(1);
    expect(git(lab.workDir, 'for-each-ref', 'refs/chatops/pending/')).toBe('');
  });
});
