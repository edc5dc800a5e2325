import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Git } from './git.js';

/**
 * Creates a bare repo at `bareDir` whose branch `branch` has one commit holding the files
 * of `seedDir` under `tasks/` — the demo's stand-in for the lab repo (`<state>/lab.git`).
 * Does nothing when `bareDir` already exists. Built in a temporary directory next to it
 * and renamed into place, so an interrupted run never leaves a half-made repo.
 * Returns whether it created the repo.
 */
export async function ensureSeededBareRepo(
  bareDir: string,
  seedDir: string,
  branch: string,
  author: { name: string; email: string },
): Promise<boolean> {
  if (existsSync(bareDir)) return false;
  await mkdir(dirname(bareDir), { recursive: true });
  const tmp = await mkdtemp(join(dirname(bareDir), `.${basename(bareDir)}-seed-`));
  try {
    const bare = join(tmp, 'repo.git');
    const tree = join(tmp, 'tree');
    await cp(seedDir, join(tree, 'tasks'), { recursive: true });
    const git = new Git({ cwd: tmp });
    await git.run(['init', '--quiet', '--bare', `--initial-branch=${branch}`, bare]);
    const env = {
      GIT_DIR: bare,
      GIT_WORK_TREE: tree,
      GIT_INDEX_FILE: join(tmp, 'index'),
      GIT_AUTHOR_NAME: author.name,
      GIT_AUTHOR_EMAIL: author.email,
      GIT_COMMITTER_NAME: author.name,
      GIT_COMMITTER_EMAIL: author.email,
    };
    await git.run(['add', '--all', '--', 'tasks'], { env, cwd: tree });
    await git.run(
      [
        '-c',
        'commit.gpgSign=false',
        'commit',
        '--quiet',
        '--no-verify',
        '-m',
        'tasks: seed the task backlog',
      ],
      { env, cwd: tree },
    );
    await rename(bare, bareDir);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return true;
}
