/**
 * The fake gateway: plain JSON text frames (discord.js 14 without `zlib-sync` connects with
 * `?v=10&encoding=json` and no `compress`). HELLO → IDENTIFY → READY + GUILD_CREATE, heartbeats,
 * RESUME with replay of missed dispatches, and ways to break the connection on purpose.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { isObject, type Json, type JsonObject } from './util.js';

export interface GatewayFrame {
  at: number;
  dir: 'in' | 'out';
  op: number;
  t?: string;
}

export interface GatewayStats {
  connections: number;
  identifies: number;
  resumes: number;
  heartbeats: number;
  invalidSessions: number;
}

export interface GatewayHooks {
  heartbeatIntervalMs: number;
  /** When set, IDENTIFY/RESUME must carry this token (else close 4004). */
  token?: string;
  /** READY `d` for a new session. */
  ready: (sessionId: string) => JsonObject;
  /** GUILD_CREATE `d` sent right after READY. */
  guildCreate: () => JsonObject;
}

interface Session {
  id: string;
  seq: number;
  buffer: { op: 0; s: number; t: string; d: Json }[];
}

export class FakeGateway {
  private readonly wss = new WebSocketServer({ noServer: true });
  private socket: WebSocket | null = null;
  private ready = false;
  private session: Session | null = null;
  private waiters: (() => void)[] = [];
  readonly frames: GatewayFrame[] = [];
  readonly stats: GatewayStats = {
    connections: 0,
    identifies: 0,
    resumes: 0,
    heartbeats: 0,
    invalidSessions: 0,
  };
  /**
   * Answer heartbeats with op 11 (default). Off: a "zombied" connection (discord-api-docs
   * `events/gateway.mdx`, Sending Heartbeats): the client should close it with a non-1000 code
   * and resume.
   */
  ackHeartbeats = true;
  /** Close codes the clients sent, newest last (1000/1001 end the session; others keep it). */
  readonly clientCloseCodes: number[] = [];
  /** Intents of the last IDENTIFY. */
  intents = 0;
  /** Query strings the client connected with (`v=10&encoding=json`), newest last. */
  readonly connectUrls: string[] = [];

  constructor(private readonly hooks: GatewayHooks) {}

  get isReady(): boolean {
    return this.ready;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, req));
  }

  private onConnection(ws: WebSocket, req: IncomingMessage): void {
    this.stats.connections++;
    this.connectUrls.push(req.url ?? '');
    const query = new URL(req.url ?? '/', 'ws://fake').searchParams;
    if (query.get('encoding') !== 'json' || query.has('compress')) {
      ws.close(4002, 'fake Discord speaks uncompressed JSON only');
      return;
    }
    if (this.socket && this.socket !== ws) this.socket.terminate();
    this.socket = ws;
    this.ready = false;
    let authed = false;
    ws.on('message', (raw) => {
      let msg: unknown;
      try {
        msg = JSON.parse(String(raw));
      } catch {
        ws.close(4002, 'Error while decoding payload.');
        return;
      }
      if (!isObject(msg) || typeof msg.op !== 'number') return;
      this.log('in', msg.op);
      const d = isObject(msg.d) ? msg.d : {};
      if (msg.op === 1) {
        this.stats.heartbeats++;
        if (this.ackHeartbeats) this.send(ws, { op: 11 });
      } else if (msg.op === 2 || msg.op === 6) {
        if (authed) return void ws.close(4005, 'Already authenticated.');
        if (this.hooks.token !== undefined && d.token !== this.hooks.token) {
          return void ws.close(4004, 'Authentication failed.');
        }
        authed = true;
        if (msg.op === 2) this.identify(ws, d);
        else this.resume(ws, d);
      }
    });
    ws.on('close', (code) => {
      this.clientCloseCodes.push(code);
      if (this.socket !== ws) return;
      this.socket = null;
      this.ready = false;
      // A client closing with 1000/1001 ends its session (it will IDENTIFY again).
      if (code === 1000 || code === 1001) this.session = null;
    });
    ws.on('error', () => {});
    this.send(ws, { op: 10, d: { heartbeat_interval: this.hooks.heartbeatIntervalMs } });
  }

  private identify(ws: WebSocket, d: JsonObject): void {
    this.stats.identifies++;
    this.intents = typeof d.intents === 'number' ? d.intents : 0;
    this.session = { id: Buffer.from(String(Math.random())).toString('hex'), seq: 0, buffer: [] };
    this.dispatch('READY', this.hooks.ready(this.session.id), ws);
    this.dispatch('GUILD_CREATE', this.hooks.guildCreate(), ws);
    this.markReady();
  }

  private resume(ws: WebSocket, d: JsonObject): void {
    const session = this.session;
    if (!session || d.session_id !== session.id) {
      this.stats.invalidSessions++;
      this.send(ws, { op: 9, d: false });
      return;
    }
    this.stats.resumes++;
    const since = typeof d.seq === 'number' ? d.seq : 0;
    for (const frame of session.buffer) if (frame.s > since) this.send(ws, frame);
    this.dispatch('RESUMED', {}, ws);
    this.markReady();
  }

  private markReady(): void {
    this.ready = true;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Sends a dispatch; while disconnected it is buffered and replayed on RESUME. */
  dispatch(t: string, d: Json, via?: WebSocket): void {
    const session = this.session;
    if (!session) return;
    const frame = { op: 0 as const, s: ++session.seq, t, d };
    session.buffer.push(frame);
    if (session.buffer.length > 1000) session.buffer.shift();
    const ws = via ?? (this.ready ? this.socket : null);
    if (ws) this.send(ws, frame);
  }

  /** Resolves once a client is identified (or resumed) on an open connection. */
  whenReady(timeoutMs: number): Promise<void> {
    if (this.ready) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        reject(new Error(`fake Discord: no client identified within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push(done);
    });
  }

  /**
   * Breaks the connection. Default: drop the TCP connection without a close frame (the client
   * sees 1006 and RESUMEs). With `code` the fake closes cleanly with that code (4000 → resume,
   * 1000 → new IDENTIFY). `invalidate` also forgets the session so a RESUME gets op 9.
   */
  drop(opts: { code?: number; invalidate?: boolean } = {}): void {
    if (opts.invalidate) this.session = null;
    const ws = this.socket;
    if (!ws) return;
    this.socket = null;
    this.ready = false;
    if (opts.code === undefined) ws.terminate();
    else ws.close(opts.code, 'fake Discord closed the connection');
  }

  /** Sends op 7 RECONNECT: discord.js closes and RESUMEs. */
  requestReconnect(): void {
    if (this.socket) this.send(this.socket, { op: 7, d: null });
  }

  async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    this.socket = null;
    this.ready = false;
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private send(ws: WebSocket, payload: JsonObject): void {
    if (ws.readyState !== ws.OPEN) return;
    this.log('out', Number(payload.op), typeof payload.t === 'string' ? payload.t : undefined);
    ws.send(JSON.stringify(payload));
  }

  private log(dir: 'in' | 'out', op: number, t?: string): void {
    this.frames.push({ at: Date.now(), dir, op, ...(t ? { t } : {}) });
    if (this.frames.length > 500) this.frames.shift();
  }
}
