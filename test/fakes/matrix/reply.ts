/** Shared by the fake homeserver's route files: replies, the context routes act on. */
import type { Content, Room, Store } from './store.js';

export interface Reply {
  status: number;
  body: unknown;
}

export interface Receipt {
  roomId: string;
  type: string;
  eventId: string;
}

export interface TypingNotice {
  roomId: string;
  typing: boolean;
  timeout?: number;
}

/** What the routes need from the homeserver. */
export interface RouteContext {
  store: Store;
  botUserId: string;
  deviceId: string;
  filters: Map<string, unknown>;
  /** `<room>\0<txnId>` → event id: a repeated PUT returns the first event. */
  txns: Map<string, string>;
  receipts: Receipt[];
  typing: TypingNotice[];
  /** undefined = go ahead; a number = rate limited, retry after that many ms. */
  takeSendSlot(): number | undefined;
}

export type Params = Record<string, string>;
export type Handler = (hs: RouteContext, p: Params, q: URLSearchParams, body: Content) => Reply;
export interface Route {
  method: string;
  pattern: string;
  handler: Handler;
}

export const ok = (body: unknown = {}): Reply => ({ status: 200, body });

export function err(status: number, errcode: string, error: string, extra: Content = {}): Reply {
  return { status, body: { errcode, error, ...extra } };
}

/** Runs `fn` when the bot is joined to the room, else 404 / 403 as a homeserver answers. */
export function inRoom(hs: RouteContext, p: Params, fn: (room: Room) => Reply): Reply {
  const room = hs.store.room(p.room!);
  if (!room) return err(404, 'M_NOT_FOUND', 'Unknown room');
  if (room.membership(hs.botUserId) !== 'join') {
    return err(403, 'M_FORBIDDEN', `User ${hs.botUserId} not in room ${room.roomId}`);
  }
  return fn(room);
}
