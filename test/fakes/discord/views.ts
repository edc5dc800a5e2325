/** What a Discord user would see, as plain objects for assertions, and a readable state dump. */
import {
  Flags,
  type MessageVersion,
  type StoredInteraction,
  type StoredMessage,
} from './records.js';
import type { FakeState } from './state.js';
import { asArray, type JsonObject } from './util.js';

export interface AttachmentView {
  id: string;
  name: string;
  size: number;
  contentType: string;
  description: string | null;
  content: Buffer;
  /** `content` decoded as UTF-8. */
  text: string;
}

export interface ButtonView {
  customId: string | null;
  label: string | null;
  /** 1 primary, 2 secondary, 3 success, 4 danger, 5 link. */
  style: number;
  disabled: boolean;
  url: string | null;
}

export interface MessageView {
  id: string;
  channelId: string;
  author: { id: string; username: string; bot: boolean };
  content: string;
  embeds: JsonObject[];
  components: JsonObject[];
  /** Every button in the components, flattened in display order. */
  buttons: ButtonView[];
  attachments: AttachmentView[];
  flags: number;
  ephemeral: boolean;
  /** For ephemeral messages: the only user who sees it. */
  visibleTo: string | null;
  /** Still the deferred "Bot is thinking…" placeholder. */
  loading: boolean;
  interactionId: string | null;
  /** Thread started from this message (same id as the message). */
  threadId: string | null;
  createdAt: number;
  edited: boolean;
  /** Number of edits after creation (deferred placeholder → first content counts as one). */
  edits: number;
  /** Every version, oldest first; the last one is what users see now. */
  history: MessageVersion[];
  deleted: boolean;
}

export interface InteractionView {
  id: string;
  /** 2 slash command, 3 component, 4 autocomplete. */
  type: number;
  userId: string;
  channelId: string;
  /** `node reboot` for commands. */
  name: string | null;
  customId: string | null;
  acknowledged: boolean;
  /** 4 reply, 5 deferred reply, 6 deferred update, 7 update, 8 autocomplete result, 9 modal. */
  responseType: number | null;
  deferred: boolean;
  ephemeral: boolean;
  /** Not answered within the deadline: the user sees "The application did not respond". */
  timedOut: boolean;
  /** Answers that arrived after the deadline (rejected with 10062). */
  lateAnswers: number;
  ackAfterMs: number | null;
  /** The message `@original` refers to, as it looks now. */
  message: MessageView | null;
  content: string | null;
  embeds: JsonObject[];
  components: JsonObject[];
  history: MessageVersion[];
  followUps: MessageView[];
  choices: JsonObject[] | null;
}

export interface ThreadView {
  id: string;
  name: string;
  parentId: string | null;
  archived: boolean;
  locked: boolean;
  starterMessage: MessageView | null;
  messages: MessageView[];
}

function buttons(components: JsonObject[]): ButtonView[] {
  const out: ButtonView[] = [];
  const walk = (list: JsonObject[]): void => {
    for (const c of list) {
      if (c.type === 2) {
        out.push({
          customId: typeof c.custom_id === 'string' ? c.custom_id : null,
          label: typeof c.label === 'string' ? c.label : null,
          style: typeof c.style === 'number' ? c.style : 0,
          disabled: c.disabled === true,
          url: typeof c.url === 'string' ? c.url : null,
        });
      }
      walk(asArray(c.components));
      if (c.accessory && typeof c.accessory === 'object') walk(asArray([c.accessory]));
    }
  };
  walk(components);
  return out;
}

export function messageView(s: FakeState, m: StoredMessage): MessageView {
  const author = s.users.get(m.authorId);
  return {
    id: m.id,
    channelId: m.channelId,
    author: { id: m.authorId, username: author?.username ?? '?', bot: author?.bot ?? false },
    content: m.content,
    embeds: m.embeds,
    components: m.components,
    buttons: buttons(m.components),
    attachments: m.attachments.map((a) => ({
      id: a.id,
      name: a.filename,
      size: a.size,
      contentType: a.contentType,
      description: a.description,
      content: a.data,
      text: a.data.toString('utf8'),
    })),
    flags: m.flags,
    ephemeral: (m.flags & Flags.Ephemeral) !== 0,
    visibleTo: m.ephemeralFor,
    loading: (m.flags & Flags.Loading) !== 0,
    interactionId: m.interactionId,
    threadId: m.threadId,
    createdAt: m.createdAt,
    edited: m.history.length > 1,
    edits: m.history.length - 1,
    history: m.history,
    deleted: m.deleted,
  };
}

export function interactionView(s: FakeState, i: StoredInteraction): InteractionView {
  const orig = i.originalMessageId ? s.messages.get(i.originalMessageId) : undefined;
  const message = orig && !orig.deleted ? messageView(s, orig) : null;
  const deadlinePassed = Date.now() > i.deadline;
  return {
    id: i.id,
    type: i.type,
    userId: i.userId,
    channelId: i.channelId,
    name: i.name,
    customId: i.customId,
    acknowledged: i.response !== null,
    responseType: i.response?.type ?? null,
    deferred: i.response?.type === 5 || i.response?.type === 6,
    ephemeral: message?.ephemeral ?? false,
    timedOut: i.response === null && deadlinePassed,
    lateAnswers: i.lateAnswers.length,
    ackAfterMs: i.response ? i.response.at - i.sentAt : null,
    message,
    content: message?.content ?? null,
    embeds: message?.embeds ?? [],
    components: message?.components ?? [],
    history: message?.history ?? [],
    followUps: i.followUpIds.map((id) => messageView(s, s.messages.get(id)!)),
    choices: i.choices,
  };
}

export function channelMessageViews(
  s: FakeState,
  channelId: string,
  userId: string | null,
  includeDeleted: boolean,
): MessageView[] {
  const c = s.channels.get(channelId);
  if (!c) throw new Error(`FakeDiscord: unknown channel ${channelId}`);
  return c.messageIds
    .map((id) => s.messages.get(id)!)
    .filter((m) => (includeDeleted || !m.deleted) && (!userId || s.visibleTo(m, userId)))
    .map((m) => messageView(s, m));
}

export function threadViews(s: FakeState): ThreadView[] {
  return [...s.channels.values()]
    .filter((c) => s.isThread(c))
    .map((c) => {
      const starter = c.starterMessageId ? s.messages.get(c.starterMessageId) : undefined;
      return {
        id: c.id,
        name: c.name,
        parentId: c.parentId,
        archived: c.archived,
        locked: c.locked,
        starterMessage: starter ? messageView(s, starter) : null,
        messages: channelMessageViews(s, c.id, null, false),
      };
    });
}

const short = (text: string, n = 80): string => {
  const one = text.replace(/\n/g, '⏎');
  return one.length > n ? `${one.slice(0, n)}…(${text.length} chars)` : one;
};

function describe(m: StoredMessage): string {
  const tags = [
    m.ephemeralFor ? `ephemeral→${m.ephemeralFor}` : '',
    m.flags & Flags.Loading ? 'thinking…' : '',
    m.deleted ? 'deleted' : '',
    m.history.length > 1 ? `edits=${m.history.length - 1}` : '',
    m.threadId ? `thread=${m.threadId}` : '',
  ].filter(Boolean);
  const parts = [JSON.stringify(short(m.content))];
  for (const e of m.embeds)
    parts.push(`[embed ${JSON.stringify(short(String(e.title ?? e.description ?? ''), 40))}]`);
  const b = buttons(m.components).map(
    (x) => `${x.label ?? '?'}(${x.customId ?? x.url})${x.disabled ? '✗' : ''}`,
  );
  if (b.length) parts.push(`buttons: ${b.join(' ')}`);
  for (const a of m.attachments) parts.push(`📎${a.filename} ${a.size}B`);
  return `    ${m.id}${tags.length ? ` (${tags.join(', ')})` : ''}: ${parts.join(' ')}`;
}

/** A readable dump of everything users would see, for failure messages. */
export function dumpState(s: FakeState, extra: string[]): string {
  const lines: string[] = ['--- fake Discord state ---'];
  for (const c of s.channels.values()) {
    const kind = s.isThread(c) ? `thread of ${c.parentId}` : 'channel';
    lines.push(`  #${c.name} (${kind} ${c.id})`);
    for (const id of c.messageIds) lines.push(describe(s.messages.get(id)!));
  }
  lines.push('  interactions:');
  for (const i of s.interactions.values()) {
    const v = interactionView(s, i);
    const state = v.timedOut
      ? 'TIMED OUT'
      : v.acknowledged
        ? `answered type ${v.responseType} after ${v.ackAfterMs} ms`
        : 'pending';
    lines.push(
      `    ${i.id} ${i.type === 3 ? `button ${i.customId}` : `/${i.name}`} by ${i.userId}: ${state}`,
    );
  }
  lines.push(...extra);
  return lines.join('\n');
}
