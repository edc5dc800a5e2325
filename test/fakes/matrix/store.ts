/** The fake homeserver's data: rooms, their events in one global stream, account data. */

export type Content = Record<string, unknown>;

/** A client-server API event, as /sync and /event return it (room_id added by /event). */
export interface MatrixEvent {
  event_id: string;
  type: string;
  sender: string;
  origin_server_ts: number;
  content: Content;
  state_key?: string;
  redacts?: string;
  unsigned?: Content;
  room_id?: string;
}

export interface StoredEvent {
  event: MatrixEvent;
  roomId: string;
  /** Position in the server-wide stream; sync tokens are positions. */
  pos: number;
  /** Set when the bot sent it through the API (send, state, redact). */
  txnId?: string;
  viaApi: boolean;
  /** For an m.room.encrypted event a user sent: what the members' clients decrypt it to. */
  cleartext?: { type: string; content: Content };
}

export interface RoomSpec {
  roomId: string;
  /** Users joined besides the bot. The first one created the room (power 100). */
  members?: string[];
  /** Merged into the default m.room.power_levels (`users` merged key by key). */
  powerLevels?: Content;
  name?: string;
  alias?: string;
  /** Whether the bot is joined from the start (default true). */
  botJoined?: boolean;
  /** Anyone may join without an invite. */
  public?: boolean;
  /** End-to-end encrypted from the start (m.room.encryption state): users' messages arrive as m.room.encrypted. */
  encrypted?: boolean;
}

/** The m.room.encryption content Element sets (matrix-spec examples/m.room.encryption.yaml). */
export const ENCRYPTION_CONTENT: Content = {
  algorithm: 'm.megolm.v1.aes-sha2',
  rotation_period_ms: 604800000,
  rotation_period_msgs: 100,
};

export class Room {
  readonly timeline: StoredEvent[] = [];
  readonly state = new Map<string, StoredEvent>();
  constructor(
    readonly roomId: string,
    readonly alias?: string,
    public isPublic = false,
  ) {}

  stateEvent(type: string, stateKey = ''): StoredEvent | undefined {
    return this.state.get(`${type}\u0000${stateKey}`);
  }

  membership(userId: string): string | undefined {
    return this.stateEvent('m.room.member', userId)?.event.content.membership as string | undefined;
  }

  /** The user's membership as of stream position `pos` (inclusive). */
  membershipAt(userId: string, pos: number): string | undefined {
    let m: string | undefined;
    for (const s of this.timeline) {
      if (s.pos > pos) break;
      if (s.event.type === 'm.room.member' && s.event.state_key === userId) {
        m = s.event.content.membership as string;
      }
    }
    return m;
  }

  members(membership = 'join'): string[] {
    return [...this.state.values()]
      .filter((s) => s.event.type === 'm.room.member' && s.event.content.membership === membership)
      .map((s) => s.event.state_key!);
  }

  get encrypted(): boolean {
    return this.stateEvent('m.room.encryption') !== undefined;
  }

  powerLevels(): Content {
    return this.stateEvent('m.room.power_levels')?.event.content ?? {};
  }

  powerOf(userId: string): number {
    const pl = this.powerLevels();
    const users = (pl.users ?? {}) as Record<string, number>;
    return users[userId] ?? (pl.users_default as number | undefined) ?? 0;
  }

  /** Power needed to send `type` (a state event when `isState`). */
  powerFor(type: string, isState: boolean): number {
    const pl = this.powerLevels();
    const events = (pl.events ?? {}) as Record<string, number>;
    const fallback = isState ? (pl.state_default ?? 50) : (pl.events_default ?? 0);
    return events[type] ?? (fallback as number);
  }
}

export interface NewEvent {
  type: string;
  sender: string;
  content: Content;
  state_key?: string;
  redacts?: string;
  ts?: number;
  txnId?: string;
  viaApi?: boolean;
  cleartext?: { type: string; content: Content };
}

/** Rooms and account data, with one stream position counter; listeners hear every change. */
export class Store {
  readonly rooms = new Map<string, Room>();
  readonly events = new Map<string, StoredEvent>();
  readonly accountData = new Map<string, { content: Content; pos: number }>();
  readonly roomAccountData = new Map<string, Map<string, { content: Content; pos: number }>>();
  readonly profiles = new Map<string, { displayname?: string; avatar_url?: string }>();
  pos = 0;
  private eventCounter = 0;
  private readonly listeners = new Set<() => void>();

  constructor(readonly serverName: string) {}

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }

  room(roomIdOrAlias: string): Room | undefined {
    const direct = this.rooms.get(roomIdOrAlias);
    if (direct) return direct;
    return [...this.rooms.values()].find((r) => r.alias === roomIdOrAlias);
  }

  mustRoom(roomId: string): Room {
    const room = this.room(roomId);
    if (!room) throw new Error(`fake homeserver: no room ${roomId}`);
    return room;
  }

  displayName(userId: string): string {
    return this.profiles.get(userId)?.displayname ?? userId.replace(/^@/, '').split(':')[0]!;
  }

  addEvent(roomId: string, e: NewEvent): StoredEvent {
    const room = this.mustRoom(roomId);
    const event: MatrixEvent = {
      event_id: `$ev${++this.eventCounter}:${this.serverName}`,
      type: e.type,
      sender: e.sender,
      origin_server_ts: e.ts ?? Date.now(),
      content: structuredClone(e.content),
    };
    if (e.state_key !== undefined) event.state_key = e.state_key;
    if (e.redacts !== undefined) event.redacts = e.redacts;
    const stored: StoredEvent = { event, roomId: room.roomId, pos: ++this.pos, viaApi: !!e.viaApi };
    if (e.txnId !== undefined) stored.txnId = e.txnId;
    if (e.cleartext) stored.cleartext = structuredClone(e.cleartext);
    room.timeline.push(stored);
    this.events.set(event.event_id, stored);
    if (e.state_key !== undefined) room.state.set(`${e.type}\u0000${e.state_key}`, stored);
    this.changed();
    return stored;
  }

  member(roomId: string, userId: string, membership: string, sender = userId, ts?: number) {
    const content: Content = { membership };
    if (membership === 'join' || membership === 'invite') {
      content.displayname = this.displayName(userId);
    }
    return this.addEvent(roomId, {
      type: 'm.room.member',
      sender,
      state_key: userId,
      content,
      ...(ts === undefined ? {} : { ts }),
    });
  }

  createRoom(spec: RoomSpec, botUserId: string, ts: number): Room {
    if (this.rooms.has(spec.roomId)) throw new Error(`fake homeserver: room ${spec.roomId} exists`);
    const room = new Room(spec.roomId, spec.alias, !!spec.public);
    this.rooms.set(room.roomId, room);
    const members = spec.members ?? [];
    const creator = members[0] ?? botUserId;
    const botJoined = spec.botJoined ?? true;
    const state = (type: string, content: Content) =>
      this.addEvent(room.roomId, { type, sender: creator, state_key: '', content, ts });
    state('m.room.create', { creator, room_version: '10' });
    this.member(room.roomId, creator, 'join', creator, ts);
    const pl = spec.powerLevels ?? {};
    state('m.room.power_levels', {
      users_default: 0,
      events_default: 0,
      state_default: 50,
      ban: 50,
      kick: 50,
      redact: 50,
      invite: 0,
      events: { 'm.room.power_levels': 100, 'm.room.name': 50 },
      ...pl,
      users: { [creator]: 100, ...((pl.users as Content | undefined) ?? {}) },
    });
    state('m.room.join_rules', { join_rule: spec.public ? 'public' : 'invite' });
    if (spec.name) state('m.room.name', { name: spec.name });
    if (spec.alias) state('m.room.canonical_alias', { alias: spec.alias });
    if (spec.encrypted) state('m.room.encryption', ENCRYPTION_CONTENT);
    for (const m of members.slice(1)) this.member(room.roomId, m, 'join', m, ts);
    if (botJoined && creator !== botUserId)
      this.member(room.roomId, botUserId, 'join', botUserId, ts);
    return room;
  }

  setAccountData(type: string, content: Content, roomId?: string): void {
    const entry = { content: structuredClone(content), pos: ++this.pos };
    if (roomId) {
      const m = this.roomAccountData.get(roomId) ?? new Map();
      m.set(type, entry);
      this.roomAccountData.set(roomId, m);
    } else {
      this.accountData.set(type, entry);
    }
    this.changed();
  }
}
