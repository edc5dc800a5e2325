/** Builds /sync responses from the store: initial (no `since`) and incremental. */
import type { Content, MatrixEvent, Room, Store, StoredEvent } from './store.js';

/** Synapse's default timeline limit when the filter sets none. */
export const DEFAULT_TIMELINE_LIMIT = 10;

let tokenSerial = 0;

/** `s<pos>_<serial>`: the position, plus a serial so every token served is distinct. */
export function makeToken(pos: number): string {
  return `s${pos}_${++tokenSerial}`;
}

export function parseToken(token: string): number | undefined {
  const m = /^s(\d+)_\d+$/.exec(token);
  return m ? Number(m[1]) : undefined;
}

/** The event as a client sees it: age computed now, the sender's txn id for the bot's own. */
export function clientEvent(s: StoredEvent, botUserId: string, withRoomId = false): MatrixEvent {
  const e: MatrixEvent = structuredClone(s.event);
  const unsigned: Content = { age: Math.max(0, Date.now() - e.origin_server_ts) };
  if (s.txnId !== undefined && e.sender === botUserId) unsigned.transaction_id = s.txnId;
  if (e.unsigned) Object.assign(unsigned, e.unsigned);
  e.unsigned = unsigned;
  if (withRoomId) e.room_id = s.roomId;
  return e;
}

function stripped(s: StoredEvent): Content {
  const { type, state_key, content, sender } = s.event;
  return { type, state_key, content, sender };
}

export interface SyncResult {
  /** Without next_batch: the caller adds makeToken(pos) when it answers. */
  body: Content;
  /** False for an incremental sync with nothing new (the long-poll keeps waiting). */
  hasData: boolean;
}

/**
 * `since` undefined = initial sync: joined rooms with state and their last `limit` events,
 * pending invites, all account data. Otherwise everything after position `since`.
 */
export function buildSync(
  store: Store,
  botUserId: string,
  since: number | undefined,
  limit: number,
): SyncResult {
  const after = since ?? -1;
  const join: Record<string, Content> = {};
  const invite: Record<string, Content> = {};
  const leave: Record<string, Content> = {};
  for (const room of store.rooms.values()) {
    const now = room.membership(botUserId);
    const before = since === undefined ? undefined : room.membershipAt(botUserId, since);
    if (now === 'join') {
      const joinedAt = lastMembershipPos(room, botUserId);
      const events = room.timeline.filter((s) => s.pos > after && s.pos >= joinedAt);
      const roomData = joinedRoom(store, room, botUserId, events, limit, after);
      const fresh = since === undefined || before !== 'join';
      if (fresh || events.length > 0 || roomData.account_data) join[room.roomId] = roomData;
    } else if (now === 'invite') {
      const inv = room.stateEvent('m.room.member', botUserId)!;
      if (inv.pos > after) {
        const shown = [
          'm.room.create',
          'm.room.name',
          'm.room.join_rules',
          'm.room.canonical_alias',
        ];
        const state = [...room.state.values()].filter((s) => shown.includes(s.event.type));
        const inviter = room.stateEvent('m.room.member', inv.event.sender);
        if (inviter) state.push(inviter);
        invite[room.roomId] = {
          invite_state: {
            events: [...state.map(stripped), clientEvent(inv, botUserId)],
          },
        };
      }
    } else if (since !== undefined && (before === 'join' || before === 'invite')) {
      const leftAt = lastMembershipPos(room, botUserId);
      const events = room.timeline.filter((s) => s.pos > since && s.pos <= leftAt);
      leave[room.roomId] = {
        timeline: { events: events.map((s) => clientEvent(s, botUserId)), limited: false },
        state: { events: [] },
      };
    }
  }
  const accountData = [...store.accountData.entries()]
    .filter(([, v]) => v.pos > after)
    .map(([type, v]) => ({ type, content: structuredClone(v.content) }));
  const hasData =
    Object.keys(join).length + Object.keys(invite).length + Object.keys(leave).length > 0 ||
    accountData.length > 0;
  return {
    hasData,
    body: {
      rooms: { join, invite, leave, knock: {} },
      account_data: { events: accountData },
      presence: { events: [] },
      to_device: { events: [] },
      device_lists: { changed: [], left: [] },
      device_one_time_keys_count: {},
    },
  };
}

function lastMembershipPos(room: Room, userId: string): number {
  return room.stateEvent('m.room.member', userId)?.pos ?? 0;
}

function joinedRoom(
  store: Store,
  room: Room,
  botUserId: string,
  events: StoredEvent[],
  limit: number,
  after: number,
): Content {
  const shown = events.slice(Math.max(0, events.length - limit));
  const inTimeline = new Set(shown.map((s) => s.event.event_id));
  const fresh = after < 0 || room.membershipAt(botUserId, after) !== 'join';
  // State before the timeline: all of it for a new room, else state changed in the gap.
  const state = [...room.state.values()].filter(
    (s) => !inTimeline.has(s.event.event_id) && (fresh || s.pos > after),
  );
  const data: Content = {
    timeline: {
      events: shown.map((s) => clientEvent(s, botUserId)),
      limited: shown.length < events.length,
      prev_batch: `p${shown[0]?.pos ?? store.pos}`,
    },
    state: { events: state.map((s) => clientEvent(s, botUserId)) },
    ephemeral: { events: [] },
    unread_notifications: { highlight_count: 0, notification_count: 0 },
    summary: { 'm.joined_member_count': room.members('join').length },
  };
  const accountData = [...(store.roomAccountData.get(room.roomId)?.entries() ?? [])]
    .filter(([, v]) => v.pos > after)
    .map(([type, v]) => ({ type, content: structuredClone(v.content) }));
  if (accountData.length > 0) data.account_data = { events: accountData };
  return data;
}

/** `room.timeline.limit` of a filter (an uploaded one, or inline JSON), if it has one. */
export function timelineLimit(filter: unknown): number | undefined {
  const f = filter as { room?: { timeline?: { limit?: unknown } } } | undefined;
  const limit = f?.room?.timeline?.limit;
  return typeof limit === 'number' ? limit : undefined;
}
