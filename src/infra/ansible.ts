import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { NodeConfig } from '../config/schema.js';
import { UserError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { explainUnreachable, type HostKeyProbe } from './ansible-host-keys.js';
import { type AnsibleSshOptions, ansibleInventory } from './ansible-inventory.js';
import type { PlaybookEvent } from './ansible-output.js';
import { type PlaybookResult, runPlaybookProcess, stopControlMasters } from './ansible-process.js';

export { explainUnreachable, type HostKeyProbe } from './ansible-host-keys.js';
export { type AnsibleSshOptions, ansibleInventory, pinnedSshArgs } from './ansible-inventory.js';
export {
  type HostStats,
  type PlaybookEvent,
  type PlaybookFailure,
  PlaybookOutputParser,
  REBOOT_MARKER,
} from './ansible-output.js';
export type { PlaybookResult } from './ansible-process.js';

export interface RunPlaybookOptions {
  /** Path to the playbook (relative paths from the working directory). */
  playbook: string;
  /** The inventory the Ansible inventory is generated from (all of it, so groups are whole). */
  nodes: NodeConfig[];
  /** Node names to run on; never empty, each must be in `nodes`. */
  limit: string[];
  check?: boolean;
  /** Plain variables; passed as `!unsafe` YAML in a temp file, so never templated. */
  extraVars?: Record<string, string>;
  /** Passed via a 0600 temp file (@file), never on the command line or in logs. */
  secretVars?: Record<string, string>;
  tags?: string[];
  skipTags?: string[];
  ssh: AnsibleSshOptions;
  /**
   * The bot's own SSH (its SshPool), to probe each host Ansible reports unreachable against the
   * pinned host keys (see ansible-host-keys.ts). Default: a pool of its own from `ssh`.
   */
  hostKeyProbe?: HostKeyProbe;
  onEvent?: (e: PlaybookEvent) => void;
  signal?: AbortSignal;
  /** Whole run; default 30 minutes. */
  timeoutMs?: number;
  logger: Logger;
  /** The ansible-playbook executable; default from PATH. */
  binary?: string;
}

const DEFAULT_TIMEOUT_MS = 30 * 60_000;
const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const TAG = /^[A-Za-z0-9_.-]+$/;

/**
 * Runs ansible-playbook (argv array, no shell) against a generated inventory with pinned host
 * keys, streaming per-task events. Ansible's exit codes are results; a missing binary, bad
 * input, a timeout or an abort are errors. A host Ansible could not reach is probed with the
 * bot's own SSH: when its host key is not the pinned one, its failure says so, whatever
 * Ansible printed (ansible-host-keys.ts).
 */
export async function runPlaybook(opts: RunPlaybookOptions): Promise<PlaybookResult> {
  const playbook = resolve(opts.playbook);
  checkInput(opts);
  try {
    await access(playbook);
  } catch {
    throw new UserError(`playbook not found: ${playbook}`);
  }
  opts.signal?.throwIfAborted();
  const log = opts.logger.child({
    unit: 'ansible',
    playbook: opts.playbook,
    limit: opts.limit,
    check: opts.check ?? false,
  });
  const dir = await mkdtemp(join(tmpdir(), 'chatops-ansible-'));
  try {
    const args = await prepareRun(dir, playbook, opts);
    log.info({ args, secretVars: Object.keys(opts.secretVars ?? {}) }, 'running ansible-playbook');
    const result = await runPlaybookProcess(
      {
        label: opts.playbook,
        binary: opts.binary ?? 'ansible-playbook',
        args,
        cwd: dirname(playbook),
        runDir: dir,
        timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        signal: opts.signal,
        onEvent: opts.onEvent,
        secrets: Object.values(opts.secretVars ?? {}),
      },
      log,
    );
    if (result.failures.some((f) => f.unreachable))
      await withProbe(opts, log, (probe) => explainUnreachable(result, opts.nodes, probe, log));
    log.info(
      {
        exitCode: result.exitCode,
        durationMs: result.durationMs,
        failures: result.failures.length,
        rebootRequired: result.rebootRequired,
      },
      'ansible-playbook finished',
    );
    return result;
  } finally {
    await stopControlMasters(join(dir, 'cp'));
    await rm(dir, { recursive: true, force: true });
  }
}

/** The given probe, or an SSH pool of its own (the same key and pinned known_hosts), closed after. */
async function withProbe(
  opts: RunPlaybookOptions,
  log: Logger,
  fn: (probe: HostKeyProbe) => Promise<void>,
): Promise<void> {
  if (opts.hostKeyProbe) return fn(opts.hostKeyProbe);
  const { SshPool } = await import('./ssh.js');
  const pool = new SshPool({ ...opts.ssh, logger: log });
  try {
    await fn(pool);
  } finally {
    await pool.close();
  }
}

function checkInput(opts: RunPlaybookOptions): void {
  if (opts.limit.length === 0) throw new UserError('no nodes given to run the playbook on');
  const known = new Set(opts.nodes.map((n) => n.name));
  const unknown = opts.limit.filter((n) => !known.has(n));
  if (unknown.length > 0) {
    throw new UserError(
      `${unknown.join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not in the inventory; known nodes: ${[...known].join(', ')}`,
    );
  }
  for (const name of [
    ...Object.keys(opts.extraVars ?? {}),
    ...Object.keys(opts.secretVars ?? {}),
  ]) {
    if (!VAR_NAME.test(name)) throw new UserError(`not a valid Ansible variable name: ${name}`);
  }
  for (const tag of [...(opts.tags ?? []), ...(opts.skipTags ?? [])]) {
    if (!TAG.test(tag)) throw new UserError(`not a valid tag: ${tag}`);
  }
}

/** Writes inventory and variable files (0600, in a 0700 dir) and returns the argv. */
async function prepareRun(
  dir: string,
  playbook: string,
  opts: RunPlaybookOptions,
): Promise<string[]> {
  await mkdir(join(dir, 'local'), { mode: 0o700 });
  await mkdir(join(dir, 'cp'), { mode: 0o700 });
  const inventory = join(dir, 'inventory.yml');
  await writeFile(inventory, ansibleInventory(opts.nodes, opts.ssh), { mode: 0o600, flag: 'wx' });
  const args = [playbook, '-i', inventory, '--limit', opts.limit.join(',')];
  if (opts.check) args.push('--check');
  if (opts.tags?.length) args.push('--tags', opts.tags.join(','));
  if (opts.skipTags?.length) args.push('--skip-tags', opts.skipTags.join(','));
  for (const [name, vars] of [
    ['extra-vars.yml', opts.extraVars],
    ['secret-vars.yml', opts.secretVars],
  ] as const) {
    if (!vars || Object.keys(vars).length === 0) continue;
    const file = join(dir, name);
    await writeFile(file, unsafeVarsYaml(vars), { mode: 0o600, flag: 'wx' });
    args.push('--extra-vars', `@${file}`);
  }
  return args;
}

/** `name: !unsafe "value"` lines: Ansible takes the values literally, never as templates. */
export function unsafeVarsYaml(vars: Record<string, string>): string {
  return Object.entries(vars)
    .map(([k, v]) => `${k}: !unsafe ${JSON.stringify(v)}\n`)
    .join('');
}
