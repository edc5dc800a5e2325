/** REST routes for the bot token: gateway info, channels, messages, threads, commands. */
import type { RestRequest, RouteDef } from './http.js';
import { DEFAULT_PARSE } from './mentions.js';
import type { Payloads } from './payloads.js';
import type { StoredMessage } from './records.js';
import type { FakeState } from './state.js';
import { asArray, Errors, isObject, type Json, type JsonObject, snowflake, str } from './util.js';
import { ErrorCollector, validateCommands } from './validate.js';

export interface RouteContext {
  state: FakeState;
  payloads: Payloads;
  gatewayUrl: () => string;
  /** Gateway dispatch (buffered while the client is disconnected). */
  dispatch: (t: string, d: Json) => void;
  /** MESSAGE_CREATE/UPDATE/DELETE, only if the client asked for the GuildMessages intent. */
  messageEvent: (t: 'MESSAGE_CREATE' | 'MESSAGE_UPDATE', m: StoredMessage) => void;
}

const obj = (req: RestRequest): JsonObject => (isObject(req.body) ? req.body : {});
const ok = (body: Json) => ({ status: 200, body });
const noContent = () => ({ status: 204 });

function storeCommands(
  ctx: RouteContext,
  body: Json | undefined,
  guildId: string | null,
): JsonObject[] {
  const e = new ErrorCollector();
  validateCommands(e, body);
  if (e.count > 0) throw Errors.invalidBody(e.tree);
  return asArray(body).map((c) => {
    const type = typeof c.type === 'number' ? c.type : 1;
    const key = `${guildId ?? 'global'}:${type}:${String(c.name)}`;
    const id = ctx.state.commandIds.get(key) ?? snowflake();
    ctx.state.commandIds.set(key, id);
    return {
      id,
      application_id: ctx.state.appId,
      ...(guildId ? { guild_id: guildId } : {}),
      name: String(c.name),
      name_localizations: c.name_localizations ?? null,
      description: str(c.description) ?? '',
      description_localizations: c.description_localizations ?? null,
      type,
      options: asArray(c.options),
      default_member_permissions: c.default_member_permissions ?? null,
      dm_permission: c.dm_permission ?? true,
      nsfw: c.nsfw === true,
      contexts: c.contexts ?? null,
      integration_types: c.integration_types ?? [0],
      version: snowflake(),
    };
  });
}

export function restRoutes(ctx: RouteContext): RouteDef[] {
  const { state, payloads } = ctx;
  const checkApp = (req: RestRequest, guild = true): void => {
    if (req.params.app !== state.appId) throw Errors.unknownCommand();
    if (guild && req.params.guild !== state.guildId) throw Errors.unknownGuild();
  };
  const bot = (method: string, pattern: string, handler: RouteDef['handler']): RouteDef => ({
    method,
    pattern,
    auth: 'bot',
    handler: (req) => {
      if (req.params.channel) state.checkAccess(req.params.channel);
      return handler(req);
    },
  });

  return [
    bot('GET', '/gateway/bot', () =>
      ok({
        url: ctx.gatewayUrl(),
        shards: 1,
        session_start_limit: {
          total: 1000,
          remaining: 999,
          reset_after: 86_400_000,
          max_concurrency: 1,
        },
      }),
    ),
    {
      method: 'GET',
      pattern: '/gateway',
      auth: 'none',
      handler: () => ok({ url: ctx.gatewayUrl() }),
    },
    bot('GET', '/users/@me', () => ok(payloads.userById(state.botId))),
    bot('GET', '/applications/@me', () => ok(payloads.application())),
    bot('GET', '/oauth2/applications/@me', () => ok(payloads.application())),
    bot('GET', '/guilds/:guild', (req) => {
      if (req.params.guild !== state.guildId) throw Errors.unknownGuild();
      return ok(payloads.guild());
    }),
    bot('GET', '/guilds/:guild/channels', () =>
      ok(
        [...state.channels.values()]
          .filter((c) => !state.isThread(c))
          .map((c) => payloads.channel(c)),
      ),
    ),
    bot('GET', '/guilds/:guild/members/:user', (req) => {
      const u = state.users.get(req.params.user!);
      if (!u || req.params.guild !== state.guildId) throw Errors.unknownMember();
      return ok(payloads.member(u));
    }),
    bot('GET', '/channels/:channel', (req) =>
      ok(payloads.channel(state.channel(req.params.channel!))),
    ),
    bot('PATCH', '/channels/:channel', (req) => {
      const c = state.channel(req.params.channel!);
      const body = obj(req);
      if (typeof body.name === 'string') c.name = body.name;
      if ('topic' in body) c.topic = str(body.topic) ?? null;
      if (typeof body.archived === 'boolean') c.archived = body.archived;
      if (typeof body.locked === 'boolean') c.locked = body.locked;
      if (state.isThread(c)) ctx.dispatch('THREAD_UPDATE', payloads.channel(c));
      return ok(payloads.channel(c));
    }),
    bot('POST', '/channels/:channel/typing', (req) => {
      state.channel(req.params.channel!);
      return noContent();
    }),
    bot('GET', '/channels/:channel/messages', (req) => {
      const c = state.channel(req.params.channel!);
      const limit = Math.min(Number(req.query.get('limit') ?? 50), 100);
      const list = c.messageIds
        .map((id) => state.messages.get(id)!)
        .filter((m) => !m.deleted && !m.ephemeralFor)
        .reverse()
        .slice(0, limit);
      return ok(list.map((m) => payloads.message(m)));
    }),
    bot('POST', '/channels/:channel/messages', (req) => {
      // resources/message.mdx, Create Message: with `enforce_nonce`, a nonce the same author used
      // in the past few minutes returns that message instead of creating another.
      const body = obj(req);
      const nonce =
        body.enforce_nonce === true &&
        (typeof body.nonce === 'string' || typeof body.nonce === 'number')
          ? String(body.nonce)
          : undefined;
      const earlier = nonce ? state.messageByNonce(nonce) : undefined;
      if (earlier) return ok(payloads.message(earlier));
      const m = state.createMessage(req.params.channel!, body, req.files);
      if (nonce) state.rememberNonce(nonce, m);
      state.notePings(m, obj(req), 'POST /channels/:id/messages', DEFAULT_PARSE.channel, false);
      ctx.messageEvent('MESSAGE_CREATE', m);
      return ok(payloads.message(m));
    }),
    bot('GET', '/channels/:channel/messages/:message', (req) =>
      ok(payloads.message(state.channelMessage(req.params.channel!, req.params.message!))),
    ),
    bot('PATCH', '/channels/:channel/messages/:message', (req) => {
      const m = state.channelMessage(req.params.channel!, req.params.message!);
      if (m.authorId !== state.botId) throw Errors.cannotEditOthers();
      state.editMessage(m, obj(req), req.files);
      state.notePings(m, obj(req), 'PATCH /channels/:id/messages/:id', DEFAULT_PARSE.channel, true);
      ctx.messageEvent('MESSAGE_UPDATE', m);
      return ok(payloads.message(m));
    }),
    bot('DELETE', '/channels/:channel/messages/:message', (req) => {
      const m = state.channelMessage(req.params.channel!, req.params.message!);
      m.deleted = true;
      return noContent();
    }),
    bot('POST', '/channels/:channel/messages/:message/threads', (req) => {
      const parent = state.channel(req.params.channel!);
      const starter = state.channelMessage(parent.id, req.params.message!);
      const body = obj(req);
      const thread = state.startThread(parent, body.name, starter, body);
      return ok({ ...payloads.channel(thread), newly_created: true });
    }),
    bot('POST', '/channels/:channel/threads', (req) => {
      const body = obj(req);
      const thread = state.startThread(state.channel(req.params.channel!), body.name, null, body);
      return ok({ ...payloads.channel(thread), newly_created: true });
    }),
    bot('PUT', '/channels/:channel/thread-members/@me', (req) => {
      state.channel(req.params.channel!);
      return noContent();
    }),
    bot('PUT', '/applications/:app/guilds/:guild/commands', (req) => {
      checkApp(req);
      state.guildCommands = storeCommands(ctx, req.body, state.guildId);
      return ok(state.guildCommands);
    }),
    bot('GET', '/applications/:app/guilds/:guild/commands', (req) => {
      checkApp(req);
      return ok(state.guildCommands);
    }),
    bot('POST', '/applications/:app/guilds/:guild/commands', (req) => {
      checkApp(req);
      const [cmd] = storeCommands(ctx, [req.body ?? null], state.guildId);
      state.guildCommands = [...state.guildCommands.filter((c) => c.id !== cmd!.id), cmd!];
      return { status: 201, body: cmd! };
    }),
    bot('PUT', '/applications/:app/commands', (req) => {
      checkApp(req, false);
      state.globalCommands = storeCommands(ctx, req.body, null);
      return ok(state.globalCommands);
    }),
    bot('GET', '/applications/:app/commands', (req) => {
      checkApp(req, false);
      return ok(state.globalCommands);
    }),
  ];
}
