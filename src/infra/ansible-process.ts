import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { UserError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import {
  type HostStats,
  type PlaybookEvent,
  type PlaybookFailure,
  PlaybookOutputParser,
} from './ansible-output.js';

export interface PlaybookResult {
  /** ansible-playbook's exit code: 0 ok, 2 a host failed, 4 a host unreachable (or a parse error), … */
  exitCode: number;
  /** From PLAY RECAP, per host. */
  stats: Record<string, HostStats>;
  failures: PlaybookFailure[];
  /** Hosts that printed the marker `REBOOT_REQUIRED=true` (a debug msg). */
  rebootRequired: string[];
  /** Each host's last marker, true or false; a host that printed none is absent (unknown). */
  rebootMarkers: Record<string, boolean>;
  durationMs: number;
  /** Ansible's own `ERROR! …` (bad playbook, bad options), when it stopped before running. */
  error?: string;
}

/** One ansible-playbook process: what to run and how to watch it. */
export interface PlaybookProcess {
  /** Shown in errors, e.g. the playbook path as given. */
  label: string;
  binary: string;
  args: string[];
  cwd: string;
  /** The run's private temp dir (see ansibleEnv). */
  runDir: string;
  timeoutMs: number;
  signal?: AbortSignal;
  onEvent?: (e: PlaybookEvent) => void;
  /** Values to replace by `[redacted]` wherever they show up in Ansible's output. */
  secrets: string[];
}

const KILL_GRACE_MS = 5_000;
const MAX_STDERR_LINES = 200;

/** Settings that make the output parseable and the run self-contained, whatever ansible.cfg says. */
export function ansibleEnv(dir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ANSIBLE_STDOUT_CALLBACK: 'default',
    ANSIBLE_CALLBACK_RESULT_FORMAT: 'json',
    ANSIBLE_CALLBACK_FORMAT_PRETTY: 'False',
    ANSIBLE_DISPLAY_OK_HOSTS: 'True',
    ANSIBLE_DISPLAY_SKIPPED_HOSTS: 'True',
    ANSIBLE_DISPLAY_FAILED_STDERR: 'False',
    ANSIBLE_DISPLAY_ARGS_TO_STDOUT: 'False',
    ANSIBLE_CHECK_MODE_MARKERS: 'False',
    ANSIBLE_SHOW_PER_HOST_START: 'False',
    ANSIBLE_SHOW_TASK_PATH_ON_FAILURE: 'False',
    ANSIBLE_VERBOSITY: '0',
    ANSIBLE_DEBUG: 'False',
    ANSIBLE_FORCE_COLOR: '0',
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_NOCOWS: '1',
    ANSIBLE_DEPRECATION_WARNINGS: 'False',
    ANSIBLE_HOST_KEY_CHECKING: 'True',
    ANSIBLE_RETRY_FILES_ENABLED: 'False',
    ANSIBLE_KEEP_REMOTE_FILES: 'False',
    ANSIBLE_LOCAL_TEMP: join(dir, 'local'),
    // Per run, so this run's ssh masters can be found and closed at the end.
    ANSIBLE_SSH_CONTROL_PATH_DIR: join(dir, 'cp'),
    // Modules go over the ssh session's stdin: faster, and no sftp/scp needed on the node.
    ANSIBLE_PIPELINING: 'True',
    // Files (copy, template) go over the ssh session too: works without an sftp subsystem.
    ANSIBLE_SSH_TRANSFER_METHOD: 'piped',
    PYTHONUNBUFFERED: '1',
  };
}

/** Runs it, streaming events; resolves with the result whatever the exit code. */
export function runPlaybookProcess(run: PlaybookProcess, log: Logger): Promise<PlaybookResult> {
  const started = Date.now();
  const { binary } = run;
  const secrets = secretForms(run.secrets);
  const redact = (line: string) => secrets.reduce((l, s) => l.split(s).join('[redacted]'), line);
  const parser = new PlaybookOutputParser();
  const stderr: string[] = [];
  const emit = (events: PlaybookEvent[]) => {
    for (const e of events) {
      log.debug({ event: e }, 'ansible event');
      try {
        run.onEvent?.(e);
      } catch (err) {
        log.warn({ err }, 'onEvent handler threw');
      }
    }
  };

  return new Promise<PlaybookResult>((resolvePromise, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(binary, run.args, {
        cwd: run.cwd,
        env: ansibleEnv(run.runDir),
        stdio: ['ignore', 'pipe', 'pipe'],
        // Own process group: a timeout or abort stops Ansible's workers and ssh too.
        detached: true,
      });
    } catch (err) {
      reject(spawnError(binary, err));
      return;
    }
    let stopReason: Error | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const stop = (reason: Error) => {
      if (stopReason) return;
      stopReason = reason;
      log.warn({ reason: reason.message }, 'stopping ansible-playbook');
      killGroup(child, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(child, 'SIGKILL'), KILL_GRACE_MS);
      killTimer.unref();
    };
    const { timeoutMs } = run;
    const timer = setTimeout(
      () =>
        stop(
          new UserError(
            `ansible-playbook ${run.label} did not finish within ${Math.round(timeoutMs / 1000)} s; stopped it here (a task already started on a node, e.g. apt, may still be running there)`,
          ),
        ),
      timeoutMs,
    );
    const onAbort = () =>
      stop(
        run.signal?.reason instanceof Error
          ? run.signal.reason
          : new Error('ansible-playbook run aborted'),
      );
    run.signal?.addEventListener('abort', onAbort, { once: true });

    createInterface({ input: child.stdout!, crlfDelay: Infinity }).on('line', (line) =>
      emit(parser.push(redact(line))),
    );
    createInterface({ input: child.stderr!, crlfDelay: Infinity }).on('line', (raw) => {
      const line = redact(raw);
      if (line.trim() === '') return;
      if (stderr.length < MAX_STDERR_LINES) stderr.push(line);
      log.debug({ line }, 'ansible stderr');
    });

    child.once('error', (err) => {
      clearTimeout(timer);
      run.signal?.removeEventListener('abort', onAbort);
      reject(spawnError(binary, err));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      run.signal?.removeEventListener('abort', onAbort);
      emit(parser.end());
      if (stopReason) {
        reject(stopReason);
        return;
      }
      const result: PlaybookResult = {
        exitCode: code ?? (signal ? 128 : 1),
        stats: parser.stats,
        failures: parser.failures,
        rebootRequired: parser.rebootRequired,
        rebootMarkers: parser.rebootMarkers,
        durationMs: Date.now() - started,
      };
      const error = ansibleError(stderr);
      if (error) result.error = error;
      if (result.exitCode !== 0)
        log.warn({ exitCode: result.exitCode, stderr }, 'ansible-playbook failed');
      resolvePromise(result);
    });
  });
}

/** A secret as it may appear in output: raw and JSON-escaped (too short ones are skipped). */
function secretForms(values: string[]): string[] {
  const forms = new Set<string>();
  for (const value of values) {
    if (value.length < 4) continue;
    forms.add(value);
    forms.add(JSON.stringify(value).slice(1, -1));
  }
  return [...forms].sort((a, b) => b.length - a.length);
}

/** `ERROR! …` and the lines after it, which say what is wrong with a playbook. */
function ansibleError(stderr: string[]): string | undefined {
  const at = stderr.findIndex((l) => l.startsWith('ERROR!'));
  if (at < 0) return undefined;
  return stderr.slice(at, at + 12).join('\n');
}

function spawnError(binary: string, err: unknown): Error {
  if ((err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    return new UserError(
      `${binary} was not found: install ansible-core (e.g. apt-get install ansible-core) on the machine running the bot`,
    );
  }
  return new Error(`could not start ${binary}: ${(err as Error).message}`, { cause: err });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

/** Ansible leaves ssh ControlPersist masters behind for 60 s; close this run's ones now. */
export async function stopControlMasters(cpDir: string): Promise<void> {
  let sockets: string[];
  try {
    sockets = await readdir(cpDir);
  } catch {
    return;
  }
  await Promise.all(
    sockets.map(
      (name) =>
        new Promise<void>((done) => {
          execFile(
            'ssh',
            ['-o', `ControlPath=${join(cpDir, name)}`, '-O', 'exit', 'chatops-ansible-master'],
            { timeout: 5_000 },
            () => done(),
          );
        }),
    ),
  );
}
