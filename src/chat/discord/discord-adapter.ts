import { randomUUID } from 'node:crypto';
import {
  type AutocompleteInteraction,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  Client,
  Events,
  GatewayIntentBits,
  type Interaction,
  MessageFlags,
  Options,
} from 'discord.js';
import type { Config } from '../../config/schema.js';
import type { Dispatcher, Responder } from '../../core/dispatcher.js';
import type { ChatUser, Invocation } from '../../core/invocation.js';
import type { Logger } from '../../core/logger.js';
import type { ChatAdapter } from '../adapter.js';
import type { Publisher } from '../publisher.js';
import { DiscordPublisher } from './discord-publisher.js';
import { InteractionResponder, payload } from './interaction-responder.js';
import { renderDiscord } from './render.js';
import { slashCommands } from './slash-commands.js';

export interface DiscordAdapterOptions {
  config: NonNullable<Config['chat']['discord']>;
  dispatcher: Dispatcher;
  commands: () => Parameters<typeof slashCommands>[0];
  log: Logger;
  /** Base URL of the REST API; tests point it at a fake. */
  apiUrl?: string;
  now?: () => number;
}

function userOf(interaction: Interaction): ChatUser {
  const member = interaction.member;
  const roles = !member
    ? []
    : Array.isArray(member.roles)
      ? member.roles
      : [...member.roles.cache.keys()];
  return {
    platform: 'discord',
    id: interaction.user.id,
    displayName:
      (member && 'displayName' in member ? member.displayName : undefined) ??
      interaction.user.globalName ??
      interaction.user.username,
    roles,
  };
}

/** Options of a slash command, flattened from the subcommand level. */
function argsOf(interaction: ChatInputCommandInteraction): Record<string, unknown> {
  const top = interaction.options.data;
  const leaf = top.length === 1 && top[0]!.type === 1 ? (top[0]!.options ?? []) : top;
  return Object.fromEntries(leaf.map((o) => [o.name, o.value]));
}

/** The bot's own user and member: discord.js reads them for permissions (`guild.members.me`). */
const isBot = (x: { id: string; client: Client }) => x.id === x.client.user?.id;

/**
 * What discord.js keeps in memory, bounded to what the bot reads (docs/benchmarks.md). It reads
 * guilds, channels, threads and roles (a member's roles come from `guild.roles`), which stay
 * cached: discord.js does not support limiting those, and their gateway events keep them
 * current. Everything else it is sent or creates is passed to the bot and dropped: interaction
 * users and members, the messages it posts and edits (edited by id through the REST API),
 * emojis, stickers, presences, voice states, scheduled events, … Threads archived for 4 hours
 * are swept (an alert's thread is fetched again on its next post).
 */
export const DISCORD_CACHES = {
  makeCache: Options.cacheWithLimits({
    ApplicationCommandManager: 0,
    ApplicationEmojiManager: 0,
    AutoModerationRuleManager: 0,
    EntitlementManager: 0,
    GuildBanManager: 0,
    GuildEmojiManager: 0,
    GuildInviteManager: 0,
    GuildMemberManager: { maxSize: 0, keepOverLimit: isBot },
    GuildScheduledEventManager: 0,
    GuildStickerManager: 0,
    MessageManager: 0,
    PresenceManager: 0,
    ReactionManager: 0,
    ReactionUserManager: 0,
    StageInstanceManager: 0,
    ThreadMemberManager: 0,
    UserManager: { maxSize: 0, keepOverLimit: isBot },
    VoiceStateManager: 0,
  }),
  sweepers: { threads: { interval: 3600, lifetime: 4 * 3600 } },
};

/**
 * Discord through discord.js: slash commands in, deferred replies edited in place, step logs
 * in threads, buttons for confirmations. Only the Guilds intent (no message content).
 */
export class DiscordAdapter implements ChatAdapter {
  readonly name = 'discord';
  private readonly client: Client;
  private readonly log: Logger;

  constructor(private readonly opts: DiscordAdapterOptions) {
    this.log = opts.log.child({ adapter: 'discord' });
    this.client = new Client({
      intents: [GatewayIntentBits.Guilds],
      ...DISCORD_CACHES,
      // Nothing pings unless a message names it (payload() does, for a reply's own mentions).
      allowedMentions: { parse: [] },
      ...(opts.apiUrl ? { rest: { api: opts.apiUrl } } : {}),
    });
    this.client.on(Events.InteractionCreate, (i) => void this.onInteraction(i));
    this.client.on(Events.Error, (err) => this.log.error({ err }, 'Discord client error'));
    this.client.on(Events.ShardDisconnect, (_e, shard) =>
      this.log.warn({ shard }, 'Discord gateway disconnected'),
    );
    this.client.on(Events.ShardResume, (shard) =>
      this.log.info({ shard }, 'Discord gateway resumed'),
    );
    this.client.rest.on('rateLimited', (info) =>
      this.log.info(
        { route: info.route, retryAfter: info.retryAfter },
        'Discord rate limit; queued',
      ),
    );
  }

  async start(): Promise<void> {
    const { config } = this.opts;
    const ready = new Promise<void>((resolve) =>
      this.client.once(Events.ClientReady, () => resolve()),
    );
    await this.client.login(config.token);
    await ready;
    if (config.registerOnStart) await this.registerCommands();
    this.log.info({ user: this.client.user?.tag, guilds: config.guildIds }, 'Discord connected');
  }

  async stop(): Promise<void> {
    await this.client.destroy();
  }

  publisher(): Publisher {
    return new DiscordPublisher(this.client);
  }

  /** Bulk-overwrites the guild commands: `npm run register-commands`, or on start. */
  async registerCommands(): Promise<number> {
    const body = slashCommands(this.opts.commands());
    for (const guild of this.opts.config.guildIds) {
      await this.client.application!.commands.set(body as never, guild);
    }
    return body.length;
  }

  private allowedChannel(interaction: Interaction): boolean {
    const allowed = this.opts.config.channels;
    if (allowed.length === 0) return true;
    const channel = interaction.channel;
    const parent = channel && 'parentId' in channel ? channel.parentId : null;
    return (
      allowed.includes(interaction.channelId ?? '') || (parent !== null && allowed.includes(parent))
    );
  }

  private async onInteraction(interaction: Interaction): Promise<void> {
    try {
      if (interaction.guildId && !this.opts.config.guildIds.includes(interaction.guildId)) return;
      if (interaction.isAutocomplete()) return await this.onAutocomplete(interaction);
      if (!this.allowedChannel(interaction)) {
        if (interaction.isRepliable()) {
          const channels = this.opts.config.channels.map((c) => `<#${c}>`).join(', ');
          await interaction.reply({
            content: `I only take commands in ${channels}.`,
            flags: MessageFlags.Ephemeral,
          });
        }
        return;
      }
      if (interaction.isChatInputCommand()) return await this.onCommand(interaction);
      if (interaction.isButton()) return await this.onButton(interaction);
    } catch (err) {
      this.log.error({ err, interaction: interaction.id }, 'Discord interaction failed');
    }
  }

  private async onCommand(interaction: ChatInputCommandInteraction): Promise<void> {
    const sub = interaction.options.getSubcommand(false) ?? undefined;
    const label = [interaction.commandName, sub].filter(Boolean).join(' ');
    const responder = new InteractionResponder(interaction, this.log, `/${label}`, this.opts.now);
    const inv: Invocation = {
      id: randomUUID(),
      command: interaction.commandName,
      subcommand: sub,
      args: argsOf(interaction),
      user: userOf(interaction),
      conversation: { platform: 'discord', id: interaction.channelId },
      origin: {
        messageId: interaction.id,
        link: interaction.guildId
          ? `https://discord.com/channels/${interaction.guildId}/${interaction.channelId}`
          : undefined,
      },
      receivedAt: new Date(),
    };
    await this.opts.dispatcher.dispatch(inv, responder);
  }

  private async onButton(interaction: ButtonInteraction): Promise<void> {
    const [action, code, ...rest] = interaction.customId.split(':');
    if (action === 'alert' && code) return this.onAlertButton(interaction, [code, ...rest]);
    if ((action !== 'confirm' && action !== 'cancel') || !code) return;
    await interaction.deferUpdate();
    const user = userOf(interaction);
    // Answers to the button itself (not yours, expired) go only to whoever pressed it.
    const presser: Responder = {
      send: async (reply) => {
        await interaction.followUp({
          ...payload(renderDiscord(reply)),
          flags: MessageFlags.Ephemeral,
        });
      },
      progress: async () => {},
      step: async () => {},
    };
    if (action === 'confirm') await this.opts.dispatcher.confirm(code, user, presser);
    else await this.opts.dispatcher.cancel(code, user, presser);
  }

  /**
   * Silence/Ack buttons on alert roots run the same `/alert` commands as typed text: same
   * access rules, same audit. The presser alone sees the answer; the root and thread show the result.
   */
  private async onAlertButton(interaction: ButtonInteraction, parts: string[]): Promise<void> {
    const [verb, ref, duration] = parts;
    if ((verb !== 'silence' && verb !== 'ack') || !ref || !/^[A-Z]-\d+$/.test(ref)) return;
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    const text =
      verb === 'silence' ? `alert silence ${ref} ${duration ?? '1h'}` : `alert ack ${ref}`;
    const presser: Responder = {
      send: async (reply) => {
        await interaction.editReply(payload(renderDiscord(reply)));
      },
      progress: async () => {},
      step: async () => {},
    };
    await this.opts.dispatcher.handleText(
      text,
      userOf(interaction),
      { platform: 'discord', id: interaction.channelId },
      presser,
      {
        messageId: interaction.message.id,
      },
    );
  }

  /**
   * Suggestions only where commands are taken (elsewhere an empty list), only what the user may
   * see (the dispatcher checks access), and always within Discord's 3 s (bounded lookups).
   */
  private async onAutocomplete(interaction: AutocompleteInteraction): Promise<void> {
    if (!this.allowedChannel(interaction)) return await interaction.respond([]);
    const focused = interaction.options.getFocused(true);
    const sub = interaction.options.getSubcommand(false) ?? undefined;
    const choices = await this.opts.dispatcher.autocomplete(
      interaction.commandName,
      sub,
      focused.name,
      String(focused.value),
      userOf(interaction),
    );
    await interaction.respond(choices);
  }
}
