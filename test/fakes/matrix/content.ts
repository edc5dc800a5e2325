/** Event contents as Matrix clients (Element) build them, for the fake's simulated users. */
import type { Content, StoredEvent } from './store.js';

export interface MessageOptions {
  /** Post in this event's thread (m.thread, with the reply fallback clients add). */
  threadRoot?: string;
  /** Reply to this event (m.in_reply_to); in a thread, the event it quotes. */
  replyTo?: string;
  /** formatted_body (org.matrix.custom.html). */
  html?: string;
  msgtype?: string;
  ts?: number;
}

/** `latestInThread`: the thread's last event, which a thread reply's fallback points at. */
export function messageContent(
  body: string,
  opts: MessageOptions,
  latestInThread?: string,
): Content {
  const content: Content = { msgtype: opts.msgtype ?? 'm.text', body };
  if (opts.html !== undefined) {
    content.format = 'org.matrix.custom.html';
    content.formatted_body = opts.html;
  }
  if (opts.threadRoot) {
    content['m.relates_to'] = {
      rel_type: 'm.thread',
      event_id: opts.threadRoot,
      is_falling_back: !opts.replyTo,
      'm.in_reply_to': { event_id: opts.replyTo ?? latestInThread ?? opts.threadRoot },
    };
  } else if (opts.replyTo) {
    content['m.relates_to'] = { 'm.in_reply_to': { event_id: opts.replyTo } };
  }
  return content;
}

export function editContent(targetEventId: string, body: string): Content {
  return {
    msgtype: 'm.text',
    body: `* ${body}`,
    'm.new_content': { msgtype: 'm.text', body },
    'm.relates_to': { rel_type: 'm.replace', event_id: targetEventId },
  };
}

export function reactionContent(targetEventId: string, key: string): Content {
  return { 'm.relates_to': { rel_type: 'm.annotation', event_id: targetEventId, key } };
}

export function threadOf(s: StoredEvent): string | undefined {
  const rel = s.event.content['m.relates_to'] as
    | { rel_type?: string; event_id?: string }
    | undefined;
  return rel?.rel_type === 'm.thread' ? rel.event_id : undefined;
}

export interface SentEvent {
  eventId: string;
  type: string;
  content: Content;
  txnId?: string;
  stateKey?: string;
  redacts?: string;
  ts: number;
}

export function sentEvent(s: StoredEvent): SentEvent {
  const { event } = s;
  const e: SentEvent = {
    eventId: event.event_id,
    type: event.type,
    content: structuredClone(event.content),
    ts: event.origin_server_ts,
  };
  if (s.txnId !== undefined) e.txnId = s.txnId;
  if (event.state_key !== undefined) e.stateKey = event.state_key;
  if (event.redacts !== undefined) e.redacts = event.redacts;
  return e;
}
