/**
 * One command on one ssh2 session channel: output collected and split into lines, exit status,
 * a timeout and an abort signal that stop the remote process (signal request, then close).
 */
import type { EventEmitter } from 'node:events';
import { StringDecoder } from 'node:string_decoder';

/** The parts of ssh2's ClientChannel used here (node-ssh's types leave ssh2's untyped). */
export interface Ssh2Channel extends EventEmitter {
  stderr: EventEmitter;
  writable: boolean;
  end(): void;
  close(): void;
  signal(name: string): void;
}

/** The parts of ssh2's Client used here. */
export interface Ssh2Client extends EventEmitter {
  exec(command: string, cb: (err: Error | undefined, channel: Ssh2Channel) => void): void;
  end(): void;
  destroy(): void;
}

export type ChannelOutcome =
  | { kind: 'exit'; code: number | null; signal?: string; stdout: string; stderr: string }
  /** `stopped`: the command was seen to end after the stop signals (else it may still run). */
  | { kind: 'timeout'; stopped: boolean }
  | { kind: 'aborted'; reason: unknown; stopped: boolean }
  /** The channel closed without an exit status: the connection (or the session) went away. */
  | { kind: 'lost' }
  /** The session could not be opened or the exec request was refused: nothing ran. */
  | { kind: 'refused'; error: Error }
  /** `client.exec` threw synchronously: the socket was already gone, nothing was sent. */
  | { kind: 'not-connected'; error: Error };

export interface ChannelOptions {
  timeoutMs: number;
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  signal?: AbortSignal;
  /** Called once the server accepted the exec request (the command is running). */
  onStarted?: (channel: Ssh2Channel) => void;
  /** At the timeout, leave the command running instead of stopping it (execDetached). */
  leaveRunning?: boolean;
  /** After a timeout or abort: TERM, wait this long for the command to end, KILL, wait half. */
  stopGraceMs?: number;
}

/** Per stream, at most this many characters are kept (the tail; lines are still streamed). */
const MAX_KEEP = 4 * 1024 * 1024;
/** A line longer than this is passed on in pieces. */
const MAX_LINE = 64 * 1024;

class Collector {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  private text = '';
  private dropped = false;

  constructor(
    private readonly stream: 'stdout' | 'stderr',
    private readonly onLine?: ChannelOptions['onLine'],
  ) {}

  push(chunk: Buffer): void {
    this.add(this.decoder.write(chunk));
  }

  end(): string {
    this.add(this.decoder.end());
    if (this.partial) this.emit(this.partial);
    this.partial = '';
    return this.dropped ? `[… earlier output dropped …]\n${this.text}` : this.text;
  }

  private add(s: string): void {
    if (!s) return;
    this.text += s;
    if (this.text.length > MAX_KEEP) {
      this.text = this.text.slice(-MAX_KEEP / 2);
      this.dropped = true;
    }
    if (!this.onLine) return;
    this.partial += s;
    let nl = this.partial.indexOf('\n');
    while (nl !== -1) {
      this.emit(this.partial.slice(0, nl).replace(/\r$/, ''));
      this.partial = this.partial.slice(nl + 1);
      nl = this.partial.indexOf('\n');
    }
    while (this.partial.length > MAX_LINE) {
      this.emit(this.partial.slice(0, MAX_LINE));
      this.partial = this.partial.slice(MAX_LINE);
    }
  }

  private emit(line: string): void {
    try {
      this.onLine?.(line, this.stream);
    } catch {
      // a failing listener must not break the command
    }
  }
}

/**
 * Sends a signal request. ssh2's `channel.signal()` is a no-op once our side sent EOF (which we
 * do at once: no stdin), so fall back to the protocol call it makes. OpenSSH's sshd delivers it
 * with killpg() to the command's whole process group — but refuses it for root logins ("session
 * signalling requires privilege separation": root sessions run in the monitor process). sudo
 * relays TERM to its command but cannot relay KILL.
 */
export function signalChannel(channel: Ssh2Channel, name: string): void {
  try {
    if (channel.writable) {
      channel.signal(name);
      return;
    }
    const ch = channel as unknown as {
      outgoing?: { id: number; state: string };
      _client?: { _protocol?: { signal(id: number, name: string): void } };
    };
    const state = ch.outgoing?.state;
    if (ch.outgoing && (state === 'open' || state === 'eof')) {
      ch._client?._protocol?.signal(ch.outgoing.id, name);
    }
  } catch {
    // the channel or connection is already gone
  }
}

export function runChannel(
  client: Ssh2Client,
  command: string,
  opts: ChannelOptions,
): Promise<ChannelOutcome> {
  return new Promise<ChannelOutcome>((resolve) => {
    let done = false;
    let channel: Ssh2Channel | undefined;
    let timer: NodeJS.Timeout | undefined;
    /** Set once we are stopping the command: its 'close' then only wakes `closed`. */
    let stopping = false;
    let closed = false;
    let onClosed: (() => void) | undefined;

    const finish = (outcome: ChannelOutcome) => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    const closedWithin = (ms: number) =>
      new Promise<boolean>((res) => {
        if (closed) return res(true);
        const t = setTimeout(() => res(false), ms);
        onClosed = () => {
          clearTimeout(t);
          res(true);
        };
      });
    /** TERM, then KILL, then close the channel; `stopped` = the command was seen to end. */
    const stop = async (outcome: (stopped: boolean) => ChannelOutcome) => {
      stopping = true;
      if (timer) clearTimeout(timer);
      const ch = channel;
      if (!ch) return finish(outcome(true)); // not started yet; closed when it opens
      const grace = opts.stopGraceMs ?? 1000;
      signalChannel(ch, 'TERM');
      let stopped = await closedWithin(grace);
      if (!stopped) {
        signalChannel(ch, 'KILL');
        stopped = await closedWithin(grace / 2);
      }
      if (!stopped) {
        try {
          ch.close();
        } catch {
          // already gone
        }
      }
      finish(outcome(stopped));
    };
    const onAbort = () => {
      void stop((stopped) => ({ kind: 'aborted', reason: opts.signal?.reason, stopped }));
    };
    if (opts.signal?.aborted) {
      finish({ kind: 'aborted', reason: opts.signal.reason, stopped: true });
      return;
    }
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    try {
      client.exec(command, (err, ch) => {
        if (err) {
          finish({ kind: 'refused', error: err });
          return;
        }
        channel = ch;
        if (stopping) {
          // aborted while the session was being opened
          signalChannel(ch, 'KILL');
          ch.close();
          return;
        }
        const out = new Collector('stdout', opts.onLine);
        const errOut = new Collector('stderr', opts.onLine);
        let exit: { code: number | null; signal?: string } | undefined;
        ch.on('data', (d: Buffer) => out.push(d));
        ch.stderr.on('data', (d: Buffer) => errOut.push(d));
        ch.on('exit', (code: number | null, signal?: string) => {
          exit = { code: code ?? null, ...(signal ? { signal } : {}) };
        });
        ch.on('error', () => {
          // surfaces as 'close' without exit status
        });
        ch.on('close', () => {
          closed = true;
          const stdout = out.end();
          const stderr = errOut.end();
          if (stopping) onClosed?.();
          else finish(exit ? { kind: 'exit', ...exit, stdout, stderr } : { kind: 'lost' });
        });
        ch.end();
        timer = setTimeout(() => {
          if (opts.leaveRunning) finish({ kind: 'timeout', stopped: false });
          else void stop((stopped) => ({ kind: 'timeout', stopped }));
        }, opts.timeoutMs);
        opts.onStarted?.(ch);
      });
    } catch (err) {
      finish({ kind: 'not-connected', error: err as Error });
    }
  });
}
