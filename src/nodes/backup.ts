import type { Config, NodeConfig } from '../config/schema.js';
import { UserError } from '../core/errors.js';
import type { SshPool } from '../infra/ssh.js';
import { shellQuote } from '../infra/ssh-errors.js';
import { sshTarget } from './node-ops.js';
import { sshTarget as sshLine } from './plans.js';

export type BackupConfig = NonNullable<Config['backup']>;

/**
 * Runs restic with the repository environment kept on the node: the script is constant, the
 * env file and restic's arguments are separate argv entries (`$1`, `"$@"`), never spliced in.
 */
const RESTIC_SCRIPT = 'set -a && . "$1" && set +a && shift && exec restic "$@"';

export function resticArgv(conf: BackupConfig, args: string[]): string[] {
  return ['sh', '-c', RESTIC_SCRIPT, 'restic-env', conf.envFile, ...args];
}

export interface Snapshot {
  id: string;
  shortId: string;
  time: string;
  hostname?: string;
  paths: string[];
  tags?: string[];
  summary?: { filesNew?: number; filesChanged?: number; dataAdded?: number; totalFiles?: number };
}

export interface BackupSummary {
  filesNew: number;
  filesChanged: number;
  filesUnmodified: number;
  dataAdded: number;
  totalFiles: number;
  totalBytes: number;
  durationSeconds: number;
  snapshotId: string;
}

export interface BackupRun {
  node: string;
  exitCode: number | null;
  summary?: BackupSummary;
  /** The latest snapshot after a unit run (or when the run gave no summary). */
  latest?: Snapshot;
  /** restic's error lines (stderr), last ones. */
  errors: string[];
  /** What the exit code means, for people. */
  explanation?: string;
}

export interface NodeBackupStatus {
  node: string;
  latest?: Snapshot;
  ageSeconds?: number;
  stale?: boolean;
  error?: string;
}

type Raw = Record<string, unknown>;
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

/** `restic snapshots --json` output → snapshots, oldest first as restic lists them. Pure. */
export function parseSnapshots(stdout: string): Snapshot[] {
  const list = JSON.parse(stdout.trim() || '[]') as Raw[] | null;
  return (list ?? []).map((s) => {
    const sum = s.summary as Raw | undefined;
    return {
      id: String(s.id ?? ''),
      shortId: String(s.short_id ?? String(s.id ?? '').slice(0, 8)),
      time: String(s.time ?? ''),
      hostname: typeof s.hostname === 'string' ? s.hostname : undefined,
      paths: Array.isArray(s.paths) ? s.paths.map(String) : [],
      tags: Array.isArray(s.tags) ? s.tags.map(String) : undefined,
      summary: sum
        ? {
            filesNew: num(sum.files_new),
            filesChanged: num(sum.files_changed),
            dataAdded: num(sum.data_added),
            totalFiles: num(sum.total_files_processed),
          }
        : undefined,
    };
  });
}

/** The `message_type: "summary"` line of `restic backup --json`. Pure. */
export function parseSummary(msg: Raw): BackupSummary {
  return {
    filesNew: num(msg.files_new) ?? 0,
    filesChanged: num(msg.files_changed) ?? 0,
    filesUnmodified: num(msg.files_unmodified) ?? 0,
    dataAdded: num(msg.data_added) ?? 0,
    totalFiles: num(msg.total_files_processed) ?? 0,
    totalBytes: num(msg.total_bytes_processed) ?? 0,
    durationSeconds: num(msg.total_duration) ?? 0,
    snapshotId: String(msg.snapshot_id ?? ''),
  };
}

/**
 * What restic's exit code (and, for restic < 0.17 which exits 1 for all of these, its message)
 * means. Undefined for success.
 */
export function explainExit(code: number | null, stderr: string): string | undefined {
  if (code === 0) return undefined;
  if (code === 3)
    return 'Exit 3: some source files could not be read; the snapshot was still made, without them.';
  if (code === 10 || /unable to open config file|Is there a repository at/i.test(stderr))
    return `Exit ${code}: the repository does not exist (or is not reachable) — check RESTIC_REPOSITORY in the env file, or run \`restic init\` once.`;
  if (code === 11 || /repository is already locked|unable to create lock/i.test(stderr))
    return `Exit ${code}: the repository is locked — another backup, prune or check is running, or a stale lock was left behind (\`restic list locks\`, then \`restic unlock\` if nothing runs).`;
  if (code === 12 || /wrong password/i.test(stderr))
    return `Exit ${code}: wrong password — RESTIC_PASSWORD_FILE (or RESTIC_PASSWORD) in the env file does not open this repository.`;
  if (code === null) return 'restic was ended by a signal (timeout or cancelled).';
  if (code === 1) return 'Exit 1: the backup failed (see the errors).';
  return `Exit ${code}: restic failed (see the errors).`;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

export function formatAge(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/** Last meaningful stderr lines (restic's JSON error lines are shortened to their message). */
function errorLines(stderr: string, max = 8): string[] {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      if (!l.startsWith('{')) return l;
      try {
        const m = JSON.parse(l) as Raw;
        const e = m.error as Raw | undefined;
        const item = m.item ? `${m.item}: ` : '';
        const op = e?.Op ? `${e.Op} failed` : 'error';
        const errno = e?.Err !== undefined ? ` (errno ${e.Err})` : '';
        return `${item}${op}${errno}`;
      } catch {
        return l;
      }
    });
  return lines.slice(-max);
}

export class Backups {
  constructor(
    private readonly ssh: SshPool,
    readonly conf: BackupConfig,
  ) {}

  /** A configured backup node; a UserError listing them otherwise. */
  static node(conf: BackupConfig, inventory: readonly NodeConfig[], name: string): NodeConfig {
    const node = conf.nodes.includes(name) ? inventory.find((n) => n.name === name) : undefined;
    if (!node) {
      throw new UserError(
        `${name} is not a backup node.`,
        `Backup nodes: ${conf.nodes.join(', ')} (config backup.nodes).`,
      );
    }
    return node;
  }

  /** `all` or one node → the backup nodes. */
  static select(
    conf: BackupConfig,
    inventory: readonly NodeConfig[],
    target: string,
  ): NodeConfig[] {
    if (target === 'all') return conf.nodes.map((n) => Backups.node(conf, inventory, n));
    return [Backups.node(conf, inventory, target)];
  }

  /** The exact commands of /backup run on a node (for dry runs). */
  static planSteps(conf: BackupConfig, node: NodeConfig): string[] {
    const line = (argv: string[]) => `${sshLine(node)} -- ${shellQuote(argv)}`;
    if (conf.runWith === 'command')
      return [line(resticArgv(conf, ['backup', '--json', ...conf.paths]))];
    return [
      line(['sudo', '-n', 'systemctl', 'start', '--wait', conf.unit]),
      line(resticArgv(conf, ['snapshots', '--no-lock', '--json', '--latest', '1'])),
    ];
  }

  private restic(node: NodeConfig, args: string[], signal?: AbortSignal) {
    return this.ssh.exec(sshTarget(node), resticArgv(this.conf, args), {
      timeoutMs: this.conf.timeoutSeconds * 1000,
      signal,
    });
  }

  /** The latest `count` snapshots (restic keeps the latest per host and path set), newest last. */
  async snapshots(node: NodeConfig, count: number, signal?: AbortSignal): Promise<Snapshot[]> {
    // --no-lock: reading the list must not wait for (or fail on) a prune holding the lock.
    const r = await this.restic(
      node,
      ['snapshots', '--no-lock', '--json', '--latest', String(count)],
      signal,
    );
    if (r.code !== 0) {
      throw new UserError(
        `restic snapshots on ${node.name} failed: ${explainExit(r.code, r.stderr)}`,
        errorLines(r.stderr).join('\n') || undefined,
      );
    }
    const all = parseSnapshots(r.stdout).sort((a, b) => a.time.localeCompare(b.time));
    return all.slice(-count);
  }

  /** Every node in parallel: the latest snapshot, its age, stale or not; errors per node. */
  async status(nodes: NodeConfig[], now = Date.now(), signal?: AbortSignal) {
    return Promise.all(
      nodes.map(async (node): Promise<NodeBackupStatus> => {
        try {
          const latest = (await this.snapshots(node, 1, signal)).at(-1);
          if (!latest) return { node: node.name, stale: true, error: 'no snapshots yet' };
          const ageSeconds = (now - Date.parse(latest.time)) / 1000;
          return {
            node: node.name,
            latest,
            ageSeconds,
            stale: ageSeconds > this.conf.staleHours * 3600,
          };
        } catch (err) {
          const e = err as Error & { hint?: string };
          return { node: node.name, error: e.message };
        }
      }),
    );
  }

  /** Starts a backup on the node and waits for it; `onProgress` gets restic's progress. */
  async run(
    node: NodeConfig,
    onProgress: (p: { percent: number; filesDone?: number; bytesDone?: number }) => void,
    signal?: AbortSignal,
  ): Promise<BackupRun> {
    const timeoutMs = this.conf.runTimeoutSeconds * 1000;
    if (this.conf.runWith === 'unit') {
      const r = await this.ssh.exec(
        sshTarget(node),
        ['sudo', '-n', 'systemctl', 'start', '--wait', this.conf.unit],
        { timeoutMs, signal },
      );
      const run: BackupRun = { node: node.name, exitCode: r.code, errors: errorLines(r.stderr) };
      if (r.code !== 0) {
        run.explanation = `${this.conf.unit} failed (exit ${r.code}); its journal has restic's exit code: /node logs ${node.name} ${this.conf.unit}`;
        return run;
      }
      run.latest = (await this.snapshots(node, 1, signal)).at(-1);
      return run;
    }
    let summary: BackupSummary | undefined;
    const r = await this.ssh.exec(
      sshTarget(node),
      resticArgv(this.conf, ['backup', '--json', ...this.conf.paths]),
      {
        timeoutMs,
        signal,
        onLine: (line, stream) => {
          if (stream !== 'stdout' || !line.startsWith('{')) return;
          let msg: Raw;
          try {
            msg = JSON.parse(line) as Raw;
          } catch {
            return;
          }
          if (msg.message_type === 'summary') summary = parseSummary(msg);
          else if (msg.message_type === 'status' && typeof msg.percent_done === 'number')
            onProgress({
              percent: msg.percent_done,
              filesDone: num(msg.files_done),
              bytesDone: num(msg.bytes_done),
            });
        },
      },
    );
    if (!summary) {
      // onLine may not have seen the last line if the stream ended without a newline.
      for (const line of r.stdout.split('\n')) {
        if (!line.includes('"summary"')) continue;
        try {
          summary = parseSummary(JSON.parse(line) as Raw);
        } catch {
          // not JSON
        }
      }
    }
    return {
      node: node.name,
      exitCode: r.code,
      summary,
      errors: errorLines(r.stderr),
      explanation: explainExit(r.code, r.stderr),
    };
  }
}
