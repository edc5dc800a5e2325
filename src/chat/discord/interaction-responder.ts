import type { ChatInputCommandInteraction, Message, ThreadChannel } from 'discord.js';
import { MessageFlags } from 'discord.js';
import type { Responder } from '../../core/dispatcher.js';
import type { Logger } from '../../core/logger.js';
import type { Reply } from '../../core/reply.js';
import { LatestOnly } from '../latest-only.js';
import { allowedMentions, NO_PINGS } from './markdown.js';
import { type DiscordMessage, renderDiscord, renderSteps } from './render.js';

/** How often progress may edit the reply: Discord's edit buckets are small. */
const PROGRESS_EVERY_MS = 1000;
/** Discord wants a first answer within 3 s; without one by then, we defer ("thinking…"). */
const DEFER_AFTER_MS = 1000;

/**
 * A rendered message as discord.js message options (files as attachments). Only the mentions
 * in `content` (the reply's own) may ping.
 */
export function payload(m: DiscordMessage) {
  return {
    content: m.content ?? '',
    allowedMentions: allowedMentions(m.content),
    embeds: m.embeds,
    components: m.components,
    files: m.files.map((f) => ({ attachment: Buffer.from(f.data, 'utf8'), name: f.name })),
  };
}

/**
 * One slash command's answers: one reply edited in place (progress, the final result) and
 * step logs in a thread started from that reply. Parsing and access checks take
 * milliseconds, so denials and invalid input are the first answer and can be ephemeral;
 * work that stays silent for a second is deferred ("thinking…") well inside Discord's 3 s.
 * Every Discord call for one interaction runs in order.
 */
export class InteractionResponder implements Responder {
  private chain: Promise<unknown> = Promise.resolve();
  /** Replied or deferred: Discord has its first answer. */
  private answered = false;
  /** A message with our content exists (not just "thinking…"). */
  private shown = false;
  private readonly deferTimer: NodeJS.Timeout;
  private thread?: Promise<ThreadChannel>;
  private pendingSteps: string[] = [];
  private readonly progressEdits: LatestOnly<Reply>;

  constructor(
    private readonly interaction: ChatInputCommandInteraction,
    private readonly log: Logger,
    private readonly threadName: string,
    private readonly now: () => number = Date.now,
  ) {
    this.progressEdits = new LatestOnly(
      PROGRESS_EVERY_MS,
      (r) => this.enqueue(() => this.show(r, false)),
      now,
    );
    this.deferTimer = setTimeout(() => {
      void this.enqueue(async () => {
        if (this.answered) return;
        this.answered = true;
        await this.interaction.deferReply();
      });
    }, DEFER_AFTER_MS);
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
      await this.interaction.reply({
        ...rendered,
        ...(ephemeral ? { flags: MessageFlags.Ephemeral } : {}),
      });
      return;
    }
    await this.interaction.editReply(rendered);
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
    this.thread ??= this.openThread();
    const thread = await this.thread;
    for (const content of renderSteps(lines))
      await thread.send({ content, allowedMentions: NO_PINGS });
  }

  private async openThread(): Promise<ThreadChannel> {
    if (!this.shown)
      await this.show({ text: `Working on ${this.threadName}… (steps in the thread)` }, false);
    const message: Message = await this.interaction.fetchReply();
    return message.startThread({ name: this.threadName.slice(0, 100), autoArchiveDuration: 1440 });
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
