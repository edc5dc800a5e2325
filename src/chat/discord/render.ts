import type { Reply, ReplyButton, Severity } from '../../core/reply.js';
import { progressBar, splitText, truncate } from '../text.js';
import { discordText } from './markdown.js';

/** Discord's limits (https://discord.com/developers/docs/resources/message). */
export const LIMITS = {
  content: 2000,
  title: 256,
  description: 4096,
  fields: 25,
  fieldName: 256,
  fieldValue: 1024,
  footer: 2048,
  embedTotal: 6000,
  buttonsPerRow: 5,
  rows: 5,
  customId: 100,
  label: 80,
} as const;

export const COLORS: Record<Severity, number> = {
  info: 0x5865f2,
  success: 0x57f287,
  warning: 0xfee75c,
  error: 0xed4245,
};

const STYLE: Record<ReplyButton['style'], number> = {
  primary: 1,
  secondary: 2,
  success: 3,
  danger: 4,
};

export interface DiscordEmbed {
  title?: string;
  description?: string;
  color?: number;
  fields?: { name: string; value: string; inline?: boolean }[];
  footer?: { text: string };
  /** `attachment://<name>`: a file of the same message shown inside the embed. */
  image?: { url: string };
}

export interface DiscordButton {
  type: 2;
  style: number;
  label: string;
  custom_id: string;
}

export interface DiscordMessage {
  content?: string;
  embeds: DiscordEmbed[];
  components: { type: 1; components: DiscordButton[] }[];
  /** Text that did not fit, and the reply's image, as attachments. */
  files: { name: string; data: string | Uint8Array }[];
}

export interface RenderOptions {
  now?: number;
}

const fence = (code: string) => `\`\`\`\n${code.replace(/```/g, '`\u200b``')}\n\`\`\``;

function embedSize(e: DiscordEmbed): number {
  return (
    (e.title?.length ?? 0) +
    (e.description?.length ?? 0) +
    (e.footer?.text.length ?? 0) +
    (e.fields ?? []).reduce((n, f) => n + f.name.length + f.value.length, 0)
  );
}

/**
 * A reply as a Discord message: one embed (title, text, code block, fields, footer) and
 * buttons. Whatever would exceed Discord's limits goes into an attached text file instead
 * of being cut away, so nothing is lost and Discord never rejects the message. Pure.
 */
export function renderDiscord(reply: Reply, opts: RenderOptions = {}): DiscordMessage {
  const files: DiscordMessage['files'] = [];
  const embed: DiscordEmbed = {};
  const title = reply.title === undefined ? undefined : discordText(reply.title);
  if (title) embed.title = truncate(title, LIMITS.title);
  if (reply.severity) embed.color = COLORS[reply.severity];

  const parts: string[] = [];
  if (title && title.length > LIMITS.title) parts.push(`**${title}**`);
  if (reply.text) parts.push(discordText(reply.text));
  if (reply.progress) {
    const { done, total, label } = reply.progress;
    parts.push(`${progressBar(done, total)}${label ? ` ${label}` : ''}`);
  }
  const fields = (reply.fields ?? []).map((f) => ({ ...f }));
  const overflow: string[] = [];
  for (const f of fields.splice(LIMITS.fields)) overflow.push(`${f.name}:\n${f.value}`);
  embed.fields = fields.map((f) => {
    const value = discordText(f.value);
    if (value.length > LIMITS.fieldValue) overflow.push(`${f.name}:\n${f.value}`);
    return {
      name: truncate(discordText(f.name) || '\u200b', LIMITS.fieldName),
      value:
        value.length > LIMITS.fieldValue
          ? `${truncate(value, 900)}\n(full text attached)`
          : value || '\u200b',
      ...(f.inline ? { inline: true } : {}),
    };
  });
  if (embed.fields.length === 0) delete embed.fields;

  const footer: string[] = [];
  if (reply.footer) footer.push(reply.footer);
  if (reply.confirm) {
    const left =
      opts.now !== undefined
        ? Math.max(0, Math.round((reply.confirm.expiresAt - opts.now) / 1000))
        : undefined;
    footer.push(
      `Only you can confirm${left !== undefined ? `; expires in ${left} s` : ''}. Code ${reply.confirm.code}.`,
    );
  }
  if (footer.length) embed.footer = { text: truncate(footer.join(' '), LIMITS.footer) };

  const text = parts.join('\n');
  const withCode = reply.code ? `${text}${text ? '\n' : ''}${fence(reply.code)}` : text;
  const budget = LIMITS.embedTotal - embedSize({ ...embed, description: '' });
  if (withCode.length <= Math.min(LIMITS.description, budget)) {
    if (withCode) embed.description = withCode;
  } else {
    if (reply.code) files.push({ name: 'output.txt', data: reply.code });
    const note = reply.code
      ? `Full output attached (output.txt, ${reply.code.split('\n').length} lines).`
      : '';
    const room = Math.min(LIMITS.description, budget) - note.length - 1;
    const body = reply.code ? text : withCode;
    if (body.length > room) files.push({ name: 'message.txt', data: body });
    embed.description = [truncate(body, Math.max(0, room)), note].filter(Boolean).join('\n');
  }
  if (overflow.length) files.push({ name: 'fields.txt', data: overflow.join('\n\n') });
  if (reply.image) {
    // Shown in the embed (https://discord.com/developers/docs/reference#editing-message-attachments-using-attachments-within-embeds).
    files.push({ name: reply.image.name, data: reply.image.data });
    embed.image = { url: `attachment://${reply.image.name}` };
  }

  const buttons = (reply.buttons ?? []).map(
    (b): DiscordButton => ({
      type: 2,
      style: STYLE[b.style],
      label: truncate(b.label, LIMITS.label),
      custom_id: b.id.slice(0, LIMITS.customId),
    }),
  );
  const components = [];
  for (
    let i = 0;
    i < buttons.length && components.length < LIMITS.rows;
    i += LIMITS.buttonsPerRow
  ) {
    components.push({ type: 1 as const, components: buttons.slice(i, i + LIMITS.buttonsPerRow) });
  }
  const content = reply.mentions?.length
    ? truncate(reply.mentions.join(' '), LIMITS.content)
    : undefined;
  return {
    ...(content ? { content } : {}),
    embeds: Object.keys(embed).length ? [embed] : [],
    components,
    files,
  };
}

/** Step-log lines for a thread, batched into as few messages as Discord allows. */
export function renderSteps(lines: readonly string[]): string[] {
  return splitText(lines.map((l) => `› ${discordText(l)}`).join('\n'), LIMITS.content);
}
