/**
 * Sends a Reply to a room without ever losing content to Matrix's 64 KiB event limit:
 * - it fits → one event;
 * - it does not, but splits at line boundaries into at most MAX_PARTS events → those parts,
 *   each related like the one before (same thread, replying to the previous part): the text
 *   stays readable and searchable in every client, with no download;
 * - otherwise (more parts would flood the room, or one line alone is too long) → the full plain
 *   text is uploaded to the media repository and sent as one `m.file` event whose caption says
 *   what it is, how long it is and why it is a file.
 * A reply's image follows its text as an `m.image` event, related like the next part would be.
 */
import type { Reply, ReplyImage } from '../../core/reply.js';
import { fileNameFor, fitsInEvent, splitReply } from './fit-message.js';
import { type MatrixSender, sendWithRetry } from './matrix-responder.js';
import { type MatrixContent, renderMatrix } from './render.js';

/** What sending large replies needs from a MatrixClient: events and uploads. */
export interface MatrixPoster extends MatrixSender {
  uploadContent(data: Buffer, contentType?: string, filename?: string): Promise<string>;
}

export type Relates = Record<string, unknown> | undefined;

export interface SendReplyOptions {
  render: (reply: Reply) => MatrixContent;
  /** The relation of the i-th event sent, given the ids sent so far. */
  relates: (sent: string[]) => Relates;
}

/** Sends `reply`; resolves with the ids of the events sent, in order (at least one). */
export async function sendReply(
  client: MatrixPoster,
  roomId: string,
  reply: Reply,
  opts: SendReplyOptions,
): Promise<string[]> {
  const sent: string[] = [];
  const withRelates = (content: Record<string, unknown>) => {
    const rel = opts.relates(sent);
    return rel ? { ...content, 'm.relates_to': rel } : content;
  };
  const text = await sendText(client, roomId, reply, opts, sent, withRelates);
  if (reply.image) text.push(await sendImage(client, roomId, reply.image, opts.relates(text)));
  return text;
}

async function sendText(
  client: MatrixPoster,
  roomId: string,
  reply: Reply,
  opts: SendReplyOptions,
  sent: string[],
  withRelates: (content: Record<string, unknown>) => Record<string, unknown>,
): Promise<string[]> {
  const whole = withRelates({ ...opts.render(reply) });
  if (fitsInEvent(whole)) {
    sent.push(await sendWithRetry(client, roomId, 'm.room.message', whole));
    return sent;
  }
  // Relations are measured with the first part's (the later ones are no longer).
  const parts = splitReply(reply, (part) => fitsInEvent(withRelates({ ...opts.render(part) })));
  if (parts) {
    for (const part of parts)
      sent.push(
        await sendWithRetry(
          client,
          roomId,
          'm.room.message',
          withRelates({ ...opts.render(part) }),
        ),
      );
    return sent;
  }
  const content = await fileContent(client, reply, opts.render(reply).body);
  sent.push(await sendWithRetry(client, roomId, 'm.room.message', withRelates(content)));
  return sent;
}

/**
 * An image uploaded to the media repository, as the content of an `m.image` event
 * (matrix-spec client-server-api, m.room.message$m.image: `url`, `info.{mimetype,size,w,h}`;
 * since v1.10 `body` is a caption when it differs from `filename`).
 */
export async function imageContent(
  client: MatrixPoster,
  image: ReplyImage,
): Promise<Record<string, unknown>> {
  const data = Buffer.from(image.data);
  const url = await client.uploadContent(data, image.mimetype, image.name);
  return {
    msgtype: 'm.image',
    body: image.alt,
    filename: image.name,
    url,
    info: { mimetype: image.mimetype, size: data.length, w: image.width, h: image.height },
  };
}

/** Uploads `image` and sends it as an `m.image` event with relation `rel`; returns its id. */
export async function sendImage(
  client: MatrixPoster,
  roomId: string,
  image: ReplyImage,
  rel: Relates,
): Promise<string> {
  const content = await imageContent(client, image);
  return sendWithRetry(
    client,
    roomId,
    'm.room.message',
    rel ? { ...content, 'm.relates_to': rel } : content,
  );
}

/** The full text as a file in the media repository, and the m.file event that shows it. */
async function fileContent(
  client: MatrixPoster,
  reply: Reply,
  text: string,
): Promise<Record<string, unknown>> {
  const data = Buffer.from(text, 'utf8');
  const filename = fileNameFor(reply);
  const url = await client.uploadContent(data, 'text/plain; charset=utf-8', filename);
  const lines = text.split('\n').length;
  const size = `${Math.ceil(data.length / 1024)} KB`;
  const caption = renderMatrix({
    ...(reply.mentions ? { mentions: reply.mentions } : {}),
    ...(reply.severity ? { severity: reply.severity } : {}),
    title: reply.title ?? 'A long message',
    text: `${lines} lines (${size}): too long for a Matrix message, so the full text is in the attached file ${filename}.`,
  });
  // m.file (matrix-spec m.room.message$m.file): since v1.10 `body` is a caption when it
  // differs from `filename`.
  return {
    msgtype: 'm.file',
    body: caption.body,
    format: caption.format,
    formatted_body: caption.formatted_body,
    filename,
    info: { mimetype: 'text/plain', size: data.length },
    url,
  };
}

/** An edit (m.replace) of `eventId` to `content`; it carries the text twice. */
export function editContent(eventId: string, content: MatrixContent): Record<string, unknown> {
  return {
    msgtype: content.msgtype,
    body: `* ${content.body}`,
    format: content.format,
    formatted_body: `* ${content.formatted_body}`,
    'm.new_content': content,
    'm.relates_to': { rel_type: 'm.replace', event_id: eventId },
  };
}

/** What an edit too large for one event shows instead: where the full answer went. */
export function movedNotice(reply: Reply): Reply {
  return {
    ...(reply.title ? { title: reply.title } : {}),
    ...(reply.severity ? { severity: reply.severity } : {}),
    text: 'The full answer is too long to show here; it follows in a reply.',
  };
}
