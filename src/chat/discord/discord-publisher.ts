import type { Client, Message, SendableChannels } from 'discord.js';
import type { Reply } from '../../core/reply.js';
import type { MessageRef, Publisher } from '../publisher.js';
import { splitText } from '../text.js';
import { payload } from './interaction-responder.js';
import { discordText, NO_PINGS } from './markdown.js';
import { LIMITS, renderDiscord } from './render.js';

/** Alert roots as channel messages, updates in a thread started from the root. */
export class DiscordPublisher implements Publisher {
  readonly platform = 'discord';

  constructor(private readonly client: Client) {}

  private async channel(id: string): Promise<SendableChannels> {
    const channel = await this.client.channels.fetch(id);
    if (!channel?.isSendable())
      throw new Error(`Discord channel ${id} is unknown or not a text channel`);
    return channel;
  }

  async post(target: string, reply: Reply): Promise<MessageRef> {
    const message = await (await this.channel(target)).send(payload(renderDiscord(reply)));
    return { platform: 'discord', target, messageId: message.id };
  }

  async edit(ref: MessageRef, reply: Reply): Promise<void> {
    const channel = await this.channel(ref.target);
    if (!('messages' in channel)) throw new Error(`cannot edit messages in channel ${ref.target}`);
    await channel.messages.edit(ref.messageId, payload(renderDiscord(reply)));
  }

  async reply(ref: MessageRef, reply: Reply, threadName: string): Promise<MessageRef> {
    let threadId = ref.threadId;
    if (!threadId) {
      const channel = await this.channel(ref.target);
      if (!('messages' in channel))
        throw new Error(`cannot start threads in channel ${ref.target}`);
      const root: Message = await channel.messages.fetch(ref.messageId);
      threadId = (
        root.thread ??
        (await root.startThread({ name: threadName.slice(0, 100), autoArchiveDuration: 1440 }))
      ).id;
    }
    const thread = await this.channel(threadId);
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
