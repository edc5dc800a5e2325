import type { Reply } from '../../core/reply.js';
import type { MessageRef, Publisher } from '../publisher.js';
import { splitText } from '../text.js';
import { editMessage, sendMessage, threadUnder } from './bot-messages.js';
import type { DiscordClient } from './discord-client.js';
import { discordText } from './markdown.js';
import { payload, plainText } from './message-body.js';
import { LIMITS, renderDiscord } from './render.js';

/** Alert roots as channel messages, updates in a thread started from the root (bot token only). */
export class DiscordPublisher implements Publisher {
  readonly platform = 'discord';

  constructor(private readonly client: DiscordClient) {}

  async post(target: string, reply: Reply): Promise<MessageRef> {
    const messageId = await sendMessage(this.client, target, payload(renderDiscord(reply)));
    return { platform: 'discord', target, messageId };
  }

  async edit(ref: MessageRef, reply: Reply): Promise<void> {
    await editMessage(this.client, ref, payload(renderDiscord(reply)));
  }

  /** Into the thread under the root (started on first use), or the root's own thread if it is in one. */
  async reply(ref: MessageRef, reply: Reply, threadName: string): Promise<MessageRef> {
    const threadId = await threadUnder(this.client, ref, threadName);
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
        await sendMessage(this.client, threadId, plainText(content));
    } else {
      await sendMessage(this.client, threadId, payload(rendered));
    }
    return { ...ref, threadId };
  }
}
