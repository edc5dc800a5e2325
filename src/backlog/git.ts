import { execFile } from 'node:child_process';
import { redactUrlCredentials } from '../core/redact.js';

/**
 * A small git CLI wrapper: `execFile` with an argument array (never a shell string), no
 * terminal prompts, a timeout, English messages, and errors that carry git's stderr (with
 * credentials in URLs redacted: a GitError's message, args and output may be logged).
 *
 *   const git = new Git({ cwd: '/var/lib/chatops/tasks-clone' });
 *   const head = (await git.run(['rev-parse', 'HEAD'])).stdout.trim();
 */

export interface GitOptions {
  /** Working directory for every command (a clone, or a bare repo with --git-dir). */
  cwd: string;
  /** Per command; killed with SIGTERM after it. Default 30 s. */
  timeoutMs?: number;
  /** Extra environment on top of the process environment. */
  env?: Record<string, string>;
}

export interface GitResult {
  stdout: string;
  stderr: string;
}

export class GitError extends Error {
  override readonly name = 'GitError';
  constructor(
    message: string,
    readonly args: readonly string[],
    /** Exit code, or null when git was killed (timeout) or could not start. */
    readonly exitCode: number | null,
    readonly stdout: string,
    readonly stderr: string,
    readonly timedOut: boolean,
  ) {
    super(message);
  }
}

export const DEFAULT_GIT_TIMEOUT_MS = 30_000;

const BASE_ENV = {
  GIT_TERMINAL_PROMPT: '0',
  // ssh has no terminal here (stdin is a pipe); make sure it does not pop up an askpass either.
  SSH_ASKPASS_REQUIRE: 'never',
  LC_ALL: 'C',
  LANG: 'C',
};

export class Git {
  readonly cwd: string;
  private readonly timeoutMs: number;
  private readonly env: Record<string, string>;

  constructor(opts: GitOptions) {
    this.cwd = opts.cwd;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_GIT_TIMEOUT_MS;
    this.env = opts.env ?? {};
  }

  /** Runs `git <args>`; rejects with a GitError (message includes stderr) on failure. */
  run(
    args: readonly string[],
    opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {},
  ): Promise<GitResult> {
    return runGit(args, {
      cwd: opts.cwd ?? this.cwd,
      timeoutMs: opts.timeoutMs ?? this.timeoutMs,
      env: { ...this.env, ...opts.env },
    });
  }

  /** stdout of `git <args>` without the trailing newline. */
  async out(args: readonly string[], opts: { env?: Record<string, string> } = {}): Promise<string> {
    return (await this.run(args, opts)).stdout.replace(/\n$/, '');
  }
}

export function runGit(args: readonly string[], opts: GitOptions): Promise<GitResult> {
  const timeout = opts.timeoutMs ?? DEFAULT_GIT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      [...args],
      {
        cwd: opts.cwd,
        timeout,
        killSignal: 'SIGTERM',
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'utf8',
        windowsHide: true,
        // git needs PATH and HOME (ssh keys, config), so the process environment is passed on.
        env: { ...process.env, ...BASE_ENV, ...opts.env },
      },
      (error, stdout, stderr) => {
        if (!error) {
          resolve({ stdout, stderr });
          return;
        }
        const e = error as NodeJS.ErrnoException & {
          killed?: boolean;
          code?: unknown;
          signal?: string | null;
        };
        const timedOut = e.killed === true && e.signal === 'SIGTERM';
        const exitCode = typeof e.code === 'number' ? e.code : null;
        const shown = args.map(redactUrlCredentials);
        const out = redactUrlCredentials(stdout);
        const err = redactUrlCredentials(stderr);
        const cmd = `git ${shown.join(' ')}`;
        const detail = err.trim() || out.trim() || redactUrlCredentials(e.message);
        const message = timedOut
          ? `${cmd} timed out after ${timeout} ms${err.trim() ? `: ${err.trim()}` : ''}`
          : e.code === 'ENOENT'
            ? `${cmd}: git is not installed or not on PATH`
            : `${cmd} failed (exit ${exitCode ?? e.signal ?? '?'}): ${detail}`;
        reject(new GitError(message, shown, exitCode, out, err, timedOut));
      },
    );
  });
}
