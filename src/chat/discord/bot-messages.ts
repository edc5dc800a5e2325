import { randomUUID } from 'node:crypto';
import type { MessageRef } from '../publisher.js';
import type { DiscordClient } from './discord-client.js';
import { DiscordApiError } from './discord-rest.js';
import type { MessageBody } from './message-body.js';

/**
 * Messages reached with the bot token alone, through a {@link MessageRef} (channel id + message
 * id, serialisable): what outlives an interaction token and a restart of the bot.
 */

/** Discord 160004: a thread has already been created for this message. */
const THREAD_ALREADY_CREATED = 160004;

/**
 * `POST /channels/{channel}/messages`; the new message's id. With a nonce Discord enforces
 * (resources/message.mdx): a retry of a post whose answer was lost returns the message the
 * first try created instead of posting it twice.
 */
export async function sendMessage(
  client: DiscordClient,
  channelId: string,
  message: MessageBody,
): Promise<string> {
  await client.channel(channelId);
  const sent = await client.rest.post<{ id: string }>(`/channels/${channelId}/messages`, {
    body: {
      ...message.body,
      nonce: randomUUID().replaceAll('-', '').slice(0, 25),
      enforce_nonce: true,
    },
    files: message.files,
  });
  return sent.id;
}

/** `PATCH /channels/{channel}/messages/{message}`: the bot's own messages, interaction replies included. */
export async function editMessage(
  client: DiscordClient,
  ref: MessageRef,
  message: MessageBody,
): Promise<void> {
  await client.channel(ref.target);
  await client.rest.patch(`/channels/${ref.target}/messages/${ref.messageId}`, {
    body: message.body,
    files: message.files,
  });
}

/**
 * Where posts under `ref`'s message go: the thread started from it (started now if there is none;
 * its id is the message's), or — for a message inside a thread, where Discord cannot start
 * another — that same thread.
 */
export async function threadUnder(
  client: DiscordClient,
  ref: MessageRef,
  name: string,
): Promise<string> {
  if (ref.threadId) return ref.threadId;
  const channel = await client.channel(ref.target);
  if (client.isThread(channel)) return channel.id;
  try {
    const thread = await client.rest.post<Record<string, unknown>>(
      `/channels/${ref.target}/messages/${ref.messageId}/threads`,
      { body: { name: name.slice(0, 100), auto_archive_duration: 1440 } },
    );
    client.remember(thread);
    return String(thread.id);
  } catch (err) {
    // Started already (by an earlier attempt whose answer was lost): Discord gives it the message's id.
    if (err instanceof DiscordApiError && err.code === THREAD_ALREADY_CREATED) return ref.messageId;
    throw err;
  }
}
