import type { RestFile } from './discord-rest.js';
import { type AllowedMentions, allowedMentions } from './markdown.js';
import type { DiscordMessage } from './render.js';

/** A message as Discord's API takes it: the JSON body, and files uploaded with it. */
export interface MessageBody {
  body: {
    content: string;
    allowed_mentions: AllowedMentions;
    embeds?: unknown[];
    components?: unknown[];
    /** The files of this body by index; on an edit, attachments not listed are dropped. */
    attachments?: { id: string }[];
  };
  files: RestFile[];
}

/**
 * A rendered message as an API body (files as attachments, listed so an edit replaces the old
 * ones, as discord.js sent it). Only the mentions in `content` (the reply's own) may ping.
 */
export function payload(m: DiscordMessage): MessageBody {
  const files = m.files.map((f) => ({
    name: f.name,
    data: typeof f.data === 'string' ? Buffer.from(f.data, 'utf8') : f.data,
    contentType: contentTypeOf(f.name),
  }));
  return {
    body: {
      content: m.content ?? '',
      allowed_mentions: allowedMentions(m.content),
      embeds: m.embeds,
      components: m.components,
      attachments: files.map((_, i) => ({ id: String(i) })),
    },
    files,
  };
}

/** What Discord needs to show an image in an embed, and a text file's preview. */
function contentTypeOf(name: string): string | undefined {
  if (/\.png$/i.test(name)) return 'image/png';
  if (/\.txt$/i.test(name)) return 'text/plain; charset=utf-8';
  return undefined;
}

/** Plain text that pings nobody: step logs, thread posts. */
export function plainText(content: string): MessageBody {
  return { body: { content, allowed_mentions: { parse: [] } }, files: [] };
}
