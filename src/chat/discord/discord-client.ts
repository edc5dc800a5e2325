/**
 * What the bot keeps of Discord: the REST client, the gateway, and a small map of the guild's
 * channels and threads (id → type and parent), kept current by the gateway's channel and thread
 * events — enough to tell a thread from a channel and where a command was typed, without a
 * request. Nothing else is cached: messages are edited by id, members and users come with
 * each interaction.
 */
import type { Logger } from '../../core/logger.js';
import { DiscordGateway, INTENT_GUILDS, type Json } from './discord-gateway.js';
import { DiscordRest } from './discord-rest.js';

/** Channel types (discord-api-docs `resources/channel.mdx`). */
const ChannelType = {
  GuildText: 0,
  GuildVoice: 2,
  GuildAnnouncement: 5,
  AnnouncementThread: 10,
  PublicThread: 11,
  PrivateThread: 12,
  GuildStageVoice: 13,
} as const;

const THREAD_TYPES = new Set<number>([
  ChannelType.AnnouncementThread,
  ChannelType.PublicThread,
  ChannelType.PrivateThread,
]);
/** Channels messages can be sent in (text, voice and stage chats, announcements, threads). */
const SENDABLE_TYPES = new Set<number>([
  ...THREAD_TYPES,
  ChannelType.GuildText,
  ChannelType.GuildVoice,
  ChannelType.GuildAnnouncement,
  ChannelType.GuildStageVoice,
]);

export interface ChannelInfo {
  id: string;
  type: number;
  parentId: string | null;
}

/** Enough threads remembered for a long-running bot; the oldest are forgotten first. */
const MAX_CHANNELS = 5000;

export interface DiscordClientOptions {
  token: string;
  api?: string;
  log: Logger;
  onInteraction: (interaction: Json) => void;
  /** The gateway closed for good after start-up (a reset token, intents taken away). */
  onLost?: (reason: string) => void;
}

export class DiscordClient {
  readonly rest: DiscordRest;
  private readonly gateway: DiscordGateway;
  private readonly channels = new Map<string, ChannelInfo>();
  user?: { id: string; username: string; discriminator?: string };
  applicationId?: string;

  constructor(private readonly opts: DiscordClientOptions) {
    this.rest = new DiscordRest({
      token: opts.token,
      api: opts.api,
      onHeldBack: (count) =>
        opts.log.error(
          { invalidRequests: count },
          `Discord refused ${count} requests in 10 minutes: holding requests back before Discord blocks this IP address (at 10,000). Check the bot token and the channels' permissions`,
        ),
      onRateLimited: (info) =>
        opts.log.info(
          { route: info.route, retryAfter: info.retryAfterMs, global: info.global },
          'Discord rate limit; queued',
        ),
    });
    this.gateway = new DiscordGateway({
      token: opts.token,
      intents: INTENT_GUILDS,
      rest: this.rest,
      log: opts.log,
      onDispatch: (t, d) => this.onDispatch(t, d),
      onFatal: (err) => opts.onLost?.(err.message),
    });
  }

  /** Connects; resolves once READY and the guilds' channels are known. */
  async login(): Promise<void> {
    const ready = await this.gateway.connect();
    this.user = ready.user;
    this.applicationId = ready.application?.id;
  }

  /**
   * Closes the gateway (no more events). REST calls still go: what a stopping bot says last
   * ("stopping…" on a running operation's message) is sent after its chats stop taking commands.
   */
  async destroy(): Promise<void> {
    await this.gateway.close();
  }

  get tag(): string | undefined {
    const u = this.user;
    if (!u) return undefined;
    return u.discriminator && u.discriminator !== '0'
      ? `${u.username}#${u.discriminator}`
      : u.username;
  }

  /** A channel or thread the bot can post in: from the map, else `GET /channels/{id}`. */
  async channel(id: string): Promise<ChannelInfo> {
    let info = this.channels.get(id);
    if (!info) {
      const raw = await this.rest.get<Json>(`/channels/${id}`);
      info = this.remember(raw);
    }
    if (!SENDABLE_TYPES.has(info.type))
      throw new Error(`Discord channel ${id} is unknown or not a text channel`);
    return info;
  }

  /** What the map knows of a channel (no request). */
  known(id: string): ChannelInfo | undefined {
    return this.channels.get(id);
  }

  isThread(info: ChannelInfo): boolean {
    return THREAD_TYPES.has(info.type);
  }

  /** Remembers a channel object (from the gateway, an interaction or a REST answer). */
  remember(raw: Json): ChannelInfo {
    const info: ChannelInfo = {
      id: String(raw.id),
      type: Number(raw.type ?? 0),
      parentId: raw.parent_id ? String(raw.parent_id) : null,
    };
    this.channels.delete(info.id);
    this.channels.set(info.id, info);
    if (this.channels.size > MAX_CHANNELS) {
      const oldest = this.channels.keys().next().value;
      if (oldest !== undefined) this.channels.delete(oldest);
    }
    return info;
  }

  private onDispatch(t: string, d: Json): void {
    switch (t) {
      case 'GUILD_CREATE':
        for (const c of [...(d.channels ?? []), ...(d.threads ?? [])]) this.remember(c);
        return;
      case 'CHANNEL_CREATE':
      case 'CHANNEL_UPDATE':
      case 'THREAD_CREATE':
      case 'THREAD_UPDATE':
        if (d.id) this.remember(d);
        return;
      case 'CHANNEL_DELETE':
      case 'THREAD_DELETE':
        this.channels.delete(String(d.id));
        return;
      case 'THREAD_LIST_SYNC':
        for (const c of d.threads ?? []) this.remember(c);
        return;
      case 'INTERACTION_CREATE':
        if (d.channel?.id) this.remember(d.channel);
        this.opts.onInteraction(d);
        return;
    }
  }
}
