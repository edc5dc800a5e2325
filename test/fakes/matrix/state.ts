/** The fake homeserver's test-facing state and user actions (the HTTP side is fake-homeserver.ts). */
export type { MessageOptions, SentEvent } from './content.js';

import {
  editContent,
  type MessageOptions,
  messageContent,
  reactionContent,
  type SentEvent,
  sentEvent,
  threadOf,
} from './content.js';
import type { RetryAfterStyle } from './limits.js';
import { type Reply, rateLimited } from './reply.js';
import { type Receipt, type RouteContext, route, type TypingNotice } from './routes.js';
import { type Content, ENCRYPTION_CONTENT, type RoomSpec, Store } from './store.js';
import {
  buildSync,
  DEFAULT_TIMELINE_LIMIT,
  parseToken,
  type SyncResult,
  timelineLimit,
} from './sync.js';
import { renderVisible, type VisibleMessage, visibleTimeline } from './visible.js';

/** Captured at import: the fake keeps working while a test fakes timers (vi.useFakeTimers). */
export const realSetTimeout = globalThis.setTimeout;
export const realClearTimeout = globalThis.clearTimeout;

export interface HomeserverOptions {
  botUserId: string;
  accessToken: string;
  deviceId?: string;
  rooms?: RoomSpec[];
  /** Display names. Users default to their localpart. */
  profiles?: Record<string, string>;
  /** Timeline events a room gets per sync when the filter sets no limit (Synapse: 10). */
  timelineLimit?: number;
  sendRateLimit?: SendRateLimit | null;
}

export interface SendRateLimit {
  /** Sends allowed in any `windowMs`; more get 429 M_LIMIT_EXCEEDED. */
  burst: number;
  windowMs: number;
  /**
   * How the 429 says when to retry: `both` (default, as Synapse: a Retry-After header in whole
   * seconds and retry_after_ms), `header` (spec v1.10+ only) or `body` (pre-v1.10 servers).
   */
  retryAfter?: RetryAfterStyle;
}

/** A file in the content repository (POST /_matrix/media/v3/upload). */
export interface StoredMedia {
  data: Buffer;
  contentType: string;
  filename?: string;
}

export interface HistoryEvent {
  sender: string;
  body?: string;
  type?: string;
  content?: Content;
  /** How long ago it was sent; default one hour, older for earlier entries. */
  ageMs?: number;
}

export interface SyncRecord {
  since: string | null;
  timeout: number;
  filter: string | null;
  status: number;
  nextBatch?: string;
}

export class HomeserverState {
  readonly botUserId: string;
  readonly accessToken: string;
  readonly store: Store;
  /** Every next_batch token handed out, in order. */
  readonly syncTokensServed: string[] = [];
  readonly syncRequests: SyncRecord[] = [];
  readonly receipts: Receipt[] = [];
  readonly typing: TypingNotice[] = [];
  rateLimitedCount = 0;
  /** Sends refused with 413 M_TOO_LARGE. */
  readonly tooLarge: { roomId: string; type: string; bytes: number }[] = [];
  /** The content repository: media id → file. */
  readonly media = new Map<string, StoredMedia>();
  private readonly ctx: RouteContext;
  private readonly timelineLimit: number;
  private sendLimit: SendRateLimit | null;
  private sendTimes: number[] = [];

  protected constructor(opts: HomeserverOptions) {
    this.botUserId = opts.botUserId;
    this.accessToken = opts.accessToken;
    this.store = new Store(opts.botUserId.split(':').slice(1).join(':') || 'localhost');
    this.timelineLimit = opts.timelineLimit ?? DEFAULT_TIMELINE_LIMIT;
    this.sendLimit = opts.sendRateLimit ?? null;
    for (const [user, name] of Object.entries(opts.profiles ?? {})) {
      this.store.profiles.set(user, { displayname: name });
    }
    const created = Date.now() - 24 * 3600_000;
    for (const spec of opts.rooms ?? []) this.store.createRoom(spec, this.botUserId, created);
    this.ctx = {
      store: this.store,
      botUserId: this.botUserId,
      deviceId: opts.deviceId ?? 'FAKEDEVICE',
      filters: new Map(),
      txns: new Map(),
      receipts: this.receipts,
      typing: this.typing,
      takeSendSlot: () => this.takeSendSlot(),
      retryAfterStyle: () => this.sendLimit?.retryAfter ?? 'both',
      tooLarge: this.tooLarge,
    };
  }

  // ---- users' actions -------------------------------------------------------------------

  sendMessage(roomId: string, sender: string, body: string, opts: MessageOptions = {}): string {
    const room = this.store.mustRoom(roomId);
    const thread = opts.threadRoot;
    const latest = thread ? room.timeline.filter((s) => threadOf(s) === thread).at(-1) : undefined;
    const content = messageContent(body, opts, latest?.event.event_id);
    return this.userEvent(roomId, sender, 'm.room.message', content, opts.ts);
  }

  edit(roomId: string, sender: string, targetEventId: string, body: string): string {
    return this.userEvent(roomId, sender, 'm.room.message', editContent(targetEventId, body));
  }

  react(roomId: string, sender: string, targetEventId: string, key: string): string {
    return this.userEvent(roomId, sender, 'm.reaction', reactionContent(targetEventId, key));
  }

  /** `inviter` invites the bot; the room is created (inviter as creator) if it does not exist. */
  invite(roomId: string, inviter: string, opts: { name?: string; isDirect?: boolean } = {}): void {
    let room = this.store.room(roomId);
    if (!room) {
      const spec: RoomSpec = { roomId, members: [inviter], botJoined: false };
      if (opts.name) spec.name = opts.name;
      room = this.store.createRoom(spec, this.botUserId, Date.now() - 1000);
    }
    if (room.membership(this.botUserId) === 'join') throw new Error(`bot already in ${roomId}`);
    const content: Content = {
      membership: 'invite',
      displayname: this.store.displayName(this.botUserId),
    };
    if (opts.isDirect) content.is_direct = true;
    this.store.addEvent(room.roomId, {
      type: 'm.room.member',
      sender: inviter,
      state_key: this.botUserId,
      content,
    });
  }

  addMember(roomId: string, userId: string): string {
    return this.store.member(this.store.mustRoom(roomId).roomId, userId, 'join').event.event_id;
  }

  setPowerLevel(roomId: string, userId: string, level: number): string {
    const room = this.store.mustRoom(roomId);
    const pl = structuredClone(room.powerLevels());
    pl.users = { ...((pl.users as Content | undefined) ?? {}), [userId]: level };
    const creator = room.stateEvent('m.room.create')!.event.sender;
    return this.store.addEvent(room.roomId, {
      type: 'm.room.power_levels',
      sender: creator,
      state_key: '',
      content: pl,
    }).event.event_id;
  }

  /** Old events (origin_server_ts in the past), appended to the stream like any event. */
  injectHistory(roomId: string, events: HistoryEvent[]): string[] {
    return events.map((e, i) => {
      const ts = Date.now() - (e.ageMs ?? 3600_000 + (events.length - i) * 1000);
      const content = e.content ?? { msgtype: 'm.text', body: e.body ?? '' };
      return this.userEvent(roomId, e.sender, e.type ?? 'm.room.message', content, ts);
    });
  }

  /** Someone turns on encryption in the room (m.room.encryption); it cannot be turned off. */
  enableEncryption(roomId: string, by?: string): string {
    const room = this.store.mustRoom(roomId);
    const sender = by ?? room.stateEvent('m.room.create')!.event.sender;
    return this.store.addEvent(room.roomId, {
      type: 'm.room.encryption',
      sender,
      state_key: '',
      content: ENCRYPTION_CONTENT,
    }).event.event_id;
  }

  /** A file the bot uploaded (`mxc://server/id`), as text; undefined when unknown. */
  mediaText(mxc: string): string | undefined {
    const id = /^mxc:\/\/[^/]+\/(.+)$/.exec(mxc)?.[1];
    return id ? this.media.get(id)?.data.toString('utf8') : undefined;
  }

  setSendRateLimit(limit: SendRateLimit | null): void {
    this.sendLimit = limit;
    this.sendTimes = [];
  }

  // ---- what users see ---------------------------------------------------------------------

  sent(roomId: string): SentEvent[] {
    const { timeline } = this.store.mustRoom(roomId);
    return timeline.filter((s) => s.viaApi && s.event.sender === this.botUserId).map(sentEvent);
  }

  visible(roomId: string): VisibleMessage[] {
    return visibleTimeline(this.store.mustRoom(roomId).timeline);
  }

  visibleText(roomId: string): string {
    return renderVisible(this.visible(roomId));
  }

  joinedRooms(): string[] {
    return [...this.store.rooms.values()]
      .filter((r) => r.membership(this.botUserId) === 'join')
      .map((r) => r.roomId);
  }

  get accountData(): Record<string, Content> {
    return Object.fromEntries(
      [...this.store.accountData].map(([k, v]) => [k, structuredClone(v.content)]),
    );
  }

  /** Poll `predicate` (on every change and every 20 ms) until it returns something truthy. */
  async waitFor<T>(
    predicate: () => T | Promise<T>,
    timeoutMs = 5000,
    what = 'condition',
  ): Promise<NonNullable<T>> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      try {
        const v = await predicate();
        if (v) return v as NonNullable<T>;
      } catch (e) {
        lastError = e;
      }
      if (Date.now() >= deadline) break;
      await new Promise<void>((resolve) => {
        const off = this.store.onChange(() => done());
        const t = realSetTimeout(() => done(), 20);
        function done() {
          off();
          realClearTimeout(t);
          resolve();
        }
      });
    }
    const why = lastError instanceof Error ? `\nlast error: ${lastError.message}` : '';
    throw new Error(
      `fake homeserver: timed out after ${timeoutMs} ms waiting for ${what}${why}\n${this.dump()}`,
    );
  }

  dump(): string {
    const rooms = [...this.store.rooms.values()].map((r) => {
      const text = renderVisible(visibleTimeline(r.timeline)) || '  (no messages)';
      return `room ${r.roomId} (bot: ${r.membership(this.botUserId) ?? 'none'}):\n${text.replace(/^/gm, '  ')}`;
    });
    const tokens = this.syncRequests
      .slice(-8)
      .map((s) => `  since=${s.since} → ${s.status} ${s.nextBatch ?? ''}`);
    return [...rooms, `syncs (last 8):\n${tokens.join('\n')}`].join('\n');
  }

  // ---- for the HTTP side ------------------------------------------------------------------

  protected route(method: string, segs: string[], q: URLSearchParams, body: Content) {
    return route(this.ctx, method, segs, q, body);
  }

  protected buildSync(since: number | undefined, limit: number): SyncResult {
    return buildSync(this.store, this.botUserId, since, limit);
  }

  protected recordSync(since: string | null, timeout: number, filter: string | null): SyncRecord {
    const record: SyncRecord = { since, timeout, filter, status: 0 };
    this.syncRequests.push(record);
    return record;
  }

  /** undefined = initial sync; null = a token this server never issued. */
  protected sinceOf(token: string | null): number | undefined | null {
    if (!token) return undefined;
    const pos = parseToken(token);
    return pos === undefined || pos > this.store.pos ? null : pos;
  }

  protected limitOf(filter: string | null): number {
    let f: unknown;
    if (filter?.startsWith('{')) f = JSON.parse(filter);
    else if (filter) f = this.ctx.filters.get(filter);
    return timelineLimit(f) ?? this.timelineLimit;
  }

  /** An upload over the send rate limit: the 429 to answer. */
  protected mediaRateLimit(): Reply | undefined {
    const retry = this.takeSendSlot();
    return retry === undefined ? undefined : rateLimited(retry, this.ctx.retryAfterStyle());
  }

  private takeSendSlot(): number | undefined {
    if (!this.sendLimit) return undefined;
    const now = Date.now();
    this.sendTimes = this.sendTimes.filter((t) => t > now - this.sendLimit!.windowMs);
    if (this.sendTimes.length < this.sendLimit.burst) {
      this.sendTimes.push(now);
      return undefined;
    }
    this.rateLimitedCount++;
    return Math.max(1, this.sendTimes[0]! + this.sendLimit.windowMs - now);
  }

  private userEvent(
    roomId: string,
    sender: string,
    type: string,
    content: Content,
    ts?: number,
  ): string {
    const room = this.store.mustRoom(roomId);
    if (room.membership(sender) !== 'join')
      throw new Error(`fake homeserver: ${sender} is not in ${roomId}`);
    const e = this.store.addEvent(room.roomId, {
      ...(room.encrypted ? encrypt(type, content) : { type, content }),
      sender,
      ...(ts === undefined ? {} : { ts }),
    });
    return e.event.event_id;
  }
}

/**
 * What a user's client (Element) sends in an encrypted room: m.room.encrypted with a Megolm
 * payload (matrix-spec examples/m.room.encrypted$megolm.yaml); m.relates_to stays in the clear
 * (end_to_end_encryption.md, "Encrypted relations"). The ciphertext is opaque to the bot.
 */
function encrypt(type: string, content: Content) {
  const payload: Content = {
    algorithm: 'm.megolm.v1.aes-sha2',
    ciphertext: Buffer.from(JSON.stringify({ type, content }))
      .toString('base64')
      .replace(/[A-Za-z]/g, (c) => String.fromCharCode(c.charCodeAt(0) ^ 32)),
    device_id: 'ELEMENTDEV',
    sender_key: 'IlRMeOPX2e0MurIyfWEucYBRVOEEUMrOHqn/8mLqMjA',
    session_id: 'X3lUlvLELLYxeTx4yOVu6UDpasGEVO0Jbu+QFnm0cKQ',
  };
  if (content['m.relates_to']) payload['m.relates_to'] = content['m.relates_to'];
  return { type: 'm.room.encrypted', content: payload, cleartext: { type, content } };
}
