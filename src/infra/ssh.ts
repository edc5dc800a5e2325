/**
 * SSH to the lab's nodes (node-ssh over ssh2).
 *
 * - Host keys are pinned: every connection checks the presented key against the known_hosts
 *   file (re-read when it changes) and refuses unknown hosts and mismatches. Only the pinned
 *   key types are offered as host key algorithms, so a node with several host keys presents
 *   the pinned one.
 * - Commands are argv arrays, each element shell-quoted: no shell string is ever built from
 *   chat input. `sudo: true` prefixes `sudo -n` (never prompts).
 * - One operation per node at a time (a per-node FIFO queue); one connection per
 *   user@host:port, reused, kept alive (keepalive every keepaliveIntervalMs, dropped after 3
 *   unanswered), and opened again on the next command once it has closed.
 * - `readyTimeout` only covers connecting and the handshake: every command has its own timeout,
 *   which sends TERM, then KILL (SSH signal requests, delivered by sshd to the command's process
 *   group — except for root logins, where sshd refuses them) and closes the channel.
 */
import { readFile, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { NodeSSH } from 'node-ssh';
import { UserError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { type ChannelOutcome, runChannel, type Ssh2Client } from './ssh-channel.js';
import {
  describeTarget,
  displayCommand,
  formatMs,
  HostKeyMismatchError,
  SshAuthError,
  SshConnectionLostError,
  type SshTarget,
  SshTimeoutError,
  SshUnreachableError,
  shellQuote,
  UnknownHostError,
} from './ssh-errors.js';
import {
  fingerprint,
  hostKeyAlgorithms,
  type KnownHosts,
  keysFor,
  parseKnownHosts,
} from './ssh-known-hosts.js';

export {
  HostKeyMismatchError,
  SshAuthError,
  SshConnectionLostError,
  type SshTarget,
  SshTimeoutError,
  SshUnreachableError,
  shellQuote,
  UnknownHostError,
} from './ssh-errors.js';

export interface SshPoolOptions {
  /** The bot's private key (OpenSSH or PEM format, unencrypted). */
  privateKeyFile: string;
  /** Pinned host keys, OpenSSH known_hosts format (plain, `[host]:port` and hashed entries). */
  knownHostsFile: string;
  /** Connecting + handshake + login (ssh2 readyTimeout). Default 10 s. */
  connectTimeoutMs?: number;
  /** Per command unless given. Default 60 s. */
  commandTimeoutMs?: number;
  /** Default 15 s; a connection is dropped after 3 unanswered keepalives. */
  keepaliveIntervalMs?: number;
  /**
   * After a command's timeout or abort: how long to wait for it to end after TERM before
   * sending KILL (then half as long again before giving up on it). Default 1 s.
   */
  stopGraceMs?: number;
  logger: Logger;
}

export interface ExecOptions {
  timeoutMs?: number;
  /** Each complete output line as it arrives (without the newline). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Aborting stops the command (or its wait in the node's queue) and rejects with the reason. */
  signal?: AbortSignal;
  /** Run as `sudo -n …`. */
  sudo?: boolean;
}

export interface ExecResult {
  /** The exit code; null when the command was ended by a signal. Non-zero does not throw. */
  code: number | null;
  /** e.g. `SIGKILL` when the command was ended by a signal. */
  signal?: string;
  /** As received (not trimmed). */
  stdout: string;
  stderr: string;
}

export interface WaitOptions {
  timeoutMs: number;
  /** Between attempts; default 1 s. */
  intervalMs?: number;
  signal?: AbortSignal;
}

interface Conn {
  key: string;
  ssh: NodeSSH;
  client: Ssh2Client;
  alive: boolean;
  lastError?: string;
}

/** execDetached: how long to wait for the command's exit status before calling it sent. */
const DETACH_GRACE_MS = 2000;

export class SshPool {
  private readonly connectTimeoutMs: number;
  private readonly commandTimeoutMs: number;
  private readonly keepaliveIntervalMs: number;
  private readonly log: Logger;
  private readonly conns = new Map<string, Conn>();
  private readonly retired = new Set<Conn>();
  private readonly queues = new Map<string, Promise<void>>();
  private knownHosts?: { mtimeMs: number; size: number; parsed: KnownHosts };
  private closed = false;

  constructor(private readonly opts: SshPoolOptions) {
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
    this.commandTimeoutMs = opts.commandTimeoutMs ?? 60_000;
    this.keepaliveIntervalMs = opts.keepaliveIntervalMs ?? 15_000;
    this.log = opts.logger;
  }

  async exec(node: SshTarget, argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const full = withSudo(argv, opts.sudo);
    const command = shellQuote(full);
    const shown = displayCommand(full);
    const timeoutMs = opts.timeoutMs ?? this.commandTimeoutMs;
    return this.queued(node, opts.signal, async () => {
      const started = Date.now();
      const { outcome, conn } = await this.run(node, command, {
        timeoutMs,
        stopGraceMs: this.opts.stopGraceMs ?? 1000,
        ...(opts.onLine ? { onLine: opts.onLine } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      const ms = Date.now() - started;
      const log = { node: node.name, cmd: full[0], args: full.length - 1, ms };
      switch (outcome.kind) {
        case 'exit':
          this.log.debug({ ...log, code: outcome.code, signal: outcome.signal }, 'ssh exec done');
          return {
            code: outcome.code,
            ...(outcome.signal ? { signal: outcome.signal } : {}),
            stdout: outcome.stdout,
            stderr: outcome.stderr,
          };
        case 'timeout':
          this.log.warn({ ...log, timeoutMs, stopped: outcome.stopped }, 'ssh exec timed out');
          throw new SshTimeoutError(node, shown, timeoutMs, outcome.stopped);
        case 'aborted':
          this.log.info({ ...log, stopped: outcome.stopped }, 'ssh exec aborted');
          throw abortError(outcome.reason);
        default:
          throw this.outcomeError(node, shown, outcome, conn);
      }
    });
  }

  /**
   * For commands that take the connection down (reboot): resolves once the command runs and
   * either exited 0, lost its connection, or is still running after a short grace period.
   * Rejects if it exits non-zero at once (e.g. sudo refused). The connection is not reused.
   */
  async execDetached(
    node: SshTarget,
    argv: string[],
    opts: { sudo?: boolean } = {},
  ): Promise<void> {
    const full = withSudo(argv, opts.sudo);
    const shown = displayCommand(full);
    await this.queued(node, undefined, async () => {
      const { outcome, conn } = await this.run(node, shellQuote(full), {
        timeoutMs: DETACH_GRACE_MS,
        leaveRunning: true,
      });
      this.retire(conn);
      this.log.info({ node: node.name, cmd: full[0], outcome: outcome.kind }, 'ssh exec detached');
      if (outcome.kind === 'timeout' || outcome.kind === 'lost') return;
      if (outcome.kind === 'exit') {
        if (outcome.code === 0 || outcome.code === null) return;
        const why = lastLines(outcome.stderr || outcome.stdout);
        throw new UserError(
          `\`${shown}\` on ${describeTarget(node)} failed (exit ${outcome.code})${why ? `: ${why}` : ''}`,
        );
      }
      throw this.outcomeError(node, shown, outcome, conn);
    });
  }

  /**
   * Whether the node completes an SSH handshake with its pinned host key within timeoutMs (a
   * refused login still counts: the node is up). Throws HostKeyMismatchError and
   * UnknownHostError instead of answering false: those are not "down".
   */
  async reachable(node: SshTarget, timeoutMs = this.connectTimeoutMs): Promise<boolean> {
    return (await this.probe(node, timeoutMs)).up;
  }

  /** Polls until the node no longer answers SSH; drops its pooled connection first. */
  async waitForDown(node: SshTarget, opts: WaitOptions): Promise<void> {
    this.forget(node);
    await this.poll(node, opts, false);
  }

  /** Polls until the node answers SSH with its pinned key again. */
  async waitForUp(node: SshTarget, opts: WaitOptions): Promise<void> {
    this.forget(node);
    await this.poll(node, opts, true);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const conn of [...this.conns.values(), ...this.retired]) conn.ssh.dispose();
    this.conns.clear();
    this.retired.clear();
  }

  // --- internals -------------------------------------------------------------------------

  private async poll(node: SshTarget, opts: WaitOptions, wantUp: boolean): Promise<void> {
    const interval = opts.intervalMs ?? 1000;
    const deadline = Date.now() + opts.timeoutMs;
    let reason = '';
    let silent = 0; // probes in a row that got no answer, without a sign the node is down
    for (;;) {
      if (opts.signal?.aborted) throw abortError(opts.signal.reason);
      const left = deadline - Date.now();
      const r = await this.probe(node, Math.max(200, Math.min(this.connectTimeoutMs, left)));
      const last = Date.now() + interval > deadline;
      if (r.up && wantUp) return;
      if (!r.up && !wantUp) {
        // sshd gone (refused, reset, closed, no route) is down. A probe that only timed out may
        // be a busy node or network: down once a second one in a row times out too.
        if (r.definite || ++silent >= 2) return;
      } else silent = 0;
      reason = r.reason ?? '';
      if (last) break;
      try {
        await sleep(interval, undefined, opts.signal ? { signal: opts.signal } : {});
      } catch {
        throw abortError(opts.signal?.reason);
      }
    }
    const within = formatMs(opts.timeoutMs);
    throw new UserError(
      wantUp
        ? `${describeTarget(node)} did not come back within ${within}${reason ? ` (last attempt: ${reason})` : ''}.`
        : `${describeTarget(node)} still answers SSH after ${within}: it did not go down.`,
    );
  }

  private async probe(
    node: SshTarget,
    timeoutMs: number,
  ): Promise<{ up: boolean; reason?: string; definite?: boolean }> {
    let ssh: NodeSSH | undefined;
    try {
      ssh = (await this.open(node, timeoutMs, 0)).ssh;
      return { up: true };
    } catch (err) {
      if (err instanceof SshAuthError) return { up: true };
      if (err instanceof SshUnreachableError)
        return { up: false, reason: err.reason, definite: !ONLY_SLOW.test(err.reason) };
      throw err;
    } finally {
      ssh?.dispose();
    }
  }

  /** Runs one command on the node's pooled connection; reconnects once if it was already gone. */
  private async run(
    node: SshTarget,
    command: string,
    opts: Parameters<typeof runChannel>[2],
  ): Promise<{ outcome: ChannelOutcome; conn: Conn }> {
    for (let attempt = 0; ; attempt++) {
      const conn = await this.connection(node);
      const outcome = await runChannel(conn.client, command, opts);
      // Nothing ran, and the pooled connection was already dead: its socket was gone, or the
      // node went away since its last command and the session open failed as the connection
      // closed under it (ssh2 may call back before its 'close'). A fresh connection says what
      // is wrong now (ECONNREFUSED: "not reachable", not "connection lost").
      const stale =
        outcome.kind === 'not-connected' ||
        (outcome.kind === 'refused' && !(await aliveAfterEvents(conn)));
      if (stale && attempt === 0) {
        this.drop(conn);
        continue;
      }
      return { outcome, conn };
    }
  }

  private outcomeError(node: SshTarget, shown: string, outcome: ChannelOutcome, conn: Conn) {
    if (outcome.kind === 'refused' && conn.alive) {
      return new UserError(
        `${describeTarget(node)} refused to run \`${shown}\`: ${outcome.error.message}`,
      );
    }
    const reason =
      conn.lastError ?? (outcome.kind === 'lost' ? 'the channel closed' : 'connection closed');
    return new SshConnectionLostError(node, shown, reason);
  }

  private async connection(node: SshTarget): Promise<Conn> {
    const key = connKey(node);
    const existing = this.conns.get(key);
    if (existing?.alive) return existing;
    const { ssh, client } = await this.open(node, this.connectTimeoutMs, this.keepaliveIntervalMs);
    const conn: Conn = { key, ssh, client, alive: true };
    client.on('error', (err: Error) => {
      conn.lastError = err.message;
      this.log.warn({ node: node.name, err: err.message }, 'ssh connection error');
    });
    client.on('close', () => {
      conn.alive = false;
      if (this.conns.get(key) === conn) this.conns.delete(key);
      this.retired.delete(conn);
      this.log.debug({ node: node.name }, 'ssh connection closed');
    });
    if (this.closed) {
      ssh.dispose();
      throw new Error('the SSH pool is closed');
    }
    this.conns.set(key, conn);
    this.log.debug({ node: node.name, host: node.host, port: node.port }, 'ssh connected');
    return conn;
  }

  /** Connects and logs in, verifying the host key. Errors are UserErrors naming the node. */
  private async open(
    node: SshTarget,
    readyTimeout: number,
    keepaliveInterval: number,
  ): Promise<{ ssh: NodeSSH; client: Ssh2Client }> {
    const knownHosts = await this.loadKnownHosts();
    const { pinned, revoked } = keysFor(knownHosts, node.host, node.port);
    if (pinned.length === 0) throw new UnknownHostError(node, this.opts.knownHostsFile);
    const privateKey = await this.loadPrivateKey();
    let verdict: 'ok' | 'mismatch' | 'revoked' | undefined;
    let presented: Buffer | undefined;
    const ssh = new NodeSSH();
    try {
      await ssh.connect({
        host: node.host,
        port: node.port,
        username: node.user,
        privateKey,
        readyTimeout,
        keepaliveInterval,
        keepaliveCountMax: 3,
        tryKeyboard: false,
        algorithms: { serverHostKey: hostKeyAlgorithms(pinned) },
        hostVerifier: (key: Buffer) => {
          presented = key;
          if (revoked.some((k) => k.blob.equals(key))) verdict = 'revoked';
          else verdict = pinned.some((k) => k.blob.equals(key)) ? 'ok' : 'mismatch';
          return verdict === 'ok';
        },
      });
    } catch (err) {
      ssh.dispose();
      if ((verdict === 'mismatch' || verdict === 'revoked') && presented) {
        const error = new HostKeyMismatchError(
          node,
          [...new Set(pinned.map((k) => fingerprint(k.blob)))],
          fingerprint(presented),
          this.opts.knownHostsFile,
          verdict === 'revoked',
        );
        this.log.error({ node: node.name, host: node.host, port: node.port }, error.message);
        throw error;
      }
      throw this.connectError(node, err, readyTimeout);
    }
    const client = ssh.connection as unknown as Ssh2Client;
    // node-ssh stops listening for 'error' once connected: an unhandled one would crash us.
    client.on('error', () => {});
    return { ssh, client };
  }

  private connectError(node: SshTarget, err: unknown, readyTimeout: number): Error {
    if (err instanceof UserError) return err;
    const e = err as Error & { code?: string | null; level?: string };
    const message = e?.message ?? String(err);
    if (e?.level === 'client-authentication') return new SshAuthError(node, message);
    if (/privateKey|private key|passphrase/i.test(message)) {
      return new UserError(
        `The bot's SSH key ${this.opts.privateKeyFile} cannot be used: ${message}`,
        'It must be an unencrypted OpenSSH or PEM private key.',
      );
    }
    if (/Timed out while waiting for handshake/.test(message)) {
      return new SshUnreachableError(node, `no SSH handshake within ${formatMs(readyTimeout)}`);
    }
    if (message === 'No response from server') {
      return new SshUnreachableError(node, 'the connection closed during the handshake');
    }
    if (e?.code && /^E[A-Z_]+$/.test(e.code)) return new SshUnreachableError(node, e.code);
    return new SshUnreachableError(node, message);
  }

  private async loadKnownHosts(): Promise<KnownHosts> {
    const file = this.opts.knownHostsFile;
    let st: { mtimeMs: number; size: number };
    try {
      st = await stat(file);
    } catch (err) {
      throw new UserError(
        `The known_hosts file ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? err}): no host key is pinned, so no node can be reached.`,
        'Create it with ssh-keyscan (verify each fingerprint out of band) and set ssh.knownHostsFile.',
      );
    }
    const cached = this.knownHosts;
    if (cached && cached.mtimeMs === st.mtimeMs && cached.size === st.size) return cached.parsed;
    const parsed = parseKnownHosts(await readFile(file, 'utf8'));
    for (const s of parsed.skipped) {
      this.log.warn({ file, line: s.line, reason: s.reason }, 'known_hosts line ignored');
    }
    this.knownHosts = { mtimeMs: st.mtimeMs, size: st.size, parsed };
    return parsed;
  }

  private async loadPrivateKey(): Promise<string> {
    try {
      return await readFile(this.opts.privateKeyFile, 'utf8');
    } catch (err) {
      throw new UserError(
        `The bot's SSH key ${this.opts.privateKeyFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? err}).`,
      );
    }
  }

  /** One operation per node at a time, in arrival order. */
  private async queued<T>(
    node: SshTarget,
    signal: AbortSignal | undefined,
    fn: () => Promise<T>,
  ): Promise<T> {
    if (this.closed) throw new Error('the SSH pool is closed');
    const key = `${node.host}:${node.port}`;
    const prev = this.queues.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => {
      release = r;
    });
    const tail = prev.then(() => mine);
    this.queues.set(key, tail);
    try {
      await untilOrAbort(prev, signal);
      if (this.closed) throw new Error('the SSH pool is closed');
      return await fn();
    } finally {
      release();
      if (this.queues.get(key) === tail) this.queues.delete(key);
    }
  }

  /** Drops and closes the node's pooled connections (e.g. it is rebooting). */
  private forget(node: SshTarget): void {
    for (const conn of [...this.conns.values()]) {
      if (conn.key.endsWith(`@${node.host}:${node.port}`)) this.drop(conn);
    }
  }

  private drop(conn: Conn): void {
    conn.alive = false;
    if (this.conns.get(conn.key) === conn) this.conns.delete(conn.key);
    conn.ssh.dispose();
  }

  /** Not reused, but left open a while so a command still running is not cut off. */
  private retire(conn: Conn): void {
    if (this.conns.get(conn.key) === conn) this.conns.delete(conn.key);
    if (!conn.alive) return;
    this.retired.add(conn);
    setTimeout(() => {
      this.retired.delete(conn);
      conn.ssh.dispose();
    }, 10_000).unref();
  }
}

function connKey(node: SshTarget): string {
  return `${node.user}@${node.host}:${node.port}`;
}

function withSudo(argv: string[], sudo: boolean | undefined): string[] {
  if (!Array.isArray(argv) || argv.length === 0) throw new Error('exec: argv must not be empty');
  return sudo ? ['sudo', '-n', ...argv] : argv;
}

function abortError(reason: unknown): Error {
  if (reason instanceof Error) return reason;
  return new DOMException(reason === undefined ? 'aborted' : String(reason), 'AbortError');
}

function untilOrAbort(p: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(abortError(signal.reason));
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal.reason));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

function lastLines(text: string, n = 3): string {
  return text.trim().split('\n').slice(-n).join(' / ').slice(0, 300);
}

/**
 * Unreachable reasons that may only mean a slow node or network (no answer in time). Any other
 * (refused, reset, closed during the handshake, no route) means its sshd is gone: down.
 */
const ONLY_SLOW = /^(no SSH handshake within |ETIMEDOUT$)/;

/** Whether the connection is still up once the socket events already queued have been handled. */
async function aliveAfterEvents(conn: Conn): Promise<boolean> {
  await new Promise((resolve) => setImmediate(resolve));
  return conn.alive;
}
