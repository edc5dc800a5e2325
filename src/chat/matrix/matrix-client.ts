/**
 * The bot's own Matrix client: the part of the client-server API v3 it uses, over node:http
 * (src/core/http-request.ts: fetch would cost ~16 MB more).
 *
 * matrix-bot-sdk did this before, and loaded ~500 modules for it (express for appservices,
 * `request` with ajv and sshpk, sanitize-html, postgres and lowdb storage, E2EE bindings):
 * ~30 MB of an idle bot. What the bot needs is small, and follows matrix-spec
 * (content/client-server-api/_index.md; data/api/client-server/{sync,whoami,joining,
 * directory,list_joined_rooms,room_state,room_send,profile,content-repo}.yaml):
 * - a /sync loop (long-poll, `since` kept in a file so a restart resumes where it stopped,
 *   back-off on errors, stopped at once by stop()), emitting what matrix-bot-sdk emitted:
 *   `room.invite` (the m.room.member invite event for the bot), `room.join`, `room.leave`,
 *   `room.message` (m.room.message timeline events) and `room.event` (every timeline event);
 * - whoami, room alias lookup, joined rooms, join, a state event, a profile, sending an event
 *   (PUT with a transaction id), uploading media.
 * Errors: a JSON error body → MatrixError (`statusCode`, `errcode`, `error`, `body`, and
 * `retryAfterMs` from the Retry-After header (spec v1.10+) or else the deprecated
 * `retry_after_ms`); a server that cannot be reached → MatrixConnectionError naming it.
 * No end-to-end encryption: encrypted rooms' events arrive as opaque m.room.encrypted.
 */
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { sleep } from '../../core/deadline.js';
import { HttpRequestError, type HttpResponse, httpRequest } from '../../core/http-request.js';
import type { Logger } from '../../core/logger.js';
import { retryAfterMs } from '../../core/retry-after.js';
import { writeDurably } from '../../core/state-file.js';

/** An error answer from the homeserver. */
export class MatrixError extends Error {
  readonly errcode?: string;
  readonly error?: string;
  readonly retryAfterMs?: number;

  constructor(
    readonly statusCode: number,
    readonly body: Record<string, unknown>,
    retryAfterHeaderMs?: number,
  ) {
    const errcode = typeof body.errcode === 'string' ? body.errcode : undefined;
    const error = typeof body.error === 'string' ? body.error : undefined;
    super(errcode ? `${errcode}: ${error ?? ''}` : `HTTP ${statusCode}`);
    this.name = 'MatrixError';
    this.errcode = errcode;
    this.error = error;
    const bodyMs = typeof body.retry_after_ms === 'number' ? body.retry_after_ms : undefined;
    this.retryAfterMs = retryAfterHeaderMs ?? bodyMs;
  }
}

/** The homeserver could not be reached (refused, reset, timed out). */
export class MatrixConnectionError extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`cannot reach the Matrix homeserver at ${url}: ${reason}`);
    this.name = 'MatrixConnectionError';
  }
}

export interface MatrixClientOptions {
  /** Where the sync token is kept (JSON `{ "syncToken": … }`, as matrix-bot-sdk's file had it). */
  syncTokenFile: string;
  log: Logger;
  /** Each request but /sync. Default 60 s. */
  requestTimeoutMs?: number;
  /** How long the server may hold a /sync open. Default 30 s. */
  syncTimeoutMs?: number;
  /** Back-off after a failed /sync: doubles from the first to the last. Default 1 s → 30 s. */
  syncBackoffMs?: [number, number];
}

// biome-ignore lint/suspicious/noExplicitAny: raw Matrix events and answers, read field by field
type Json = Record<string, any>;

interface RequestOptions {
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  /** A file upload: sent as it is, with this content type. */
  contentType?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

const CLIENT = '/_matrix/client/v3';

export class MatrixClient extends EventEmitter {
  private userId?: string;
  private joined = new Set<string>();
  private stopping?: AbortController;
  private loop?: Promise<void>;
  private txn = 0;
  private readonly txnPrefix = Date.now().toString(36);
  private readonly requestTimeoutMs: number;
  private readonly syncTimeoutMs: number;
  private readonly backoff: [number, number];
  private readonly baseUrl: string;

  constructor(
    homeserverUrl: string,
    private readonly accessToken: string,
    private readonly opts: MatrixClientOptions,
  ) {
    super();
    this.baseUrl = homeserverUrl.replace(/\/+$/, '');
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 60_000;
    this.syncTimeoutMs = opts.syncTimeoutMs ?? 30_000;
    this.backoff = opts.syncBackoffMs ?? [1000, 30_000];
  }

  async getUserId(): Promise<string> {
    this.userId ??= String((await this.request('GET', `${CLIENT}/account/whoami`)).user_id);
    return this.userId;
  }

  async resolveRoom(alias: string): Promise<string> {
    const res = await this.request('GET', `${CLIENT}/directory/room/${encodeURIComponent(alias)}`);
    return String(res.room_id);
  }

  async getJoinedRooms(): Promise<string[]> {
    const res = await this.request('GET', `${CLIENT}/joined_rooms`);
    return Array.isArray(res.joined_rooms) ? res.joined_rooms.map(String) : [];
  }

  async joinRoom(roomIdOrAlias: string): Promise<string> {
    const res = await this.request('POST', `${CLIENT}/join/${encodeURIComponent(roomIdOrAlias)}`, {
      body: {},
    });
    return String(res.room_id);
  }

  getRoomStateEvent(roomId: string, type: string, stateKey: string): Promise<Json> {
    return this.request(
      'GET',
      `${CLIENT}/rooms/${encodeURIComponent(roomId)}/state/${encodeURIComponent(type)}/${encodeURIComponent(stateKey)}`,
    );
  }

  getUserProfile(userId: string): Promise<Json> {
    return this.request('GET', `${CLIENT}/profile/${encodeURIComponent(userId)}`);
  }

  /** Sends one event; its id. A new transaction id each call (a retry is a new send). */
  async sendEvent(roomId: string, eventType: string, content: Json): Promise<string> {
    const txnId = `${this.txnPrefix}.${++this.txn}`;
    const res = await this.request(
      'PUT',
      `${CLIENT}/rooms/${encodeURIComponent(roomId)}/send/${encodeURIComponent(eventType)}/${txnId}`,
      { body: content },
    );
    return String(res.event_id);
  }

  /** Uploads a file to the media repository; its mxc:// URI. */
  async uploadContent(data: Buffer, contentType: string, filename?: string): Promise<string> {
    const res = await this.request('POST', '/_matrix/media/v3/upload', {
      query: { filename },
      body: data,
      contentType,
    });
    return String(res.content_uri);
  }

  /** Starts the sync loop (from the saved token, if any) and returns once it runs. */
  async start(): Promise<void> {
    if (this.loop) return;
    await this.getUserId();
    this.joined = new Set(await this.getJoinedRooms());
    const token = await this.readSyncToken();
    const stopping = new AbortController();
    this.stopping = stopping;
    this.loop = this.syncLoop(token, stopping.signal).finally(() => {
      this.loop = undefined;
    });
  }

  /** Ends the sync loop now: the pending long-poll is abandoned, nothing more is emitted. */
  stop(): void {
    this.stopping?.abort(new Error('Matrix client stopped'));
  }

  private async syncLoop(since: string | undefined, signal: AbortSignal): Promise<void> {
    let token = since;
    let failures = 0;
    while (!signal.aborted) {
      try {
        const res = await this.request('GET', `${CLIENT}/sync`, {
          query: { since: token, timeout: this.syncTimeoutMs },
          // An initial sync (no token) may take the server long to build.
          timeoutMs: token ? this.syncTimeoutMs + 10_000 : 600_000,
          signal,
        });
        if (signal.aborted) return;
        failures = 0;
        token = String(res.next_batch);
        // Saved before the events are handled: a crash while handling them never runs them twice.
        await this.saveSyncToken(token);
        await this.process(res);
      } catch (err) {
        if (signal.aborted) return;
        const wait =
          (err instanceof MatrixError ? err.retryAfterMs : undefined) ??
          Math.min(this.backoff[1], this.backoff[0] * 2 ** failures);
        failures++;
        this.opts.log.warn(
          { err: err instanceof Error ? err.message : String(err), retryInMs: wait },
          'Matrix /sync failed; trying again',
        );
        await sleep(wait, signal).catch(() => undefined);
      }
    }
  }

  /** What a /sync answer holds, emitted as matrix-bot-sdk did (see the header). */
  private async process(res: Json): Promise<void> {
    const me = await this.getUserId();
    const rooms: Json = res.rooms ?? {};
    for (const [roomId, room] of entries(rooms.leave)) {
      const own = events(room.timeline).filter((e) => isOwnMembership(e, me, ['leave', 'ban']));
      if (own.length === 0) continue;
      this.joined.delete(roomId);
      this.emit('room.leave', roomId, own[own.length - 1]);
    }
    for (const [roomId, room] of entries(rooms.invite)) {
      const invite = events(room.invite_state).find((e) => isOwnMembership(e, me, ['invite']));
      if (invite) this.emit('room.invite', roomId, invite);
    }
    for (const [roomId, room] of entries(rooms.join)) {
      for (const event of events(room.timeline)) {
        if (isOwnMembership(event, me, ['join']) && !this.joined.has(roomId)) {
          this.joined.add(roomId);
          this.emit('room.join', roomId, event);
        }
        if (event.type === 'm.room.message') this.emit('room.message', roomId, event);
        this.emit('room.event', roomId, event);
      }
    }
  }

  private async readSyncToken(): Promise<string | undefined> {
    try {
      const saved = JSON.parse(await readFile(this.opts.syncTokenFile, 'utf8')) as Json;
      return typeof saved.syncToken === 'string' ? saved.syncToken : undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        this.opts.log.warn(
          { err: (err as Error).message, file: this.opts.syncTokenFile },
          'Matrix sync token unreadable: syncing from now (old events are never acted on)',
        );
      return undefined;
    }
  }

  private saveSyncToken(token: string): Promise<void> {
    return writeDurably(this.opts.syncTokenFile, `${JSON.stringify({ syncToken: token })}\n`);
  }

  private async request(method: string, path: string, opts: RequestOptions = {}): Promise<Json> {
    const url = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(opts.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { Authorization: `Bearer ${this.accessToken}` };
    let body: string | Buffer | undefined;
    if (opts.contentType) {
      headers['Content-Type'] = opts.contentType;
      body = opts.body as Buffer;
    } else if (opts.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    let res: HttpResponse;
    try {
      res = await httpRequest(url, {
        method,
        headers,
        body,
        timeoutMs: opts.timeoutMs ?? this.requestTimeoutMs,
        signal: opts.signal,
      });
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      throw new MatrixConnectionError(this.baseUrl, connectionCode(err));
    }
    const text = res.text;
    let json: Json | undefined;
    try {
      const parsed: unknown = text ? JSON.parse(text) : {};
      json = parsed && typeof parsed === 'object' ? (parsed as Json) : undefined;
    } catch {
      json = undefined;
    }
    if (res.status >= 200 && res.status < 300 && json) return json;
    throw new MatrixError(
      res.status,
      json ?? { error: text.slice(0, 200) },
      res.status === 429 ? retryAfterMs(res.header('retry-after')) : undefined,
    );
  }
}

function connectionCode(err: unknown): string {
  if (err instanceof HttpRequestError) return err.code === 'ETIMEDOUT' ? 'timed out' : err.code;
  return err instanceof Error ? err.message : String(err);
}

function entries(o: unknown): [string, Json][] {
  return o && typeof o === 'object' ? (Object.entries(o) as [string, Json][]) : [];
}

function events(section: Json | undefined): Json[] {
  const list = section?.events;
  return Array.isArray(list) ? list.filter((e) => e && typeof e === 'object') : [];
}

function isOwnMembership(event: Json, me: string, memberships: string[]): boolean {
  return (
    event.type === 'm.room.member' &&
    event.state_key === me &&
    memberships.includes(event.content?.membership)
  );
}
