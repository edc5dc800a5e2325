import { randomUUID } from 'node:crypto';
import type { Config } from '../../config/schema.js';
import type { Dispatcher, Responder } from '../../core/dispatcher.js';
import { UserError } from '../../core/errors.js';
import type { ChatUser, Invocation } from '../../core/invocation.js';
import type { Logger } from '../../core/logger.js';
import type { ChatAdapter } from '../adapter.js';
import type { Publisher } from '../publisher.js';
import { DiscordClient } from './discord-client.js';
import { DiscordGatewayError } from './discord-gateway.js';
import { DiscordPublisher } from './discord-publisher.js';
import { DiscordApiError } from './discord-rest.js';
import { DiscordInteraction } from './interaction.js';
import { InteractionResponder } from './interaction-responder.js';
import { payload, plainText } from './message-body.js';
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

/** Who acted: the member's roles and nickname in the guild, else the user's own names. */
function userOf(interaction: DiscordInteraction): ChatUser {
  const raw = interaction.raw;
  const member = raw.member;
  const user = member?.user ?? raw.user ?? {};
  return {
    platform: 'discord',
    id: String(user.id),
    displayName: member?.nick ?? user.global_name ?? user.username ?? String(user.id),
    roles: Array.isArray(member?.roles) ? member.roles.map(String) : [],
  };
}

/** Options of a slash command, flattened from the subcommand level. */
function argsOf(interaction: DiscordInteraction): Record<string, unknown> {
  return Object.fromEntries(interaction.options().map((o) => [o.name, o.value]));
}

export class DiscordAdapter implements ChatAdapter {
  readonly name = 'discord';
  private readonly client: DiscordClient;
  private readonly log: Logger;
  onLost?: (reason: string) => void;

  constructor(private readonly opts: DiscordAdapterOptions) {
    this.log = opts.log.child({ adapter: 'discord' });
    this.client = new DiscordClient({
      token: opts.config.token ?? '',
      api: opts.apiUrl,
      log: this.log,
      onInteraction: (raw) =>
        void this.onInteraction(new DiscordInteraction(raw, this.client.rest)),
      onLost: (reason) => this.onLost?.(reason),
    });
  }

  async start(): Promise<void> {
    const { config } = this.opts;
    try {
      await this.client.login();
    } catch (err) {
      // 4010–4014: the application's settings, not the network — retrying cannot fix them.
      if (err instanceof DiscordGatewayError && err.fatal && err.closeCode !== 4004)
        throw new UserError(
          err.message,
          'Check the application in the Discord Developer Portal (the bot needs only the Guilds intent).',
        );
      throw err;
    }
    if (config.registerOnStart) await this.registerCommands();
    this.log.info({ user: this.client.tag, guilds: config.guildIds }, 'Discord connected');
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
      const app = this.client.applicationId ?? this.opts.config.applicationId;
      try {
        await this.client.rest.put(`/applications/${app}/guilds/${guild}/commands`, { body });
      } catch (err) {
        // A refusal (no access to the guild, the bot invited without applications.commands, an
        // invalid command) is not fixed by retrying — and each retry of start-up costs an Identify.
        if (
          err instanceof DiscordApiError &&
          err.status >= 400 &&
          err.status < 500 &&
          err.status !== 429
        )
          throw new UserError(
            `Discord refused the slash commands for guild ${guild} (${err.status}${err.code === undefined ? '' : ` ${err.code}`}: ${err.message.split('\n')[0]}).`,
            'Invite the bot to that guild with the bot and applications.commands scopes, check chat.discord.guildIds, or set chat.discord.registerOnStart: false and run npm run register-commands.',
          );
        throw err;
      }
    }
    return body.length;
  }

  private allowedChannel(interaction: DiscordInteraction): boolean {
    const allowed = this.opts.config.channels;
    if (allowed.length === 0) return true;
    const parent = interaction.channelId
      ? (this.client.known(interaction.channelId)?.parentId ?? null)
      : null;
    return (
      allowed.includes(interaction.channelId ?? '') || (parent !== null && allowed.includes(parent))
    );
  }

  private async onInteraction(interaction: DiscordInteraction): Promise<void> {
    try {
      if (interaction.guildId && !this.opts.config.guildIds.includes(interaction.guildId)) return;
      if (interaction.isAutocomplete()) return await this.onAutocomplete(interaction);
      if (!this.allowedChannel(interaction)) {
        if (interaction.isRepliable()) {
          const channels = this.opts.config.channels.map((c) => `<#${c}>`).join(', ');
          await interaction.reply(plainText(`I only take commands in ${channels}.`), {
            ephemeral: true,
          });
        }
        return;
      }
      if (interaction.isCommand()) return await this.onCommand(interaction);
      if (interaction.isButton()) return await this.onButton(interaction);
    } catch (err) {
      this.log.error({ err, interaction: interaction.id }, 'Discord interaction failed');
    }
  }

  private async onCommand(interaction: DiscordInteraction): Promise<void> {
    const sub = interaction.subcommand();
    const label = [interaction.commandName, sub].filter(Boolean).join(' ');
    const responder = new InteractionResponder(
      interaction,
      this.client,
      this.log,
      `/${label}`,
      this.opts.now,
    );
    const inv: Invocation = {
      id: randomUUID(),
      command: interaction.commandName,
      subcommand: sub,
      args: argsOf(interaction),
      user: userOf(interaction),
      conversation: { platform: 'discord', id: interaction.channelId ?? '' },
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

  private async onButton(interaction: DiscordInteraction): Promise<void> {
    const [action, code, ...rest] = interaction.customId.split(':');
    if (action === 'alert' && code) return this.onAlertButton(interaction, [code, ...rest]);
    if ((action !== 'confirm' && action !== 'cancel') || !code) return;
    await interaction.deferUpdate();
    const user = userOf(interaction);
    // Answers to the button itself (not yours, expired) go only to whoever pressed it.
    const presser: Responder = {
      send: async (reply) => {
        await interaction.followUp(payload(renderDiscord(reply)), { ephemeral: true });
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
  private async onAlertButton(interaction: DiscordInteraction, parts: string[]): Promise<void> {
    const [verb, ref, duration] = parts;
    if ((verb !== 'silence' && verb !== 'ack') || !ref || !/^[A-Z]-\d+$/.test(ref)) return;
    await interaction.deferReply({ ephemeral: true });
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
      { platform: 'discord', id: interaction.channelId ?? '' },
      presser,
      { messageId: interaction.messageId ?? interaction.id },
    );
  }

  /**
   * Suggestions only where commands are taken (elsewhere an empty list), only what the user may
   * see (the dispatcher checks access), and always within Discord's 3 s (bounded lookups).
   */
  private async onAutocomplete(interaction: DiscordInteraction): Promise<void> {
    if (!this.allowedChannel(interaction)) return await interaction.respond([]);
    const focused = interaction.options().find((o) => o.focused);
    if (!focused) return await interaction.respond([]);
    const sub = interaction.subcommand();
    const choices = await this.opts.dispatcher.autocomplete(
      interaction.commandName,
      sub,
      focused.name,
      String(focused.value ?? ''),
      userOf(interaction),
    );
    await interaction.respond(choices);
  }
}
