/**
 * One interaction as Discord sent it (INTERACTION_CREATE `d`), and its answers
 * (discord-api-docs `interactions/receiving-and-responding.mdx`): the callback (types 4 reply,
 * 5 deferred reply, 6 deferred update, 8 autocomplete choices) to
 * `POST /interactions/{id}/{token}/callback`, then `@original` edits and follow-ups through the
 * interaction's webhook. These go without the bot token (the interaction token is the key).
 */
import type { Json } from './discord-gateway.js';
import { DiscordApiError, type DiscordRest } from './discord-rest.js';
import type { MessageBody } from './message-body.js';

export const InteractionType = {
  ApplicationCommand: 2,
  MessageComponent: 3,
  Autocomplete: 4,
  ModalSubmit: 5,
} as const;

/** Message flags (discord-api-docs `resources/message.mdx`). */
export const EPHEMERAL = 1 << 6;

/** Discord 40060: Interaction has already been acknowledged. */
const ALREADY_ACKNOWLEDGED = 40060;

/** Component types: a button. */
const BUTTON = 2;
/** Option type of a subcommand. */
const SUBCOMMAND = 1;

export interface InteractionOption {
  name: string;
  type: number;
  value?: string | number | boolean;
  focused?: boolean;
  options?: InteractionOption[];
}

/** The callback response object (`?with_response=true`). */
export interface CallbackResponse {
  interaction?: { id?: string; response_message_id?: string | null };
  resource?: { message?: { id?: string } };
}

export class DiscordInteraction {
  constructor(
    readonly raw: Json,
    private readonly rest: DiscordRest,
  ) {}

  get id(): string {
    return String(this.raw.id);
  }
  get type(): number {
    return Number(this.raw.type);
  }
  get guildId(): string | undefined {
    return this.raw.guild_id ?? undefined;
  }
  get channelId(): string | undefined {
    return this.raw.channel_id ?? this.raw.channel?.id ?? undefined;
  }
  get commandName(): string {
    return String(this.raw.data?.name ?? '');
  }
  get customId(): string {
    return String(this.raw.data?.custom_id ?? '');
  }
  /** The message a component is on. */
  get messageId(): string | undefined {
    return this.raw.message?.id;
  }

  isCommand(): boolean {
    return this.type === InteractionType.ApplicationCommand && (this.raw.data?.type ?? 1) === 1;
  }
  isAutocomplete(): boolean {
    return this.type === InteractionType.Autocomplete;
  }
  isButton(): boolean {
    return (
      this.type === InteractionType.MessageComponent && this.raw.data?.component_type === BUTTON
    );
  }
  isRepliable(): boolean {
    return this.type !== InteractionType.Autocomplete && this.type !== 1;
  }

  /** The subcommand typed, if the command has them. */
  subcommand(): string | undefined {
    const top = (this.raw.data?.options ?? []) as InteractionOption[];
    return top.length === 1 && top[0]!.type === SUBCOMMAND ? top[0]!.name : undefined;
  }

  /** The options typed, flattened from the subcommand level. */
  options(): InteractionOption[] {
    const top = (this.raw.data?.options ?? []) as InteractionOption[];
    return top.length === 1 && top[0]!.type === SUBCOMMAND ? (top[0]!.options ?? []) : top;
  }

  /**
   * The callback. A 40060 "already acknowledged" can only be an earlier try of this same call
   * whose answer was lost (each interaction gets one callback from the bot): it went through,
   * and the reply's id is read back from `@original`.
   */
  private async callback(body: Json, message?: MessageBody): Promise<CallbackResponse | undefined> {
    try {
      return await this.rest.post<CallbackResponse>(
        `/interactions/${this.id}/${this.raw.token}/callback`,
        {
          body: message ? { ...body, data: { ...body.data, ...message.body } } : body,
          files: message?.files,
          query: { with_response: 'true' },
          auth: false,
        },
      );
    } catch (err) {
      if (!(err instanceof DiscordApiError && err.code === ALREADY_ACKNOWLEDGED)) throw err;
      if (body.type !== 4 && body.type !== 5) return undefined;
      const original = await this.rest.get<{ id?: string }>(
        `/webhooks/${this.raw.application_id}/${this.raw.token}/messages/@original`,
        { auth: false },
      );
      return { interaction: { id: this.id, response_message_id: original.id ?? null } };
    }
  }

  /** Type 4: the first answer, a message. */
  reply(
    message: MessageBody,
    opts: { ephemeral?: boolean } = {},
  ): Promise<CallbackResponse | undefined> {
    return this.callback({ type: 4, data: opts.ephemeral ? { flags: EPHEMERAL } : {} }, message);
  }

  /** Type 5: "thinking…", edited later. */
  deferReply(opts: { ephemeral?: boolean } = {}): Promise<CallbackResponse | undefined> {
    return this.callback({ type: 5, ...(opts.ephemeral ? { data: { flags: EPHEMERAL } } : {}) });
  }

  /** Type 6: a component press acknowledged without a new message. */
  async deferUpdate(): Promise<void> {
    await this.callback({ type: 6 });
  }

  /** Type 8: autocomplete choices. */
  async respond(choices: { name: string; value: string | number }[]): Promise<void> {
    await this.callback({ type: 8, data: { choices } });
  }

  /** `PATCH /webhooks/{app}/{token}/messages/@original`. */
  async editReply(message: MessageBody): Promise<void> {
    await this.rest.patch(
      `/webhooks/${this.raw.application_id}/${this.raw.token}/messages/@original`,
      { body: message.body, files: message.files, auth: false },
    );
  }

  /** `POST /webhooks/{app}/{token}`: a follow-up message. */
  async followUp(message: MessageBody, opts: { ephemeral?: boolean } = {}): Promise<void> {
    await this.rest.post(`/webhooks/${this.raw.application_id}/${this.raw.token}`, {
      body: { ...message.body, ...(opts.ephemeral ? { flags: EPHEMERAL } : {}) },
      files: message.files,
      auth: false,
    });
  }
}
