/** Sending one event, waiting out rate limits. */
import { MatrixError } from './matrix-client.js';

/** What sending needs from a MatrixClient: one event. */
export interface MatrixSender {
  sendEvent(roomId: string, eventType: string, content: Record<string, unknown>): Promise<string>;
}

const MAX_RATE_LIMIT_RETRIES = 8;
/** The longest a single 429 is waited out (a server asking for more is still obeyed, in steps). */
const MAX_RATE_LIMIT_WAIT_MS = 120_000;

/** How long a 429 asks to wait: the Retry-After header (spec v1.10+), else retry_after_ms. */
export function rateLimitWaitMs(err: unknown): number | undefined {
  return err instanceof MatrixError ? err.retryAfterMs : undefined;
}

/**
 * Sends one event, waiting out 429 M_LIMIT_EXCEEDED answers for as long as the server says —
 * its Retry-After header, else retry_after_ms, else an exponential back-off — so that a burst of step logs is delayed, never dropped.
 */
export async function sendWithRetry(
  client: MatrixSender,
  roomId: string,
  eventType: string,
  content: Record<string, unknown>,
): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await client.sendEvent(roomId, eventType, content);
    } catch (err) {
      const e = err as { statusCode?: number; errcode?: string };
      const limited = e.statusCode === 429 || e.errcode === 'M_LIMIT_EXCEEDED';
      if (!limited || attempt >= MAX_RATE_LIMIT_RETRIES) throw err;
      const wait = Math.min(MAX_RATE_LIMIT_WAIT_MS, rateLimitWaitMs(err) ?? 1000 * 2 ** attempt);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}
