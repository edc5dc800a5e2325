import type { Client } from 'discord.js';
import type { Reply } from '../../core/reply.js';
import type { MessageRef, Publisher } from '../publisher.js';
import { splitText } from '../text.js';
import { editMessage, sendableChannel, threadUnder } from './bot-messages.js';
import { payload } from './interaction-responder.js';
import { discordText, NO_PINGS } from './markdown.js';
import { LIMITS, renderDiscord } from './render.js';

/** Alert roots as channel messages, updates in a thread started from the root (bot token only). */
export class DiscordPublisher implements Publisher {
  readonly platform = 'discord';

  constructor(private readonly client: Client) {}

  async post(target: string, reply: Reply): Promise<MessageRef> {
    const channel = await sendableChannel(this.client, target);
    const message = await channel.send(payload(renderDiscord(reply)));
    return { platform: 'discord', target, messageId: message.id };
  }

  async edit(ref: MessageRef, reply: Reply): Promise<void> {
    await editMessage(this.client, ref, payload(renderDiscord(reply)));
  }

  /** Into the thread under the root (started on first use), or the root's own thread if it is in one. */
  async reply(ref: MessageRef, reply: Reply, threadName: string): Promise<MessageRef> {
    const threadId = await threadUnder(this.client, ref, threadName);
    const thread = await sendableChannel(this.client, threadId);
    const rendered = renderDiscord(reply);
    // Plain text reads best in a thread; fall back to the embed when there are buttons or files.
    if (rendered.components.length === 0 && rendered.files.length === 0 && !reply.code) {
      const text = [
        reply.title && `**${discordText(reply.title)}**`,
        reply.text && discordText(reply.text),
        ...(reply.fields ?? []).map((f) => `${discordText(f.name)}: ${discordText(f.value)}`),
      ]
        .filter(Boolean)
        .join('\n');
      for (const content of splitText(text, LIMITS.content))
        await thread.send({ content, allowedMentions: NO_PINGS });
    } else {
      await thread.send(payload(rendered));
    }
    return { ...ref, threadId };
  }
}
