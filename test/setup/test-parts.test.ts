/**
 * scripts/test-parts.mjs as a user who is not root sees it (#18): a missing part stops it at
 * once, with one message naming the package and the command to run — through sudo where sudo is
 * installed, through `su -c` where it is not (a Debian installed with a root password). The
 * programs are stand-ins (empty executables on a PATH of their own): the script only looks for
 * them. Run as `nobody` through setpriv when the suite runs as root, so it never installs.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../../scripts/test-parts.mjs', import.meta.url));
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
const asRoot = process.getuid?.() === 0;
const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups', '--'];

/** How to run node as a user who is not root; undefined when this machine cannot. */
function nonRootNode(): string[] | undefined {
  if (!asRoot) return [process.execPath];
  if (!SETPRIV) return undefined;
  // The node running the suite may sit under /root (CI's Node 24): nobody cannot run it there.
  const probe = spawnSync(SETPRIV, [...NOBODY, process.execPath, '-e', ''], { stdio: 'ignore' });
  return probe.status === 0 ? [SETPRIV, ...NOBODY, process.execPath] : undefined;
}
const node = nonRootNode();

/** The script in a directory of its own, with stand-ins for `programs` on its PATH. */
function run(programs: string[]) {
  const dir = mkdtempSync(path.join(tmpdir(), 'chatops-test-parts-'));
  chmodSync(dir, 0o755);
  const bin = path.join(dir, 'bin');
  mkdirSync(bin, { mode: 0o755 });
  for (const p of programs) writeFileSync(path.join(bin, p), '', { mode: 0o755 });
  copyFileSync(SCRIPT, path.join(dir, 'test-parts.mjs'));
  const [cmd, ...args] = node as string[];
  try {
    const r = spawnSync(cmd as string, [...args, path.join(dir, 'test-parts.mjs')], {
      encoding: 'utf8',
      timeout: 10_000,
      env: {
        PATH: bin,
        SSHD_BIN: path.join(bin, 'sshd'),
        ALERTMANAGER_BIN: path.join(bin, 'prometheus-alertmanager'),
      },
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const ALL_PARTS = [
  'sshd',
  'ssh-keygen',
  'ansible-playbook',
  'restic',
  'prometheus-alertmanager',
  'prometheus',
  'git',
  'openssl',
];
const withoutRestic = ALL_PARTS.filter((p) => p !== 'restic');

describe.skipIf(!existsSync('/usr/bin/apt-get') || !node)('test parts, not root, on Debian', () => {
  it('all there: nothing to do, nothing said', () => {
    expect(run(ALL_PARTS)).toEqual({ status: 0, stdout: '', stderr: '' });
  });

  it('restic missing, sudo installed: stops with the sudo command', () => {
    const r = run([...withoutRestic, 'sudo']);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('not installed: restic.\nInstalling them needs root.');
    expect(r.stderr).toContain(
      '\n  sudo apt-get update && sudo apt-get install -y --no-install-recommends restic\n',
    );
  });

  it('restic and openssl missing, no sudo: stops with su -c', () => {
    const r = run(withoutRestic.filter((p) => p !== 'openssl'));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('not installed: restic openssl.');
    expect(r.stderr).toContain(
      "\n  su -c 'apt-get update && apt-get install -y --no-install-recommends restic openssl'\n",
    );
  });
});
