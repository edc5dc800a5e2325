import {
  type Client,
  DiscordAPIError,
  type MessageEditOptions,
  RESTJSONErrorCodes,
  type SendableChannels,
} from 'discord.js';
import type { MessageRef } from '../publisher.js';

/**
 * Messages reached with the bot token alone, through a {@link MessageRef} (channel id + message
 * id, serialisable): what outlives an interaction token and a restart of the bot.
 */

export async function sendableChannel(client: Client, id: string): Promise<SendableChannels> {
  const channel = client.channels.cache.get(id) ?? (await client.channels.fetch(id));
  if (!channel?.isSendable())
    throw new Error(`Discord channel ${id} is unknown or not a text channel`);
  return channel;
}

/** `PATCH /channels/{channel}/messages/{message}`: the bot's own messages, interaction replies included. */
export async function editMessage(
  client: Client,
  ref: MessageRef,
  body: MessageEditOptions,
): Promise<void> {
  const channel = await sendableChannel(client, ref.target);
  if (!('messages' in channel)) throw new Error(`cannot edit messages in channel ${ref.target}`);
  await channel.messages.edit(ref.messageId, body);
}

/**
 * Where posts under `ref`'s message go: the thread started from it (started now if there is none;
 * its id is the message's), or — for a message inside a thread, where Discord cannot start
 * another — that same thread.
 */
export async function threadUnder(client: Client, ref: MessageRef, name: string): Promise<string> {
  if (ref.threadId) return ref.threadId;
  const channel = await sendableChannel(client, ref.target);
  if (channel.isThread()) return channel.id;
  if (!('threads' in channel) || !('create' in channel.threads))
    throw new Error(`cannot start threads in channel ${ref.target}`);
  try {
    const thread = await channel.threads.create({
      name: name.slice(0, 100),
      startMessage: ref.messageId,
      autoArchiveDuration: 1440,
    });
    return thread.id;
  } catch (err) {
    // Started already (by an earlier attempt whose answer was lost): Discord gives it the message's id.
    if (
      err instanceof DiscordAPIError &&
      err.code === RESTJSONErrorCodes.ThreadAlreadyCreatedForMessage
    )
      return ref.messageId;
    throw err;
  }
}
