/**
 * What the fake Discord remembers: guild, channels, threads, messages (with every version),
 * interactions and registered commands — plus the message operations the REST routes share.
 */

import type { IncomingFile } from './http.js';
import { type MentionType, type Ping, wouldPing } from './mentions.js';
import {
  Flags,
  type StoredAttachment,
  type StoredChannel,
  type StoredInteraction,
  type StoredMessage,
  type StoredRole,
  type StoredUser,
  snapshot,
} from './records.js';
import { asArray, Errors, isObject, type JsonObject, snowflake, str } from './util.js';
import { ErrorCollector, validateMessageBody } from './validate.js';

export class FakeState {
  readonly users = new Map<string, StoredUser>();
  readonly roles = new Map<string, StoredRole>();
  readonly channels = new Map<string, StoredChannel>();
  readonly messages = new Map<string, StoredMessage>();
  readonly interactions = new Map<string, StoredInteraction>();
  readonly interactionsByToken = new Map<string, StoredInteraction>();
  guildCommands: JsonObject[] = [];
  globalCommands: JsonObject[] = [];
  /** Stable command ids per `type:name`, like Discord keeps them across bulk overwrites. */
  readonly commandIds = new Map<string, string>();
  onThreadCreate: (thread: StoredChannel) => void = () => {};
  /** Mentions that notified someone (see mentions.ts), in the order the requests came. */
  readonly pings: Ping[] = [];
  /** Channels the bot cannot see (VIEW_CHANNEL denied): their routes, and their threads', answer 403. */
  readonly noAccess = new Set<string>();
  /** Channels where the bot may not start threads (CREATE_PUBLIC_THREADS denied): 403 50013. */
  readonly noThreads = new Set<string>();

  constructor(
    readonly appId: string,
    readonly botId: string,
    readonly guildId: string,
    readonly maxUploadBytes: number,
  ) {}

  channel(id: string): StoredChannel {
    const c = this.channels.get(id);
    if (!c) throw Errors.unknownChannel();
    return c;
  }

  /** 403 50001 Missing Access when the bot may not see the channel (or a thread's parent). */
  checkAccess(id: string): void {
    const c = this.channels.get(id);
    if (this.noAccess.has(id) || (c?.parentId && this.noAccess.has(c.parentId)))
      throw Errors.missingAccess();
  }

  /** A message visible through the bot's channel endpoints (not ephemeral, not deleted). */
  channelMessage(channelId: string, messageId: string): StoredMessage {
    this.channel(channelId);
    const m = this.messages.get(messageId);
    if (!m || m.channelId !== channelId || m.deleted || m.ephemeralFor)
      throw Errors.unknownMessage();
    return m;
  }

  /**
   * The bot has no MANAGE_THREADS: it may not create or edit messages in a locked thread, archived
   * or not (discord-api-docs topics/threads.mdx "Locked Threads"). Discord answers that with
   * 50083 "Thread is archived" (discord-api-docs#6884: a thread locked under a bot's reply).
   */
  checkNotLocked(c: StoredChannel): void {
    if (this.isThread(c) && c.locked) throw Errors.threadArchived();
  }

  isThread(c: StoredChannel): boolean {
    return c.type === 10 || c.type === 11 || c.type === 12;
  }

  /** Throws Discord's 400 if the body breaks a documented limit. */
  validate(body: JsonObject, base: (string | number)[] = []): void {
    const e = new ErrorCollector();
    validateMessageBody(e, body, base);
    if (e.count > 0) throw Errors.invalidBody(e.tree);
  }

  private readonly nonces = new Map<string, { id: string; at: number }>();

  /** The bot's message created with `nonce` (and `enforce_nonce`) in the last 5 minutes. */
  messageByNonce(nonce: string): StoredMessage | undefined {
    const seen = this.nonces.get(nonce);
    if (!seen || Date.now() - seen.at > 5 * 60_000) return undefined;
    return this.messages.get(seen.id);
  }

  rememberNonce(nonce: string, m: StoredMessage): void {
    this.nonces.set(nonce, { id: m.id, at: Date.now() });
  }

  createMessage(
    channelId: string,
    body: JsonObject,
    files: IncomingFile[],
    extra: Partial<StoredMessage> = {},
    allowEmpty = false,
  ): StoredMessage {
    const channel = this.channel(channelId);
    this.checkNotLocked(channel);
    const now = Date.now();
    const msg: StoredMessage = {
      id: snowflake(now),
      channelId,
      authorId: this.botId,
      webhookId: null,
      type: 0,
      content: '',
      embeds: [],
      components: [],
      attachments: [],
      flags: 0,
      createdAt: now,
      editedAt: null,
      ephemeralFor: null,
      interactionId: null,
      threadId: null,
      reference: null,
      deleted: false,
      history: [],
      ...extra,
    };
    const requested = typeof body.flags === 'number' ? body.flags : 0;
    const settable = Flags.SuppressEmbeds | Flags.SuppressNotifications | Flags.ComponentsV2;
    msg.flags |= requested & settable;
    this.apply(msg, body, files, true);
    if (isObject(body.message_reference) && str(body.message_reference.message_id)) {
      msg.reference = { ...body.message_reference, channel_id: channelId, guild_id: this.guildId };
      if (msg.type === 0) msg.type = 19;
    }
    if (!allowEmpty && isEmpty(msg)) throw Errors.emptyMessage();
    if (channel.archived) channel.archived = false;
    this.messages.set(msg.id, msg);
    channel.messageIds.push(msg.id);
    msg.history.push(snapshot(msg));
    return msg;
  }

  editMessage(msg: StoredMessage, body: JsonObject, files: IncomingFile[]): StoredMessage {
    const channel = this.channel(msg.channelId);
    this.checkNotLocked(channel);
    // "Users cannot edit messages … in archived threads" (topics/threads.mdx).
    if (this.isThread(channel) && channel.archived) throw Errors.threadArchived();
    const wasLoading = (msg.flags & Flags.Loading) !== 0;
    const draft: StoredMessage = { ...msg, flags: msg.flags & ~Flags.Loading };
    if (typeof body.flags === 'number') {
      draft.flags = (draft.flags & ~Flags.SuppressEmbeds) | (body.flags & Flags.SuppressEmbeds);
      if (wasLoading) draft.flags |= body.flags & Flags.ComponentsV2;
    }
    this.apply(draft, body, files, false);
    if (isEmpty(draft)) throw Errors.emptyMessage();
    Object.assign(msg, draft, { editedAt: wasLoading ? null : Date.now() });
    msg.history.push(snapshot(msg));
    return msg;
  }

  private apply(
    msg: StoredMessage,
    body: JsonObject,
    files: IncomingFile[],
    create: boolean,
  ): void {
    this.validate(body);
    if ('content' in body) msg.content = typeof body.content === 'string' ? body.content : '';
    if ('embeds' in body) msg.embeds = asArray(body.embeds).map((e) => ({ type: 'rich', ...e }));
    if ('components' in body) msg.components = asArray(body.components);
    const total = files.reduce((n, f) => n + f.data.length, 0);
    if (total > this.maxUploadBytes) throw Errors.tooLarge();
    const fresh = (f: IncomingFile, meta: JsonObject = {}): StoredAttachment => ({
      id: snowflake(),
      filename: str(meta.filename) ?? f.name,
      size: f.data.length,
      contentType: f.contentType,
      description: str(meta.description) ?? null,
      data: f.data,
    });
    if (Array.isArray(body.attachments)) {
      const next: StoredAttachment[] = [];
      for (const meta of asArray(body.attachments)) {
        const id = String(meta.id);
        const kept = msg.attachments.find((a) => a.id === id);
        const file = files.find((f) => f.field === `files[${id}]`);
        if (kept) next.push(kept);
        else if (file) next.push(fresh(file, meta));
      }
      msg.attachments = next;
    } else if (files.length > 0) {
      msg.attachments = [...(create ? [] : msg.attachments), ...files.map((f) => fresh(f))];
    }
  }

  startThread(
    parent: StoredChannel,
    name: unknown,
    starter: StoredMessage | null,
    body: JsonObject,
  ): StoredChannel {
    if (parent.type !== 0 && parent.type !== 5) throw Errors.wrongChannelType();
    if (this.noThreads.has(parent.id)) throw Errors.missingPermissions();
    const e = new ErrorCollector();
    e.length(['name'], name, 1, 100);
    if (e.count > 0) throw Errors.invalidBody(e.tree);
    if (starter?.threadId) throw Errors.threadExists();
    const now = Date.now();
    const type = starter ? (parent.type === 5 ? 10 : 11) : body.type === 12 ? 12 : 11;
    const thread: StoredChannel = {
      id: starter ? starter.id : snowflake(now),
      type,
      name: String(name),
      topic: null,
      parentId: parent.id,
      ownerId: this.botId,
      createdAt: now,
      archived: false,
      locked: false,
      autoArchiveDuration:
        typeof body.auto_archive_duration === 'number' ? body.auto_archive_duration : 4320,
      starterMessageId: starter?.id ?? null,
      messageIds: [],
    };
    this.channels.set(thread.id, thread);
    if (starter) {
      starter.threadId = thread.id;
      starter.flags |= Flags.HasThread;
    }
    this.onThreadCreate(thread);
    return thread;
  }

  /**
   * Records the mentions of a message just created or edited that would notify: an edit
   * reconstructs them only when it changes `content`, with its own `allowed_mentions`.
   */
  notePings(
    msg: StoredMessage,
    body: JsonObject,
    route: string,
    defaults: readonly MentionType[],
    edit: boolean,
  ): void {
    if (edit && !('content' in body)) return;
    for (const p of wouldPing(msg.content, body.allowed_mentions, defaults)) {
      this.pings.push({
        ...p,
        messageId: msg.id,
        channelId: msg.channelId,
        route,
        edit,
        allowedMentions: body.allowed_mentions,
        content: msg.content,
      });
    }
  }

  /** Who a message is visible to: everyone, or only the ephemeral recipient. */
  visibleTo(msg: StoredMessage, userId: string): boolean {
    return !msg.deleted && (msg.ephemeralFor === null || msg.ephemeralFor === userId);
  }

  requireInteractionWebhook(appId: string, token: string): StoredInteraction {
    const i = this.interactionsByToken.get(token);
    if (!i || appId !== this.appId) throw Errors.unknownWebhook();
    // Discord: "Interaction tokens are valid for 15 minutes" → 401 Invalid Webhook Token (50027).
    if (Date.now() > i.tokenExpiresAt) throw Errors.invalidWebhookToken();
    // An interaction never acknowledged in time has its token invalidated.
    if (!i.response) throw Errors.unknownWebhook();
    return i;
  }
}

function isEmpty(m: StoredMessage): boolean {
  return (
    m.content === '' &&
    m.embeds.length === 0 &&
    m.components.length === 0 &&
    m.attachments.length === 0
  );
}
