import { createHash } from 'node:crypto';
import type { WebhookPayload } from './types.js';

/** Groups remembered at most; the oldest are forgotten first (a repeat is then applied). */
const MAX_GROUPS = 10_000;

const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest('base64url');

/**
 * What applying a notification depends on, as a digest: two notifications with the same one
 * leave a group in the same state. A firing alert's `endsAt` is left out (Prometheus moves it
 * forward on every evaluation; the bot does not keep it).
 */
export function notificationDigest(p: WebhookPayload): string {
  const alerts = p.alerts.map((a) => ({ ...a, endsAt: a.status === 'resolved' ? a.endsAt : '' }));
  return sha256(
    JSON.stringify([
      p.groupKey,
      p.receiver,
      p.status,
      p.groupLabels,
      p.commonLabels,
      p.commonAnnotations,
      p.externalURL,
      p.truncatedAlerts,
      alerts,
    ]),
  );
}

export const bodyDigest = (body: Buffer) => sha256(body);

/**
 * The last notification accepted for each group. One identical to it (Alertmanager's retries,
 * its repeat_interval re-sends) changes nothing once that one is applied: it is acknowledged
 * without being stored, and never counts against the backlog. When the backlog is full the
 * request body is only hashed, not parsed: a byte-identical repeat is still acknowledged.
 */
export class RepeatFilter {
  private readonly last = new Map<string, { digest: string; body?: string }>();
  private readonly byBody = new Map<string, string>();

  isRepeat(groupKey: string, digest: string): boolean {
    return this.last.get(groupKey)?.digest === digest;
  }

  isRepeatBody(body: string): boolean {
    const key = this.byBody.get(body);
    return key !== undefined && this.last.get(key)?.body === body;
  }

  /** `body` (the raw request's digest), when known, is remembered as a repeat too. */
  record(groupKey: string, digest: string, body?: string): void {
    const before = this.last.get(groupKey);
    if (before?.body !== undefined) this.byBody.delete(before.body);
    this.last.delete(groupKey);
    this.last.set(groupKey, { digest, body });
    if (body !== undefined) this.byBody.set(body, groupKey);
    if (this.last.size > MAX_GROUPS) this.forget(this.last.keys().next().value as string);
  }

  /** After a notification of the group failed: the next one, even identical, is applied. */
  forget(groupKey: string): void {
    const before = this.last.get(groupKey);
    if (before?.body !== undefined) this.byBody.delete(before.body);
    this.last.delete(groupKey);
  }
}
