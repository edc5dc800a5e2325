/** /rooms/… and /join endpoints of the fake homeserver. */
import {
  err,
  type Handler,
  inRoom,
  ok,
  type Params,
  type Reply,
  type Route,
  type RouteContext,
  rateLimited,
  tooLarge,
} from './reply.js';
import type { Content, NewEvent } from './store.js';
import { clientEvent } from './sync.js';

export const roomRoutes: Route[] = [];
const on = (method: string, pattern: string, handler: Handler) => {
  roomRoutes.push({ method, pattern, handler });
};

on('POST', 'join/:room', (hs, p) => join(hs, p.room!));
on('POST', 'rooms/:room/join', (hs, p) => join(hs, p.room!));
on('POST', 'rooms/:room/leave', (hs, p) => {
  const room = hs.store.room(p.room!);
  const m = room?.membership(hs.botUserId);
  if (!room || (m !== 'join' && m !== 'invite')) {
    return err(403, 'M_FORBIDDEN', 'User is not in the room');
  }
  hs.store.member(room.roomId, hs.botUserId, 'leave');
  return ok();
});
on('PUT', 'rooms/:room/send/:type/:txn', (hs, p, _q, content) =>
  send(hs, p, { type: p.type!, sender: hs.botUserId, content }),
);
on('PUT', 'rooms/:room/redact/:event/:txn', (hs, p, _q, body) =>
  send(hs, p, {
    type: 'm.room.redaction',
    sender: hs.botUserId,
    redacts: p.event!,
    content: { ...body, redacts: p.event },
  }),
);
on('PUT', 'rooms/:room/state/:type', (hs, p, _q, body) => putState(hs, p, '', body));
on('PUT', 'rooms/:room/state/:type/:key', (hs, p, _q, body) => putState(hs, p, p.key!, body));
on('GET', 'rooms/:room/state', (hs, p) =>
  inRoom(hs, p, (room) =>
    ok([...room.state.values()].map((s) => clientEvent(s, hs.botUserId, true))),
  ),
);
on('GET', 'rooms/:room/state/:type', (hs, p, q) => getState(hs, p, '', q));
on('GET', 'rooms/:room/state/:type/:key', (hs, p, q) => getState(hs, p, p.key!, q));
on('GET', 'rooms/:room/event/:event', (hs, p) =>
  inRoom(hs, p, (room) => {
    const s = hs.store.events.get(p.event!);
    if (!s || s.roomId !== room.roomId) return err(404, 'M_NOT_FOUND', 'Event not found.');
    return ok(clientEvent(s, hs.botUserId, true));
  }),
);
on('GET', 'rooms/:room/joined_members', (hs, p) =>
  inRoom(hs, p, (room) => {
    const profile = (u: string) => [u, { display_name: hs.store.displayName(u), avatar_url: null }];
    return ok({ joined: Object.fromEntries(room.members('join').map(profile)) });
  }),
);
on('GET', 'rooms/:room/members', (hs, p, q) =>
  inRoom(hs, p, (room) => {
    const want = q.get('membership');
    const not = q.get('not_membership');
    const chunk = [...room.state.values()]
      .filter((s) => s.event.type === 'm.room.member')
      .filter((s) => !want || s.event.content.membership === want)
      .filter((s) => !not || s.event.content.membership !== not)
      .map((s) => clientEvent(s, hs.botUserId, true));
    return ok({ chunk });
  }),
);
on('POST', 'rooms/:room/receipt/:type/:event', (hs, p) =>
  inRoom(hs, p, (room) => {
    hs.receipts.push({ roomId: room.roomId, type: p.type!, eventId: p.event! });
    return ok();
  }),
);
on('POST', 'rooms/:room/read_markers', (hs, p) => inRoom(hs, p, () => ok()));
on('PUT', 'rooms/:room/typing/:user', (hs, p, _q, body) =>
  inRoom(hs, p, (room) => {
    if (p.user !== hs.botUserId) return err(403, 'M_FORBIDDEN', 'Cannot set typing for others');
    const typing = { roomId: room.roomId, typing: !!body.typing };
    hs.typing.push(
      typeof body.timeout === 'number' ? { ...typing, timeout: body.timeout } : typing,
    );
    return ok();
  }),
);

function join(hs: RouteContext, roomIdOrAlias: string): Reply {
  const room = hs.store.room(roomIdOrAlias);
  if (!room) return err(404, 'M_NOT_FOUND', `No known servers for ${roomIdOrAlias}`);
  const m = room.membership(hs.botUserId);
  if (m === 'ban') return err(403, 'M_FORBIDDEN', 'You are banned from this room');
  if (m !== 'join' && m !== 'invite' && !room.isPublic) {
    return err(403, 'M_FORBIDDEN', 'You are not invited to this room.');
  }
  if (m !== 'join') hs.store.member(room.roomId, hs.botUserId, 'join');
  return ok({ room_id: room.roomId });
}

/** PUT …/send and …/redact: idempotent per txn id, power-checked, rate-limited. */
function send(hs: RouteContext, p: Params, e: NewEvent): Reply {
  return inRoom(hs, p, (room) => {
    const key = `${room.roomId}\u0000${p.txn}`;
    const seen = hs.txns.get(key);
    if (seen) return ok({ event_id: seen });
    if (room.powerOf(hs.botUserId) < room.powerFor(e.type, false)) {
      return err(403, 'M_FORBIDDEN', `You don't have permission to post ${e.type} events`);
    }
    const big = tooLarge(hs, {
      roomId: room.roomId,
      sender: e.sender,
      type: e.type,
      content: e.content,
      ...(e.redacts === undefined ? {} : { redacts: e.redacts }),
    });
    if (big) return big;
    const retry = hs.takeSendSlot();
    if (retry !== undefined) return rateLimited(retry, hs.retryAfterStyle());
    const stored = hs.store.addEvent(room.roomId, { ...e, txnId: p.txn!, viaApi: true });
    hs.txns.set(key, stored.event.event_id);
    return ok({ event_id: stored.event.event_id });
  });
}

function putState(hs: RouteContext, p: Params, stateKey: string, content: Content): Reply {
  return inRoom(hs, p, (room) => {
    if (room.powerOf(hs.botUserId) < room.powerFor(p.type!, true)) {
      return err(403, 'M_FORBIDDEN', `You don't have permission to send ${p.type} state`);
    }
    const e = { type: p.type!, sender: hs.botUserId, state_key: stateKey, content, viaApi: true };
    const big = tooLarge(hs, {
      roomId: room.roomId,
      sender: e.sender,
      type: e.type,
      content,
      stateKey,
    });
    if (big) return big;
    return ok({ event_id: hs.store.addEvent(room.roomId, e).event.event_id });
  });
}

function getState(hs: RouteContext, p: Params, stateKey: string, q: URLSearchParams): Reply {
  return inRoom(hs, p, (room) => {
    const s = room.stateEvent(p.type!, stateKey);
    if (!s) return err(404, 'M_NOT_FOUND', 'Event not found.');
    return ok(q.get('format') === 'event' ? clientEvent(s, hs.botUserId, true) : s.event.content);
  });
}
