import type { Responder } from '../../core/dispatcher.js';
import type { Logger } from '../../core/logger.js';
import type { Reply } from '../../core/reply.js';
import { LatestOnly } from '../latest-only.js';
import type { MessageRef } from '../publisher.js';
import { editMessage, sendMessage, threadUnder } from './bot-messages.js';
import type { DiscordClient } from './discord-client.js';
import { DiscordApiError } from './discord-rest.js';
import type { DiscordInteraction } from './interaction.js';
import { type MessageBody, payload, plainText } from './message-body.js';
import { renderDiscord, renderSteps } from './render.js';

/** How often progress may edit the reply: Discord's edit buckets are small. */
const PROGRESS_EVERY_MS = 1000;
/** Discord wants a first answer within 3 s; without one by then, we defer ("thinking…"). */
const DEFER_AFTER_MS = 1000;
/**
 * Discord invalidates an interaction's token 15 min after the interaction (edits of `@original`
 * then answer 401 Invalid Webhook Token, 50027). From 14 min on — a minute of margin for clock
 * skew and calls queued behind rate limits — and after the first 50027/10015 whenever it comes,
 * the reply is edited with the bot token instead (`PATCH /channels/{channel}/messages/{id}`).
 * Steps never use the token: they are thread messages posted with the bot token.
 */
export const TOKEN_SAFE_MS = 14 * 60_000;

/** Discord's epoch (2015-01-01) in Unix ms: snowflake ids carry their time since it. */
const DISCORD_EPOCH = 1_420_070_400_000n;

/** How long ago Discord made this id (0 for an id that is not a snowflake). */
export function interactionAgeMs(id: string, nowMs = Date.now()): number {
  if (!/^\d{15,20}$/.test(id)) return 0;
  const at = Number((BigInt(id) >> 22n) + DISCORD_EPOCH);
  return Math.max(0, nowMs - at);
}

/** Discord 50027 Invalid Webhook Token, 10015 Unknown Webhook: the interaction token is gone. */
function deadToken(err: unknown): boolean {
  return err instanceof DiscordApiError && (err.code === 50027 || err.code === 10015);
}

/**
 * One slash command's answers: one reply edited in place (progress, the final result) and
 * step logs in a thread started from that reply — or, for a command typed inside a thread, in
 * that thread (Discord cannot start a thread there). Parsing and access checks take
 * milliseconds, so denials and invalid input are the first answer and can be ephemeral; work
 * that stays silent for a second is deferred ("thinking…") well inside Discord's 3 s. Work that
 * outlives the interaction token goes on with the bot token ({@link TOKEN_SAFE_MS}). Every
 * Discord call for one interaction runs in order.
 */
export class InteractionResponder implements Responder {
  private chain: Promise<unknown> = Promise.resolve();
  /** Replied or deferred: Discord has its first answer. */
  private answered = false;
  /** A message with our content exists (not just "thinking…"). */
  private shown = false;
  private readonly deferTimer: NodeJS.Timeout;
  private readonly receivedAt: number;
  /** Set after the first 401 Invalid Webhook Token (or 10015): the token is gone for good. */
  private tokenDead = false;
  /** The reply (not ephemeral) and its thread: enough to edit and post with the bot token alone. */
  private replyRef?: MessageRef;
  private pendingSteps: string[] = [];
  private readonly progressEdits: LatestOnly<Reply>;

  constructor(
    private readonly interaction: DiscordInteraction,
    private readonly client: DiscordClient,
    private readonly log: Logger,
    private readonly threadName: string,
    private readonly now: () => number = Date.now,
  ) {
    // The token's 15 minutes run from the interaction, not from when it reached the bot (one
    // replayed after a gateway resume is older): its age is read from its snowflake id.
    this.receivedAt = now() - interactionAgeMs(interaction.id);
    this.progressEdits = new LatestOnly(
      PROGRESS_EVERY_MS,
      (r) => this.enqueue(() => this.show(r, false)),
      now,
    );
    this.deferTimer = setTimeout(() => {
      void this.enqueue(async () => {
        if (this.answered) return;
        this.answered = true;
        const res = await this.interaction.deferReply();
        this.remember(res?.interaction?.response_message_id);
      });
    }, DEFER_AFTER_MS);
  }

  /**
   * The reply message (channel + message id, and the thread of its steps once there is one), a
   * plain serialisable object: with it the message can be edited and its thread posted to after
   * the token expired or the bot restarted. Undefined until shown, and for ephemeral replies.
   */
  ref(): MessageRef | undefined {
    return this.replyRef ? { ...this.replyRef } : undefined;
  }

  send(reply: Reply, opts: { ephemeral?: boolean } = {}): Promise<void> {
    this.progressEdits.cancel();
    return this.enqueue(() => this.show(reply, opts.ephemeral ?? false));
  }

  /** The first answer replies (ephemeral if asked); later ones edit that reply. */
  private async show(reply: Reply, ephemeral: boolean): Promise<void> {
    const rendered = payload(renderDiscord(reply, { now: this.now() }));
    this.shown = true;
    if (!this.answered) {
      this.answered = true;
      clearTimeout(this.deferTimer);
      const res = await this.interaction.reply(rendered, { ephemeral });
      if (!ephemeral)
        this.remember(res?.resource?.message?.id ?? res?.interaction?.response_message_id);
      return;
    }
    await this.edit(rendered);
  }

  private remember(messageId: string | null | undefined): void {
    if (!messageId || !this.interaction.channelId) return;
    this.replyRef = { platform: 'discord', target: this.interaction.channelId, messageId };
  }

  /** Edits the reply: with the interaction token while it lives, with the bot token after. */
  private async edit(body: MessageBody): Promise<void> {
    if (!this.tokenDead && this.now() - this.receivedAt < TOKEN_SAFE_MS) {
      try {
        await this.interaction.editReply(body);
        return;
      } catch (err) {
        if (!deadToken(err) || !this.replyRef) throw err;
        this.tokenDead = true;
        this.log.info(
          { interaction: this.interaction.id, ageMs: this.now() - this.receivedAt },
          'interaction token expired; editing the reply with the bot token',
        );
      }
    }
    if (!this.replyRef)
      throw new Error('the interaction token expired and the reply has no message id');
    await editMessage(this.client, this.replyRef, body);
  }

  progress(reply: Reply): Promise<void> {
    return this.progressEdits.push(reply);
  }

  step(line: string): Promise<void> {
    this.pendingSteps.push(line);
    return this.enqueue(() => this.flushSteps());
  }

  private async flushSteps(): Promise<void> {
    if (this.pendingSteps.length === 0) return;
    const lines = this.pendingSteps.splice(0);
    let sent = 0;
    try {
      const thread = await this.openThread();
      for (const content of renderSteps(lines)) {
        await sendMessage(this.client, thread, plainText(content));
        sent++;
      }
    } catch (err) {
      // No thread yet (or the first post failed): the lines go with the next step's attempt.
      if (sent === 0) this.pendingSteps.unshift(...lines);
      throw err;
    }
  }

  /** The thread for step logs: under the reply, or the thread the command was typed in. */
  private async openThread(): Promise<string> {
    if (this.replyRef?.threadId) return this.replyRef.threadId;
    if (!this.shown)
      await this.show({ text: `Working on ${this.threadName}… (steps in the thread)` }, false);
    const ref = this.replyRef;
    if (!ref) throw new Error('no step thread: the reply is ephemeral or has no message id');
    const threadId = await threadUnder(this.client, ref, this.threadName);
    this.replyRef = { ...ref, threadId };
    return threadId;
  }

  private enqueue(fn: () => Promise<void>): Promise<void> {
    const next = this.chain.then(fn).catch((err) => this.fail('reply', err));
    this.chain = next;
    return next;
  }

  private fail(what: string, err: unknown): void {
    // A chat message that could not be shown must not crash the bot or lose the audit.
    this.log.warn({ err, interaction: this.interaction.id, what }, 'Discord reply failed');
  }
}
