/** The timeline as a Matrix client (Element) would render it. Pure, over stored events. */
import type { Content, StoredEvent } from './store.js';

export interface VisibleMessage {
  eventId: string;
  sender: string;
  /** m.text, m.notice, m.emote, … */
  msgtype: string;
  /** After the latest edit by the same sender. */
  body: string;
  format?: string;
  formattedBody?: string;
  /** m.file: the uploaded file (mxc:// URI) and its name. */
  file?: { url: string; filename?: string; mimetype?: string; size?: number };
  /** How many edits (m.replace by the original sender) were applied. */
  edits: number;
  /** The event this one replies to (m.in_reply_to), when not just a thread fallback. */
  replyTo?: string;
  /** Reaction key → the users who reacted, in order. */
  reactions: Record<string, string[]>;
  /** Replies in this message's thread (only on thread roots). */
  thread: VisibleMessage[];
  redacted: boolean;
  ts: number;
}

interface Relates {
  rel_type?: string;
  event_id?: string;
  key?: string;
  is_falling_back?: boolean;
  'm.in_reply_to'?: { event_id?: string };
}

function relates(content: Content): Relates {
  return (content['m.relates_to'] ?? {}) as Relates;
}

/** Members' clients hold the room keys: an encrypted event shows as what it decrypts to. */
function decrypted(s: StoredEvent): StoredEvent {
  if (!s.cleartext) return s;
  return { ...s, event: { ...s.event, type: s.cleartext.type, content: s.cleartext.content } };
}

export function visibleTimeline(events: StoredEvent[]): VisibleMessage[] {
  const timeline = events.map(decrypted);
  const redacted = new Set(
    timeline
      .filter((s) => s.event.type === 'm.room.redaction')
      .map((s) => s.event.redacts ?? (s.event.content.redacts as string | undefined)),
  );
  const byId = new Map<string, VisibleMessage>();
  const top: VisibleMessage[] = [];
  const pending: { msg: VisibleMessage; root: string }[] = [];
  for (const s of timeline) {
    const e = s.event;
    if (e.type !== 'm.room.message') continue;
    const rel = relates(e.content);
    if (rel.rel_type === 'm.replace') continue;
    const msg = toMessage(s, rel, redacted.has(e.event_id));
    byId.set(msg.eventId, msg);
    if (rel.rel_type === 'm.thread' && rel.event_id) pending.push({ msg, root: rel.event_id });
    else top.push(msg);
  }
  for (const { msg, root } of pending) {
    const parent = byId.get(root);
    if (parent) parent.thread.push(msg);
    else top.push(msg); // root unknown here: shown on its own, as a client would
  }
  for (const s of timeline) {
    const e = s.event;
    if (redacted.has(e.event_id)) continue;
    const rel = relates(e.content);
    const target = rel.event_id ? byId.get(rel.event_id) : undefined;
    if (!target || target.redacted) continue;
    if (e.type === 'm.room.message' && rel.rel_type === 'm.replace' && e.sender === target.sender) {
      const next = (e.content['m.new_content'] ?? {}) as Content;
      if (typeof next.body !== 'string') continue;
      target.body = next.body;
      target.msgtype = (next.msgtype as string | undefined) ?? target.msgtype;
      setFormat(target, next);
      target.edits += 1;
    } else if (e.type === 'm.reaction' && rel.rel_type === 'm.annotation' && rel.key) {
      const who = target.reactions[rel.key] ?? [];
      if (!who.includes(e.sender)) who.push(e.sender);
      target.reactions[rel.key] = who;
    }
  }
  return top;
}

function toMessage(s: StoredEvent, rel: Relates, redacted: boolean): VisibleMessage {
  const c = redacted ? {} : s.event.content;
  const msg: VisibleMessage = {
    eventId: s.event.event_id,
    sender: s.event.sender,
    msgtype: (c.msgtype as string | undefined) ?? '',
    body: typeof c.body === 'string' ? c.body : '',
    edits: 0,
    reactions: {},
    thread: [],
    redacted,
    ts: s.event.origin_server_ts,
  };
  setFormat(msg, c);
  if (typeof c.url === 'string') {
    const info = (c.info ?? {}) as Content;
    msg.file = { url: c.url };
    if (typeof c.filename === 'string') msg.file.filename = c.filename;
    if (typeof info.mimetype === 'string') msg.file.mimetype = info.mimetype;
    if (typeof info.size === 'number') msg.file.size = info.size;
  }
  const replyTo = rel['m.in_reply_to']?.event_id;
  if (replyTo && !(rel.rel_type === 'm.thread' && rel.is_falling_back)) msg.replyTo = replyTo;
  return msg;
}

function setFormat(msg: VisibleMessage, c: Content): void {
  delete msg.format;
  delete msg.formattedBody;
  if (typeof c.format === 'string') msg.format = c.format;
  if (typeof c.formatted_body === 'string') msg.formattedBody = c.formatted_body;
}

/** One line a message, thread replies indented, for failure dumps and readable assertions. */
export function renderVisible(messages: VisibleMessage[], indent = ''): string {
  const lines: string[] = [];
  for (const m of messages) {
    const who = m.sender.replace(/^@/, '').split(':')[0];
    const kind = m.msgtype === 'm.notice' ? ' (notice)' : '';
    const file = m.file ? ` [file ${m.file.filename ?? m.file.url}]` : '';
    const body = m.redacted ? '<redacted>' : m.body.replace(/\n/g, ' ⏎ ') + file;
    const marks = [
      m.edits > 0 ? '(edited)' : '',
      m.replyTo ? `(reply to ${m.replyTo})` : '',
      ...Object.entries(m.reactions).map(([k, us]) => `[${k} ${us.length}]`),
    ].filter(Boolean);
    lines.push(`${indent}${who}${kind}: ${body}${marks.length ? ` ${marks.join(' ')}` : ''}`);
    if (m.thread.length) lines.push(renderVisible(m.thread, `${indent}  └ `));
  }
  return lines.join('\n');
}
