/**
 * The bot's own Discord gateway connection (one shard, JSON text frames, no compression),
 * following discord-api-docs `developers/events/gateway.mdx` ("Connection Lifecycle":
 * Hello → heartbeats with jitter → Identify → Ready; "Sending Heartbeats": a heartbeat without
 * an ACK before the next one is a zombied connection — close with a non-1000 code and Resume;
 * "Resuming": on `resume_gateway_url` with `session_id` and the last sequence number; op 7
 * Reconnect; op 9 Invalid Session `d: true` → Resume, `false` → wait 1–5 s and Identify) and
 * `topics/opcodes-and-status-codes.mdx` (close codes: 4004 authentication failed and 4010–4014
 * are not to be reconnected after; 4007 invalid seq and 4009 session timed out need a new
 * session; the rest may resume).
 *
 * Dispatches go to `onDispatch(t, d)` in order. Lost connections are resumed (or, without a
 * session, identified anew) with back-off from 1 s to 30 s while Discord cannot be reached.
 * A first connection that closes before READY fails `connect()`: start-up's own retry takes it.
 * WebSocket: the `ws` package.
 */
import type { Logger } from '../../core/logger.js';
import type { DiscordRest } from './discord-rest.js';

/** Gateway intents (discord-api-docs `events/gateway.mdx`): GUILDS only — no message content. */
export const INTENT_GUILDS = 1 << 0;

const FATAL_CLOSE: Record<number, string> = {
  4004: 'authentication failed: the bot token is wrong or was reset',
  4010: 'invalid shard',
  4011: 'sharding required',
  4012: 'invalid API version',
  4013: 'invalid intents',
  4014: 'disallowed intents: enable them for the application in the Developer Portal',
};
/**
 * Close codes after which the session cannot be resumed (a new Identify is needed): 1000, 4003
 * "not authenticated… or this session has been invalidated", 4005 already authenticated, 4007
 * invalid seq, 4009 session timed out.
 */
const NEW_SESSION_CLOSE = new Set([1000, 4003, 4005, 4007, 4009]);
/** Resumes that failed in a row before the session is given up for a new Identify ("if the reconnect fails"). */
const MAX_RESUME_FAILURES = 3;
/** One Identify per 5 s (max_concurrency 1, events/gateway.mdx "Session Start Limit"). */
const IDENTIFY_INTERVAL_MS = 5000;

// biome-ignore lint/suspicious/noExplicitAny: raw gateway payloads, read field by field
export type Json = Record<string, any>;

interface Socket {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (ev: Json) => void): void;
}
type SocketCtor = new (url: string, options?: { handshakeTimeout?: number }) => Socket;

/** The `ws` package (over node:http), not Node 22+'s global WebSocket: that one is undici's (~16 MB). */
async function webSocketClass(): Promise<SocketCtor> {
  const ws = (await import('ws')) as unknown as { WebSocket: SocketCtor };
  return ws.WebSocket;
}

export class DiscordGatewayError extends Error {
  constructor(
    readonly closeCode: number,
    reason: string,
    /** A close code Discord says not to reconnect after (4004, 4010–4014). */
    readonly fatal = false,
  ) {
    super(`Discord closed the gateway (${closeCode}): ${reason}`);
    this.name = 'DiscordGatewayError';
  }
}

export interface DiscordGatewayOptions {
  token: string;
  intents: number;
  rest: DiscordRest;
  log: Logger;
  onDispatch: (t: string, d: Json) => void;
  /** Called when the connection is lost for good (a fatal close code after READY). */
  onFatal?: (err: DiscordGatewayError) => void;
  /** Back-off while Discord cannot be reached: doubles from the first to the last. */
  backoffMs?: [number, number];
  /** A connection without HELLO by then is given up (discord.js: 60 s). */
  helloTimeoutMs?: number;
}

export class DiscordGateway {
  private socket: Socket | null = null;
  private WebSocketImpl?: SocketCtor;
  private gatewayUrl?: string;
  private resumeUrl?: string;
  private sessionId?: string;
  private seq: number | null = null;
  private heartbeat?: NodeJS.Timeout;
  private firstBeat?: NodeJS.Timeout;
  private reconnectTimer?: NodeJS.Timeout;
  private acked = true;
  private stopped = false;
  private failures = 0;
  private lastIdentifyAt = 0;
  private identifyTimer?: NodeJS.Timeout;
  private helloTimer?: NodeJS.Timeout;
  private readyWaiter?: { resolve: (d: Json) => void; reject: (e: Error) => void };

  constructor(private readonly opts: DiscordGatewayOptions) {}

  /**
   * Connects and identifies; resolves with READY's `d`. Rejects when the first connection
   * closes (or says nothing) before READY — fatal close codes with `fatal` set — and when no
   * session may be started today.
   */
  async connect(): Promise<Json> {
    this.stopped = false;
    this.failures = 0;
    this.WebSocketImpl = await webSocketClass();
    const info = await this.opts.rest.get<{
      url: string;
      session_start_limit?: { remaining?: number; total?: number; reset_after?: number };
    }>('/gateway/bot', { retries: 0 });
    if (this.stopped) throw new Error('the Discord gateway was closed while connecting');
    const limit = info.session_start_limit;
    if (limit && typeof limit.remaining === 'number' && limit.remaining < 1) {
      const minutes = Math.ceil((limit.reset_after ?? 0) / 60_000);
      throw new DiscordGatewayError(
        0,
        `no session may be started: this token used its ${limit.total ?? 1000} Identify calls of the day (Discord resets it when they run out); they come back in ${minutes} min`,
        true,
      );
    }
    this.gatewayUrl = info.url;
    const ready = new Promise<Json>((resolve, reject) => {
      this.readyWaiter = { resolve, reject };
    });
    this.open();
    return ready;
  }

  /** Closes with 1000 (the session ends: the next connect identifies anew) and stops reconnecting. */
  close(): Promise<void> {
    this.stopped = true;
    this.clearTimers();
    clearTimeout(this.reconnectTimer);
    this.sessionId = undefined;
    this.resumeUrl = undefined;
    this.seq = null;
    this.failWaiter(new Error('the Discord gateway was closed while connecting'));
    const socket = this.socket;
    this.socket = null;
    if (!socket || socket.readyState >= 2) return Promise.resolve();
    return new Promise((resolve) => {
      const done = setTimeout(resolve, 1000);
      socket.addEventListener('close', () => {
        clearTimeout(done);
        resolve();
      });
      socket.close(1000, 'bot stopping');
    });
  }

  private open(): void {
    if (this.stopped) return;
    const resuming = Boolean(this.sessionId && this.resumeUrl);
    const base = resuming ? this.resumeUrl! : this.gatewayUrl!;
    const url = `${base.replace(/\/+$/, '')}/?v=10&encoding=json`;
    const Impl = this.WebSocketImpl!;
    const socket = new Impl(url, { handshakeTimeout: 30_000 });
    this.socket = socket;
    socket.addEventListener('open', () => {
      if (this.socket !== socket) return;
      clearTimeout(this.helloTimer);
      this.helloTimer = setTimeout(() => {
        if (this.socket !== socket) return;
        this.opts.log.warn('Discord sent no HELLO; reconnecting');
        if (this.failWaiter(new DiscordGatewayError(0, 'no HELLO from Discord'))) {
          this.stopped = true;
          this.socket = null;
          socket.close(4000, 'no HELLO');
        } else this.drop(socket, 4000);
      }, this.opts.helloTimeoutMs ?? 60_000);
    });
    socket.addEventListener('message', (ev) => {
      if (this.socket !== socket) return;
      let msg: Json;
      try {
        msg = JSON.parse(String(ev.data)) as Json;
      } catch {
        return;
      }
      this.onMessage(socket, msg);
    });
    socket.addEventListener('error', () => {});
    socket.addEventListener('close', (ev) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.onClose(Number(ev.code), String(ev.reason ?? ''));
    });
  }

  private send(socket: Socket, payload: Json): void {
    if (socket.readyState === 1) socket.send(JSON.stringify(payload));
  }

  private onMessage(socket: Socket, msg: Json): void {
    switch (msg.op) {
      case 10: {
        clearTimeout(this.helloTimer);
        this.startHeartbeat(socket, Number(msg.d?.heartbeat_interval ?? 41_250));
        if (this.sessionId && this.resumeUrl) this.resume(socket);
        else this.identify(socket);
        return;
      }
      case 11:
        this.acked = true;
        return;
      case 1:
        this.send(socket, { op: 1, d: this.seq });
        return;
      case 7:
        this.opts.log.info('Discord asked the bot to reconnect; resuming');
        this.drop(socket, 4000);
        return;
      case 9:
        this.onInvalidSession(socket, msg.d === true);
        return;
      case 0:
        if (typeof msg.s === 'number') this.seq = msg.s;
        this.onDispatch(String(msg.t), (msg.d ?? {}) as Json);
        return;
    }
  }

  private resume(socket: Socket): void {
    this.send(socket, {
      op: 6,
      d: { token: this.opts.token, session_id: this.sessionId, seq: this.seq },
    });
  }

  /** IDENTIFY, at most one per 5 s: a session that keeps failing cannot spend the day's 1000. */
  private identify(socket: Socket): void {
    const wait = this.lastIdentifyAt + IDENTIFY_INTERVAL_MS - Date.now();
    if (wait > 0) {
      this.identifyTimer = setTimeout(() => this.identify(socket), wait);
      return;
    }
    if (this.socket !== socket) return;
    this.lastIdentifyAt = Date.now();
    this.send(socket, {
      op: 2,
      d: {
        token: this.opts.token,
        intents: this.opts.intents,
        properties: { os: process.platform, browser: 'homelab-chatops', device: 'homelab-chatops' },
      },
    });
  }

  /** Rejects a pending connect(); true if there was one. */
  private failWaiter(err: Error): boolean {
    const waiter = this.readyWaiter;
    this.readyWaiter = undefined;
    waiter?.reject(err);
    return Boolean(waiter);
  }

  private onDispatch(t: string, d: Json): void {
    if (t === 'READY') {
      this.sessionId = d.session_id;
      this.resumeUrl = d.resume_gateway_url;
      this.failures = 0;
      const waiter = this.readyWaiter;
      this.readyWaiter = undefined;
      waiter?.resolve(d);
    } else if (t === 'RESUMED') {
      this.failures = 0;
      this.opts.log.info('Discord gateway resumed');
    }
    try {
      this.opts.onDispatch(t, d);
    } catch (err) {
      this.opts.log.error({ err, event: t }, 'Discord event handler failed');
    }
  }

  private onInvalidSession(socket: Socket, resumable: boolean): void {
    this.opts.log.info({ resumable }, 'Discord invalidated the gateway session');
    if (!resumable || this.failures >= MAX_RESUME_FAILURES) {
      this.sessionId = undefined;
      this.seq = null;
    }
    // Resume (with back-off if it keeps being refused); a new session after 1–5 s
    // (events/gateway.mdx, "Invalid Session").
    this.drop(socket, 4000, resumable ? 0 : 1000 + Math.random() * 4000);
  }

  /**
   * Closes this socket without ending the session and connects again after `delayMs` — or
   * later, when reconnects keep failing (the back-off of {@link nextDelay}).
   */
  private drop(socket: Socket, code: number, delayMs = 0): void {
    this.clearTimers();
    if (this.socket === socket) this.socket = null;
    try {
      socket.close(code, 'reconnecting');
    } catch {
      // already closing
    }
    this.scheduleOpen(Math.max(delayMs, this.nextDelay()));
  }

  /** 0 the first time; then the back-off doubles until READY or RESUMED resets it. */
  private nextDelay(): number {
    const [first, last] = this.opts.backoffMs ?? [1000, 30_000];
    const delay = this.failures === 0 ? 0 : Math.min(last, first * 2 ** (this.failures - 1));
    this.failures++;
    return delay;
  }

  private onClose(code: number, reason: string): void {
    this.clearTimers();
    if (this.stopped) return;
    const fatal = FATAL_CLOSE[code];
    if (fatal) {
      const err = new DiscordGatewayError(code, fatal, true);
      this.stopped = true;
      if (!this.failWaiter(err)) {
        this.opts.log.error(
          { code, reason },
          `Discord gateway closed for good: ${fatal}. Commands and alerts on Discord stop until the bot is restarted with this fixed`,
        );
        this.opts.onFatal?.(err);
      }
      return;
    }
    // Never got READY on this start: the caller retries with back-off (and /readyz says so).
    const beforeReady = new DiscordGatewayError(
      code,
      `closed before READY${reason ? ` (${reason})` : ''}`,
    );
    if (this.failWaiter(beforeReady)) {
      this.stopped = true;
      return;
    }
    // A session Discord ended, or resumes that keep failing: a new session on the gateway URL.
    if (NEW_SESSION_CLOSE.has(code) || this.failures >= MAX_RESUME_FAILURES) {
      this.sessionId = undefined;
      this.seq = null;
    }
    this.opts.log.warn({ code, reason }, 'Discord gateway disconnected; reconnecting');
    this.scheduleOpen(this.nextDelay());
  }

  private scheduleOpen(delayMs: number): void {
    clearTimeout(this.reconnectTimer);
    if (this.stopped) return;
    this.reconnectTimer = setTimeout(() => this.open(), delayMs);
  }

  private startHeartbeat(socket: Socket, intervalMs: number): void {
    this.clearTimers();
    this.acked = true;
    const beat = (): void => {
      if (!this.acked) {
        this.opts.log.warn('Discord did not acknowledge a heartbeat; reconnecting');
        this.drop(socket, 4000);
        return;
      }
      this.acked = false;
      this.send(socket, { op: 1, d: this.seq });
    };
    this.firstBeat = setTimeout(
      () => {
        beat();
        this.heartbeat = setInterval(beat, intervalMs);
      },
      Math.floor(intervalMs * Math.random()),
    );
  }

  private clearTimers(): void {
    clearTimeout(this.helloTimer);
    clearTimeout(this.identifyTimer);
    clearTimeout(this.firstBeat);
    clearInterval(this.heartbeat);
    this.firstBeat = undefined;
    this.heartbeat = undefined;
  }
}
