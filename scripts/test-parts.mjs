#!/usr/bin/env node
// The real programs the tests run, and the Debian packages that hold them. Installs the missing
// ones (as root on Debian: `apt-get update`, then `apt-get install`); where it cannot, stops with
// one message naming the packages and the command. Does nothing when all are present.
// Run by test/global-setup.ts (so by `npm test`) and by .ci/run.
// CHATOPS_TEST_SKIP_SETUP=1 skips it: you provide the parts yourself.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import path from 'node:path';

// Where the test helpers look for them (the same overrides).
const SSHD = process.env.SSHD_BIN ?? '/usr/sbin/sshd';
const ALERTMANAGER = process.env.ALERTMANAGER_BIN ?? 'prometheus-alertmanager';

/** One line per part: the program the tests run (a path, or a name on PATH) and its package. */
const PARTS = [
  { program: SSHD, pkg: 'openssh-server' }, // test/helpers/ssh-lab.ts
  { program: 'ssh-keygen', pkg: 'openssh-client' }, // lab host and client keys
  { program: 'ansible-playbook', pkg: 'ansible-core' }, // /node provision, /node update
  { program: 'restic', pkg: 'restic' }, // /backup
  { program: ALERTMANAGER, pkg: 'prometheus-alertmanager' }, // test/helpers/alertmanager.ts
  { program: process.env.PROMETHEUS_BIN ?? 'prometheus', pkg: 'prometheus' }, // test/helpers/prometheus.ts
  { program: 'git', pkg: 'git' }, // the task repo
  { program: 'openssl', pkg: 'openssl' }, // test/fakes/kube/tls.ts
];

const APT_GET = '/usr/bin/apt-get';

function isExecutable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function found(program) {
  if (program.includes('/')) return isExecutable(program);
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  return dirs.some((d) => isExecutable(path.join(d, program)));
}

function missingPackages() {
  return [...new Set(PARTS.filter((p) => !found(p.program)).map((p) => p.pkg))];
}

/**
 * The command that installs `pkgs`: as is for root; through sudo where it is installed; else
 * through `su -c` (a Debian installed with a root password has no sudo).
 */
function installCommand(pkgs) {
  const cmd = `apt-get update && apt-get install -y --no-install-recommends ${pkgs.join(' ')}`;
  if (process.getuid?.() === 0) return cmd;
  if (found('sudo')) return cmd.replaceAll('apt-get', 'sudo apt-get');
  return `su -c '${cmd}'`;
}

/** The one message when the parts cannot be installed here; returns the exit code. */
function stop(pkgs, why) {
  const debian = existsSync(APT_GET);
  console.error(
    [
      `The tests need programs from Debian packages that are not installed: ${pkgs.join(' ')}.`,
      `${why} Install them with:`,
      '',
      `  ${debian ? installCommand(pkgs) : `<your package manager> install ${pkgs.join(' ')}`}`,
      '',
      'then run the tests again (or set CHATOPS_TEST_SKIP_SETUP=1 if you provide them another way).',
    ].join('\n'),
  );
  return 1;
}

function apt(args) {
  const r = spawnSync(APT_GET, args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return r.status === 0;
}

function main() {
  if (process.env.CHATOPS_TEST_SKIP_SETUP === '1') return 0;
  const missing = missingPackages();
  if (missing.length === 0) return 0;
  if (!existsSync(APT_GET)) return stop(missing, 'This is not a Debian system (no apt-get).');
  if (process.getuid?.() !== 0) return stop(missing, 'Installing them needs root.');
  console.error(`test parts: installing ${missing.join(' ')} (apt-get)`);
  if (!apt(['update'])) return stop(missing, '`apt-get update` failed (see above).');
  if (!apt(['install', '-y', '--no-install-recommends', ...missing])) {
    return stop(missing, '`apt-get install` failed (see above).');
  }
  const still = missingPackages();
  if (still.length > 0) return stop(still, 'They are still missing after `apt-get install`.');
  return 0;
}

process.exitCode = main();
