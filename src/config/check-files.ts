import {
  accessSync,
  closeSync,
  constants,
  fsyncSync,
  mkdirSync,
  openSync,
  rmSync,
  statSync,
} from 'node:fs';
import path from 'node:path';
import type { ConfigProblem } from './load.js';
import type { Config } from './schema.js';

/**
 * What the config names on disk, checked once at start-up so a typo in a path stops the bot
 * with the key and the path (exit 2) instead of failing on the first /node command. Secret
 * files (`*File`) are read, and so checked, while loading.
 */

function problem(key: string, file: string, message: string): ConfigProblem {
  return { path: key, message: `${file}: ${message}` };
}

function why(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'does not exist';
  if (code === 'EACCES' || code === 'EPERM') return `cannot be read by this user (${code})`;
  return `cannot be read (${code ?? (err as Error).message})`;
}

function readableFile(key: string, file: string | undefined): ConfigProblem[] {
  if (file === undefined) return [];
  try {
    if (!statSync(file).isFile()) return [problem(key, file, 'is not a file')];
    accessSync(file, constants.R_OK);
    return [];
  } catch (err) {
    return [problem(key, file, `${why(err)}. Fix the path or the file's permissions.`)];
  }
}

function readableDir(key: string, dir: string | undefined, needs: string[]): ConfigProblem[] {
  if (dir === undefined) return [];
  try {
    if (!statSync(dir).isDirectory()) return [problem(key, dir, 'is not a directory')];
  } catch (err) {
    return [problem(key, dir, `${why(err)}. Fix the path.`)];
  }
  return needs.flatMap((f) => readableFile(key, path.join(dir, f)));
}

/** Files and directories the config names: each missing or unreadable one, with its key. */
export function checkConfigFiles(config: Config): ConfigProblem[] {
  return [
    ...readableFile('ssh.privateKeyFile', config.ssh?.privateKeyFile),
    ...readableFile('ssh.knownHostsFile', config.ssh?.knownHostsFile),
    ...readableFile('kube.kubeconfig', config.kube?.kubeconfig),
    ...readableDir('nodeOps.ansible.playbooksDir', config.nodeOps.ansible.playbooksDir, [
      'provision-pi.yml',
      'update.yml',
    ]),
  ];
}

/**
 * The state dir must exist (it is created) and take a durable write: the audit log, the alert
 * outbox and the task clone live there, and the bot promises not to lose them.
 */
export function checkStateDir(dir: string): ConfigProblem[] {
  const probe = path.join(dir, `.write-check-${process.pid}`);
  try {
    mkdirSync(dir, { recursive: true });
    const fd = openSync(probe, 'w');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    rmSync(probe, { force: true });
    return [];
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    const uid = typeof process.getuid === 'function' ? ` (uid ${process.getuid()})` : '';
    return [
      {
        path: 'state.dir',
        message: `${path.resolve(dir)}: cannot be written (${code}). The bot keeps its audit log, alert threads and task clone there: make it a writable directory for this user${uid}, or set CHATOPS_STATE_DIR / state.dir to one.`,
      },
    ];
  }
}
