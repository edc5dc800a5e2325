/** Discord-shaped JSON (users, members, channels, guild, READY, messages) built from the state. */
import type {
  StoredAttachment,
  StoredChannel,
  StoredMessage,
  StoredRole,
  StoredUser,
} from './records.js';
import type { FakeState } from './state.js';
import type { Json, JsonObject } from './util.js';

const bit = (n: number): bigint => 1n << BigInt(n);
/** Every permission bit Discord defines today (what an administrator/app gets). */
export const ALL_PERMISSIONS = (bit(51) - 1n).toString();
/** A plain member: view, send, embed, attach, history, reactions, app commands, threads. */
export const MEMBER_PERMISSIONS = [6, 10, 11, 14, 15, 16, 31, 35, 38]
  .reduce((acc, n) => acc | bit(n), 0n)
  .toString();

const iso = (ms: number): string => new Date(ms).toISOString();

export class Payloads {
  constructor(
    private readonly s: FakeState,
    private readonly opts: { baseUrl: () => string; guildName: string; startedAt: number },
  ) {}

  user(u: StoredUser): JsonObject {
    return {
      id: u.id,
      username: u.username,
      global_name: u.globalName,
      discriminator: '0',
      avatar: null,
      bot: u.bot,
      system: false,
      public_flags: 0,
      flags: 0,
      banner: null,
      accent_color: null,
      avatar_decoration_data: null,
    };
  }

  userById(id: string): JsonObject {
    const u = this.s.users.get(id);
    return u ? this.user(u) : { id, username: `unknown-${id}`, discriminator: '0', avatar: null };
  }

  permissionsOf(u: StoredUser): string {
    let perms = BigInt(this.s.roles.get(this.s.guildId)?.permissions ?? MEMBER_PERMISSIONS);
    for (const id of u.roleIds) perms |= BigInt(this.s.roles.get(id)?.permissions ?? '0');
    if ((perms & bit(3)) !== 0n) return ALL_PERMISSIONS; // ADMINISTRATOR
    return perms.toString();
  }

  member(u: StoredUser, withPermissions = false): JsonObject {
    return {
      user: this.user(u),
      nick: null,
      avatar: null,
      banner: null,
      roles: u.roleIds,
      joined_at: iso(this.opts.startedAt - 86_400_000),
      premium_since: null,
      deaf: false,
      mute: false,
      pending: false,
      flags: 0,
      communication_disabled_until: null,
      ...(withPermissions ? { permissions: this.permissionsOf(u) } : {}),
    };
  }

  role(r: StoredRole): JsonObject {
    return {
      id: r.id,
      name: r.name,
      color: 0,
      colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
      hoist: false,
      icon: null,
      unicode_emoji: null,
      position: r.position,
      permissions: r.permissions,
      managed: false,
      mentionable: false,
      flags: 0,
    };
  }

  channel(c: StoredChannel): JsonObject {
    const last = c.messageIds.at(-1) ?? null;
    const base: JsonObject = {
      id: c.id,
      type: c.type,
      guild_id: this.s.guildId,
      name: c.name,
      parent_id: c.parentId,
      last_message_id: last,
      rate_limit_per_user: 0,
      flags: 0,
      nsfw: false,
    };
    if (!this.s.isThread(c)) {
      return { ...base, position: 0, permission_overwrites: [], topic: c.topic };
    }
    const count = c.messageIds.length;
    return {
      ...base,
      owner_id: c.ownerId,
      message_count: count,
      total_message_sent: count,
      member_count: 1,
      applied_tags: [],
      thread_metadata: {
        archived: c.archived,
        auto_archive_duration: c.autoArchiveDuration,
        archive_timestamp: iso(c.createdAt),
        locked: c.locked,
        create_timestamp: iso(c.createdAt),
        ...(c.type === 12 ? { invitable: true } : {}),
      },
      member: {
        id: c.id,
        user_id: this.s.botId,
        join_timestamp: iso(c.createdAt),
        flags: 1,
      },
    };
  }

  guild(): JsonObject {
    const channels = [...this.s.channels.values()];
    const members = [...this.s.users.values()];
    return {
      id: this.s.guildId,
      name: this.opts.guildName,
      icon: null,
      splash: null,
      discovery_splash: null,
      banner: null,
      description: null,
      owner_id: members.find((u) => !u.bot)?.id ?? this.s.botId,
      afk_channel_id: null,
      afk_timeout: 300,
      verification_level: 0,
      default_message_notifications: 0,
      explicit_content_filter: 0,
      mfa_level: 0,
      nsfw_level: 0,
      premium_tier: 0,
      premium_subscription_count: 0,
      premium_progress_bar_enabled: false,
      preferred_locale: 'en-US',
      features: [],
      application_id: null,
      system_channel_id: null,
      system_channel_flags: 0,
      rules_channel_id: null,
      public_updates_channel_id: null,
      safety_alerts_channel_id: null,
      vanity_url_code: null,
      max_members: 500_000,
      max_video_channel_users: 25,
      roles: [...this.s.roles.values()].map((r) => this.role(r)),
      emojis: [],
      stickers: [],
      joined_at: iso(this.opts.startedAt - 3_600_000),
      large: false,
      unavailable: false,
      member_count: members.length,
      members: members.map((u) => this.member(u)),
      channels: channels.filter((c) => !this.s.isThread(c)).map((c) => this.channel(c)),
      threads: channels
        .filter((c) => this.s.isThread(c) && !c.archived)
        .map((c) => this.channel(c)),
      presences: [],
      voice_states: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
    };
  }

  ready(sessionId: string, resumeUrl: string): JsonObject {
    const bot = this.s.users.get(this.s.botId)!;
    return {
      v: 10,
      user: { ...this.user(bot), verified: true, mfa_enabled: false, email: null },
      guilds: [{ id: this.s.guildId, unavailable: true }],
      session_id: sessionId,
      session_type: 'normal',
      resume_gateway_url: resumeUrl,
      shard: [0, 1],
      application: { id: this.s.appId, flags: 0 },
      private_channels: [],
      relationships: [],
      presences: [],
      guild_join_requests: [],
      geo_ordered_rtc_regions: ['local'],
      user_settings: {},
    };
  }

  application(): JsonObject {
    const bot = this.s.users.get(this.s.botId)!;
    return {
      id: this.s.appId,
      name: bot.username,
      icon: null,
      description: '',
      summary: '',
      bot_public: false,
      bot_require_code_grant: false,
      verify_key: '0'.repeat(64),
      flags: 0,
      team: null,
      bot: this.user(bot),
      owner: this.user(bot),
      guild_id: this.s.guildId,
    };
  }

  attachment(a: StoredAttachment, channelId: string): JsonObject {
    const url = `${this.opts.baseUrl()}/attachments/${channelId}/${a.id}/${encodeURIComponent(a.filename)}`;
    return {
      id: a.id,
      filename: a.filename,
      size: a.size,
      url,
      proxy_url: url,
      content_type: a.contentType,
      ...(a.description ? { description: a.description } : {}),
    };
  }

  message(m: StoredMessage): JsonObject {
    const channel = this.s.channels.get(m.channelId);
    const out: JsonObject = {
      id: m.id,
      channel_id: m.channelId,
      author: this.userById(m.authorId),
      content: m.content,
      timestamp: iso(m.createdAt),
      edited_timestamp: m.editedAt === null ? null : iso(m.editedAt),
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: m.attachments.map((a) => this.attachment(a, m.channelId)),
      embeds: m.embeds,
      pinned: false,
      type: m.type,
      flags: m.flags,
      components: m.components,
    };
    if (channel && this.s.isThread(channel)) out.position = channel.messageIds.indexOf(m.id);
    if (m.webhookId) {
      out.webhook_id = m.webhookId;
      out.application_id = this.s.appId;
    }
    if (m.reference) out.message_reference = m.reference;
    const i = m.interactionId ? this.s.interactions.get(m.interactionId) : undefined;
    if (i) {
      const user = this.userById(i.userId);
      const owners: Json = { '0': this.s.guildId };
      out.interaction_metadata =
        i.type === 3
          ? {
              id: i.id,
              type: 3,
              user,
              authorizing_integration_owners: owners,
              interacted_message_id: i.sourceMessageId,
            }
          : {
              id: i.id,
              type: i.type,
              user,
              authorizing_integration_owners: owners,
              name: i.name,
              command_type: 1,
            };
      if (i.type === 2) out.interaction = { id: i.id, type: 2, name: i.name, user };
    }
    if (m.threadId) {
      const thread = this.s.channels.get(m.threadId);
      if (thread) out.thread = this.channel(thread);
    }
    return out;
  }
}
