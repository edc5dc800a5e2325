/**
 * Interaction callback and interaction-webhook routes (no bot token; the interaction token in
 * the path authorizes). Enforces: answer once (40060), answer within the deadline (10062),
 * callback types that fit the interaction, and Discord's message limits.
 */
import type { RestRequest, RouteDef } from './http.js';
import { DEFAULT_PARSE } from './mentions.js';
import { Flags, type StoredInteraction, type StoredMessage } from './records.js';
import type { RouteContext } from './routes-rest.js';
import { Errors, isObject, type JsonObject } from './util.js';
import { ErrorCollector, validateChoices } from './validate.js';

/** Callback types each interaction type may be answered with. */
const ALLOWED: Record<number, number[]> = {
  2: [4, 5, 9],
  3: [4, 5, 6, 7, 9],
  4: [8],
  5: [4, 5, 6, 7],
};

const obj = (v: unknown): JsonObject => (isObject(v) ? v : {});
const CALLBACK = 'POST /interactions/:id/:token/callback';

export function interactionRoutes(ctx: RouteContext): RouteDef[] {
  const { state, payloads } = ctx;

  function newResponseMessage(
    i: StoredInteraction,
    data: JsonObject,
    files: RestRequest['files'],
    loading: boolean,
  ): StoredMessage {
    const ephemeral = typeof data.flags === 'number' && (data.flags & Flags.Ephemeral) !== 0;
    const m = state.createMessage(
      i.channelId,
      loading ? {} : data,
      loading ? [] : files,
      {
        webhookId: state.appId,
        interactionId: i.id,
        type: i.type === 2 ? 20 : 0,
        flags: (ephemeral ? Flags.Ephemeral : 0) | (loading ? Flags.Loading : 0),
        ephemeralFor: ephemeral ? i.userId : null,
        reference:
          i.type === 3 && i.sourceMessageId
            ? {
                type: 0,
                message_id: i.sourceMessageId,
                channel_id: i.channelId,
                guild_id: state.guildId,
              }
            : null,
      },
      loading,
    );
    if (!m.ephemeralFor) ctx.messageEvent('MESSAGE_CREATE', m);
    return m;
  }

  function callback(req: RestRequest) {
    const i = state.interactions.get(req.params.id!);
    if (!i || i.token !== req.params.token) throw Errors.unknownInteraction();
    const body = obj(req.body);
    const type = typeof body.type === 'number' ? body.type : -1;
    if (i.response) throw Errors.alreadyAcknowledged();
    if (Date.now() > i.deadline) {
      i.lateAnswers.push({ type, at: Date.now() });
      throw Errors.unknownInteraction();
    }
    if (!ALLOWED[i.type]?.includes(type)) {
      throw Errors.invalidBody({
        type: {
          _errors: [
            {
              code: 'INTERACTION_RESPONSE_TYPE_INVALID',
              message: `Callback type ${type} is not valid for interaction type ${i.type}`,
            },
          ],
        },
      });
    }
    const data = obj(body.data);
    let message: StoredMessage | null = null;
    if (type === 4) {
      state.validate(data, ['data']);
      message = newResponseMessage(i, data, req.files, false);
      state.notePings(message, data, CALLBACK, DEFAULT_PARSE.webhook, false);
      i.originalMessageId = message.id;
    } else if (type === 5) {
      message = newResponseMessage(i, data, [], true);
      i.originalMessageId = message.id;
    } else if (type === 6 || type === 7) {
      i.originalMessageId = i.sourceMessageId;
      if (type === 7) {
        state.validate(data, ['data']);
        message = state.messages.get(i.sourceMessageId ?? '') ?? null;
        if (!message || message.deleted) throw Errors.unknownMessage();
        state.editMessage(message, data, req.files);
        state.notePings(message, data, CALLBACK, DEFAULT_PARSE.webhook, true);
        if (!message.ephemeralFor) ctx.messageEvent('MESSAGE_UPDATE', message);
      }
    } else if (type === 8) {
      const e = new ErrorCollector();
      validateChoices(e, data.choices);
      if (e.count > 0) throw Errors.invalidBody(e.tree);
      i.choices = Array.isArray(data.choices) ? data.choices.filter(isObject) : [];
    }
    i.response = { type, at: Date.now(), data };
    for (const f of i.onAnswer.splice(0)) f();
    if (req.query.get('with_response') !== 'true') return { status: 204 };
    return {
      status: 200,
      body: {
        interaction: {
          id: i.id,
          type: i.type,
          response_message_id: i.originalMessageId,
          response_message_loading: type === 5,
          response_message_ephemeral: message ? message.ephemeralFor !== null : false,
        },
        resource: {
          type,
          ...(message && (type === 4 || type === 7) ? { message: payloads.message(message) } : {}),
        },
      },
    };
  }

  /** The message `:message` (`@original` or a follow-up id) of an interaction webhook. */
  function webhookMessage(req: RestRequest): { i: StoredInteraction; m: StoredMessage } {
    const i = state.requireInteractionWebhook(req.params.app!, req.params.token!);
    const id = req.params.message === '@original' ? i.originalMessageId : req.params.message;
    if (!id || (id !== i.originalMessageId && !i.followUpIds.includes(id)))
      throw Errors.unknownMessage();
    const m = state.messages.get(id);
    if (!m || m.deleted) throw Errors.unknownMessage();
    return { i, m };
  }

  const route = (method: string, pattern: string, handler: RouteDef['handler']): RouteDef => ({
    method,
    pattern,
    auth: 'none',
    handler,
  });

  return [
    route('POST', '/interactions/:id/:token/callback', callback),
    route('GET', '/webhooks/:app/:token/messages/:message', (req) => ({
      status: 200,
      body: payloads.message(webhookMessage(req).m),
    })),
    route('PATCH', '/webhooks/:app/:token/messages/:message', (req) => {
      const { m } = webhookMessage(req);
      state.editMessage(m, obj(req.body), req.files);
      state.notePings(
        m,
        obj(req.body),
        'PATCH /webhooks/:id/:token/messages/:id',
        DEFAULT_PARSE.webhook,
        true,
      );
      if (!m.ephemeralFor) ctx.messageEvent('MESSAGE_UPDATE', m);
      return { status: 200, body: payloads.message(m) };
    }),
    route('DELETE', '/webhooks/:app/:token/messages/:message', (req) => {
      webhookMessage(req).m.deleted = true;
      return { status: 204 };
    }),
    route('POST', '/webhooks/:app/:token', (req) => {
      const i = state.requireInteractionWebhook(req.params.app!, req.params.token!);
      const body = obj(req.body);
      const original = i.originalMessageId ? state.messages.get(i.originalMessageId) : undefined;
      let m: StoredMessage;
      if (i.response?.type === 5 && original && (original.flags & Flags.Loading) !== 0) {
        // Discord (deprecated, documented): a follow-up right after a deferred reply edits the
        // "thinking…" message instead of creating one; its ephemeral flag is ignored.
        m = state.editMessage(original, body, req.files);
      } else {
        const ephemeral = typeof body.flags === 'number' && (body.flags & Flags.Ephemeral) !== 0;
        m = state.createMessage(i.channelId, body, req.files, {
          webhookId: state.appId,
          interactionId: i.id,
          flags: ephemeral ? Flags.Ephemeral : 0,
          ephemeralFor: ephemeral ? i.userId : null,
        });
        i.followUpIds.push(m.id);
        if (!m.ephemeralFor) ctx.messageEvent('MESSAGE_CREATE', m);
      }
      state.notePings(m, body, 'POST /webhooks/:id/:token', DEFAULT_PARSE.webhook, false);
      if (req.query.get('wait') !== 'true') return { status: 204 };
      return { status: 200, body: payloads.message(m) };
    }),
  ];
}
