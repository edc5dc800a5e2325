/** Client-server API v3 endpoints of the fake homeserver, except /sync (in the main file). */
import {
  err,
  type Handler,
  ok,
  type Params,
  type Reply,
  type Route,
  type RouteContext,
} from './reply.js';
import { roomRoutes } from './room-routes.js';
import type { Content } from './store.js';

export type { Receipt, RouteContext, TypingNotice } from './reply.js';

const routes: Route[] = [];
const on = (method: string, pattern: string, handler: Handler) => {
  routes.push({ method, pattern, handler });
};

on('GET', 'account/whoami', (hs) =>
  ok({ user_id: hs.botUserId, device_id: hs.deviceId, is_guest: false }),
);
on('GET', 'joined_rooms', (hs) => {
  const rooms = [...hs.store.rooms.values()].filter((r) => r.membership(hs.botUserId) === 'join');
  return ok({ joined_rooms: rooms.map((r) => r.roomId) });
});
on('POST', 'user/:user/filter', (hs, p, _q, body) => {
  if (p.user !== hs.botUserId)
    return err(403, 'M_FORBIDDEN', 'Cannot create filters for other users');
  const id = String(hs.filters.size + 1);
  hs.filters.set(id, body);
  return ok({ filter_id: id });
});
on('GET', 'user/:user/filter/:id', (hs, p) =>
  hs.filters.has(p.id!) ? ok(hs.filters.get(p.id!)) : err(404, 'M_NOT_FOUND', 'No such filter'),
);
on('GET', 'user/:user/account_data/:type', (hs, p) => accountData(hs, p));
on('PUT', 'user/:user/account_data/:type', (hs, p, _q, body) => accountData(hs, p, body));
on('GET', 'user/:user/rooms/:room/account_data/:type', (hs, p) => accountData(hs, p));
on('PUT', 'user/:user/rooms/:room/account_data/:type', (hs, p, _q, b) => accountData(hs, p, b));
on('GET', 'profile/:user', (hs, p) => profile(hs, p.user!));
on('GET', 'profile/:user/:field', (hs, p) => profile(hs, p.user!, p.field));
on('PUT', 'profile/:user/:field', (hs, p, _q, body) => {
  if (p.user !== hs.botUserId) return err(403, 'M_FORBIDDEN', 'Cannot set profile of other users');
  const old = hs.store.profiles.get(hs.botUserId);
  hs.store.profiles.set(hs.botUserId, { ...old, [p.field!]: body[p.field!] });
  return ok();
});
on('GET', 'directory/room/:alias', (hs, p) => {
  const room = hs.store.room(p.alias!);
  if (!room || room.alias !== p.alias)
    return err(404, 'M_NOT_FOUND', `Room alias ${p.alias} not found.`);
  return ok({ room_id: room.roomId, servers: [hs.store.serverName] });
});
routes.push(...roomRoutes);

function matchRoute(pattern: string, segs: string[]): Params | undefined {
  const parts = pattern.split('/');
  if (parts.length !== segs.length) return undefined;
  const params: Params = {};
  for (const [i, part] of parts.entries()) {
    if (part.startsWith(':')) params[part.slice(1)] = segs[i]!;
    else if (part !== segs[i]) return undefined;
  }
  return params;
}

/** Dispatch decoded path segments after /_matrix/client/v3/; undefined = unknown endpoint. */
export function route(
  hs: RouteContext,
  method: string,
  segs: string[],
  q: URLSearchParams,
  body: Content,
): Reply | undefined {
  for (const r of routes) {
    if (r.method !== method) continue;
    const params = matchRoute(r.pattern, segs);
    if (params) return r.handler(hs, params, q, body);
  }
  return undefined;
}

function accountData(hs: RouteContext, p: Params, body?: Content): Reply {
  if (p.user !== hs.botUserId) {
    return err(403, 'M_FORBIDDEN', 'Cannot access account data for other users.');
  }
  if (body) {
    hs.store.setAccountData(p.type!, body, p.room);
    return ok();
  }
  const map = p.room ? hs.store.roomAccountData.get(p.room) : hs.store.accountData;
  const entry = map?.get(p.type!);
  return entry ? ok(entry.content) : err(404, 'M_NOT_FOUND', 'Account data not found');
}

function profile(hs: RouteContext, userId: string, field?: string): Reply {
  const rooms = [...hs.store.rooms.values()];
  const known = hs.store.profiles.has(userId) || rooms.some((r) => r.membership(userId));
  if (!known) return err(404, 'M_NOT_FOUND', 'Profile was not found');
  const prof: Content = { displayname: hs.store.displayName(userId) };
  const avatar = hs.store.profiles.get(userId)?.avatar_url;
  if (avatar) prof.avatar_url = avatar;
  if (!field) return ok(prof);
  return field in prof ? ok({ [field]: prof[field] }) : err(404, 'M_NOT_FOUND', `No ${field}`);
}
