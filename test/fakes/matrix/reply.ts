/** Shared by the fake homeserver's route files: replies, the context routes act on. */
import { MAX_PDU_BYTES, pduBytes, type RetryAfterStyle } from './limits.js';
import type { Content, Room, Store } from './store.js';

export interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
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
  /** How a 429 says when to retry. */
  retryAfterStyle(): RetryAfterStyle;
  /** Events refused with 413 M_TOO_LARGE: what the bot tried to send. */
  tooLarge: { roomId: string; type: string; bytes: number }[];
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

/** 429 M_LIMIT_EXCEEDED with `Retry-After` (whole seconds, rounded up) and/or `retry_after_ms`. */
export function rateLimited(retryMs: number, style: RetryAfterStyle): Reply {
  const body: Content = { errcode: 'M_LIMIT_EXCEEDED', error: 'Too Many Requests' };
  if (style !== 'header') body.retry_after_ms = retryMs;
  const r: Reply = { status: 429, body };
  if (style !== 'body')
    r.headers = { 'retry-after': String(Math.max(1, Math.ceil(retryMs / 1000))) };
  return r;
}

/** 413 M_TOO_LARGE when the event as a PDU would exceed 65536 bytes (recorded in hs.tooLarge). */
export function tooLarge(
  hs: RouteContext,
  e: {
    roomId: string;
    sender: string;
    type: string;
    content: Content;
    stateKey?: string;
    redacts?: string;
  },
): Reply | undefined {
  const bytes = pduBytes(e);
  if (bytes <= MAX_PDU_BYTES) return undefined;
  hs.tooLarge.push({ roomId: e.roomId, type: e.type, bytes });
  return err(413, 'M_TOO_LARGE', 'event too large');
}
