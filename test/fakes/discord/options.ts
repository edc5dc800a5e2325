/** Start options of the fake, and the initial state (guild, roles, users, channels) built from them. */
import { MEMBER_PERMISSIONS } from './payloads.js';
import { FakeState } from './state.js';
import { isSnowflake, snowflake } from './util.js';

export interface FakeDiscordOptions {
  appId?: string;
  /** Bot user id; defaults to `appId` (true for applications created today). */
  botUserId?: string;
  botUsername?: string;
  guildId?: string;
  guildName?: string;
  /** Text channels (type 0, or 5 for announcement). Default: one `#general`. */
  channels?: { id?: string; name: string; type?: 0 | 5; topic?: string }[];
  /** `roles`: role ids or names. */
  users?: { id?: string; username: string; globalName?: string; roles?: string[] }[];
  /** `permissions`: bitfield string. `@everyone` (id = guild id) is always there. */
  roles?: { id?: string; name: string; permissions?: string }[];
  /** Deadline for the first answer to an interaction (Discord: 3000). */
  interactionTimeoutMs?: number;
  /** Lifetime of the interaction token for edits/follow-ups (Discord: 15 min). */
  interactionTokenTtlMs?: number;
  heartbeatIntervalMs?: number;
  /** When set, the bot token must be exactly this. */
  token?: string;
  /** Users can only run registered commands/options (default true). */
  strictCommands?: boolean;
  /** Upload limit per request (Discord default 10 MiB). */
  maxUploadBytes?: number;
}

/** Returned by the drive methods; pass it to `interactionResponse`. */
export interface InteractionHandle {
  id: string;
  token: string;
  type: number;
  userId: string;
  channelId: string;
  sentAt: number;
}

export interface FakeDiscordStats {
  requests: number;
  /** 429s served (rate limits hit by the client). */
  rateLimited: number;
  /** Buckets drained to `Remaining: 0` (a client that reads headers then waits instead of 429). */
  bucketsExhausted: number;
  rateLimitedByRoute: Record<string, number>;
  connections: number;
  identifies: number;
  resumes: number;
  heartbeats: number;
  invalidSessions: number;
}

const need = (id: string, what: string): string => {
  if (!isSnowflake(id)) {
    throw new Error(
      `FakeDiscord: ${what} id "${id}" is not a snowflake (17–20 digits); use snowflake()`,
    );
  }
  return id;
};

/** Validates ids (snowflakes; omitted ones are generated) and seeds the state. */
export function seedState(o: FakeDiscordOptions): FakeState {
  const appId = need(o.appId ?? snowflake(), 'app');
  const guildId = need(o.guildId ?? snowflake(), 'guild');
  const botId = need(o.botUserId ?? appId, 'bot user');
  const s = new FakeState(appId, botId, guildId, o.maxUploadBytes ?? 10 * 1024 * 1024);
  s.roles.set(guildId, {
    id: guildId,
    name: '@everyone',
    permissions: MEMBER_PERMISSIONS,
    position: 0,
  });
  for (const [n, r] of (o.roles ?? []).entries()) {
    const id = need(r.id ?? snowflake(), `role ${r.name}`);
    s.roles.set(id, { id, name: r.name, permissions: r.permissions ?? '0', position: n + 1 });
  }
  const roleId = (ref: string): string => {
    const r = s.roles.get(ref) ?? [...s.roles.values()].find((x) => x.name === ref);
    if (!r) throw new Error(`FakeDiscord: unknown role "${ref}"`);
    return r.id;
  };
  const botName = o.botUsername ?? 'homelab-chatops';
  s.users.set(botId, { id: botId, username: botName, globalName: null, bot: true, roleIds: [] });
  for (const u of o.users ?? []) {
    const id = need(u.id ?? snowflake(), `user ${u.username}`);
    const roleIds = (u.roles ?? []).map(roleId);
    s.users.set(id, {
      id,
      username: u.username,
      globalName: u.globalName ?? null,
      bot: false,
      roleIds,
    });
  }
  for (const c of o.channels ?? [{ name: 'general' }]) {
    const id = need(c.id ?? snowflake(), `channel ${c.name}`);
    s.channels.set(id, {
      id,
      type: c.type ?? 0,
      name: c.name,
      topic: c.topic ?? null,
      parentId: null,
      ownerId: null,
      createdAt: Date.now(),
      archived: false,
      locked: false,
      autoArchiveDuration: 4320,
      starterMessageId: null,
      messageIds: [],
    });
  }
  return s;
}
