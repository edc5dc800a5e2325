/**
 * How long a Retry-After header (RFC 9110 §10.2.3) asks to wait, in ms from `now`: its
 * `delay-seconds`, or the time until its `HTTP-date` (0 for a date already past); undefined when
 * the header is absent or unreadable. Used for a 429 from the Matrix homeserver and Pi-hole.
 */
export function retryAfterMs(
  value: string | null | undefined,
  now = Date.now(),
): number | undefined {
  const v = value?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
