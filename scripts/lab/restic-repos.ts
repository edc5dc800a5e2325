/**
 * Real restic repositories for the lab's backup nodes (pi1–pi3), as on a lab where each Pi
 * backs up to its own repository: one repository and password file per node under
 * `<dir>/restic/`, an env file the nodes' shells source (it picks the node's repository by
 * `$LAB_NODE`, which the lab's sshd sets), a small tree of files to back up, and a first
 * snapshot on each so `/backup status` has something to show.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface ResticRepos {
  /** What `backup.envFile` points at. */
  envFile: string;
  /** What `backup.paths` lists. */
  paths: string[];
}

export function resticInstalled(): boolean {
  return !spawnSync('restic', ['version'], { stdio: 'ignore' }).error;
}

export function createResticRepos(dir: string, nodes: string[]): ResticRepos {
  const root = path.join(dir, 'restic');
  const src = path.join(dir, 'backup-source');
  mkdirSync(path.join(src, 'etc', 'pihole'), { recursive: true });
  writeFileSync(path.join(src, 'etc', 'pihole', 'pihole.toml'), '[dns]\nupstreams = ["9.9.9.9"]\n');
  writeFileSync(path.join(src, 'etc', 'pihole', 'custom.list'), '192.168.1.10 x86.lab\n');
  mkdirSync(path.join(src, 'home', 'pi'), { recursive: true });
  writeFileSync(path.join(src, 'home', 'pi', 'notes.txt'), 'lab notes\n');
  const envOf = (node: string) => ({
    ...process.env,
    RESTIC_REPOSITORY: path.join(root, 'repos', node),
    RESTIC_PASSWORD_FILE: path.join(root, 'password'),
    RESTIC_CACHE_DIR: path.join(root, 'cache', node),
  });
  mkdirSync(path.join(root, 'repos'), { recursive: true });
  writeFileSync(path.join(root, 'password'), `lab-${process.pid}-${Date.now()}\n`, { mode: 0o600 });
  for (const node of nodes) {
    execFileSync('restic', ['init', '-q'], {
      env: envOf(node),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    execFileSync('restic', ['backup', '-q', '--host', node, src], {
      env: envOf(node),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  }
  const envFile = path.join(root, 'env');
  writeFileSync(
    envFile,
    [
      "# Sourced by the bot over SSH on each backup node; $LAB_NODE is set by the lab's sshd.",
      `RESTIC_REPOSITORY=${path.join(root, 'repos')}/$LAB_NODE`,
      `RESTIC_PASSWORD_FILE=${path.join(root, 'password')}`,
      `RESTIC_CACHE_DIR=${path.join(root, 'cache')}/$LAB_NODE`,
      '',
    ].join('\n'),
  );
  return { envFile, paths: [src] };
}
