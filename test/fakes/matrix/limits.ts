/**
 * The limits a homeserver enforces on what the bot sends, as matrix-spec describes them:
 * - content/client-server-api/_index.md "Size limits": the complete event MUST NOT be larger
 *   than 65536 bytes, formatted as a federation PDU (including signatures) in Canonical JSON.
 *   Synapse refuses a bigger one at send time with 413 M_TOO_LARGE ("event too large").
 * - content/client-server-api/_index.md "Rate limiting" (changed in v1.10): a 429 carries
 *   M_LIMIT_EXCEEDED, SHOULD carry a `Retry-After` header, and MAY carry the deprecated
 *   `retry_after_ms` in the body.
 */
import type { Content } from './store.js';

export const MAX_PDU_BYTES = 65_536;

/** What Retry-After information a 429 carries (real servers: Synapse sends both). */
export type RetryAfterStyle = 'both' | 'header' | 'body';

/** Canonical JSON (appendices#canonical-json): keys sorted, no insignificant whitespace, UTF-8. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Content)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The event as the homeserver would federate it (server-server pdu_base): the client's content
 * and type plus the envelope a real server adds — room, sender, timestamp, depth, three auth
 * events and one prev event (room version 10 ids), the content hash and one ed25519 signature.
 */
export function pduBytes(e: {
  roomId: string;
  sender: string;
  type: string;
  content: Content;
  stateKey?: string;
  redacts?: string;
}): number {
  const server = e.sender.split(':').slice(1).join(':') || 'localhost';
  const eventId = `$${'A'.repeat(43)}`;
  const pdu: Content = {
    auth_events: [eventId, eventId, eventId],
    content: e.content,
    depth: 100_000,
    hashes: { sha256: 'B'.repeat(43) },
    origin_server_ts: 1_700_000_000_000,
    prev_events: [eventId],
    room_id: e.roomId,
    sender: e.sender,
    signatures: { [server]: { 'ed25519:a_AbCd': 'C'.repeat(86) } },
    type: e.type,
    unsigned: { age_ts: 1_700_000_000_000 },
  };
  if (e.stateKey !== undefined) pdu.state_key = e.stateKey;
  if (e.redacts !== undefined) pdu.redacts = e.redacts;
  return Buffer.byteLength(canonicalJson(pdu), 'utf8');
}
