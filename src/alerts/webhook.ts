import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../core/logger.js';
import { send } from '../http/server.js';
import { BacklogFullError } from './intake.js';
import { parsePayload } from './payload.js';
import { bodyDigest } from './repeat-filter.js';
import type { WebhookPayload } from './types.js';

export interface WebhookAuth {
  token?: string;
  username?: string;
  password?: string;
}

export interface WebhookOptions {
  auth: WebhookAuth;
  maxBodyBytes: number;
  /** Stores the notification; `body` is the request body's digest (see RepeatFilter). */
  accept: (payload: WebhookPayload, body: string) => Promise<unknown>;
  log: Logger;
  onResult?: (status: number) => void;
  /** How many notifications wait when no more are taken (back-pressure); undefined otherwise. */
  backlogFull?: () => number | undefined;
  /** A body identical to the last notification accepted for its group: acknowledged even when busy. */
  isRepeatBody?: (body: string) => boolean;
}

/** Back-pressure answers are logged at most this often (with how many there were). */
const BUSY_LOG_EVERY_MS = 10_000;

/** Constant-time comparison that does not leak the length through an early return. */
export function safeEqual(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  const same = a.length === b.length;
  return timingSafeEqual(same ? a : b, b) && same;
}

export function authorized(header: string | undefined, auth: WebhookAuth): boolean {
  if (!auth.token && !auth.username) return true;
  if (!header) return false;
  const [scheme, value = ''] = header.split(/\s+/, 2);
  if (auth.token && scheme?.toLowerCase() === 'bearer') return safeEqual(value, auth.token);
  if (auth.username && scheme?.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const userOk = safeEqual(decoded.slice(0, colon), auth.username);
    const passOk = safeEqual(decoded.slice(colon + 1), auth.password ?? '');
    return colon > 0 && userOk && passOk;
  }
  return false;
}

/** An oversize body is read (and dropped) up to this many times the limit, so 413 arrives. */
const DRAIN_FACTOR = 4;
const DRAIN_MS = 10_000;

type Body = { ok: true; body: Buffer } | { ok: false };

/**
 * The request body, at most `max` bytes. A larger one (declared, or chunked without a length)
 * is not kept: the rest is read and dropped, up to DRAIN_FACTOR × max or DRAIN_MS, so the 413
 * reaches a client that sends its whole body before reading the answer; closing the socket
 * on unread data would reset the connection instead.
 */
function readBody(req: IncomingMessage, max: number): Promise<Body> {
  const declared = Number(req.headers['content-length'] ?? 0);
  const cap = max * DRAIN_FACTOR;
  if (declared > cap) return Promise.resolve({ ok: false });
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let timer: NodeJS.Timeout | undefined;
    const done = (r: Body) => {
      clearTimeout(timer);
      req.removeAllListeners('data');
      resolve(r);
    };
    const overLimit = () => {
      chunks.length = 0;
      timer = setTimeout(() => done({ ok: false }), DRAIN_MS);
      timer.unref();
    };
    if (declared > max) overLimit();
    req.on('data', (c: Buffer) => {
      const wasOver = size > max || declared > max;
      size += c.length;
      if (wasOver) {
        if (size > cap) done({ ok: false });
      } else if (size > max) overLimit();
      else chunks.push(c);
    });
    req.on('end', () => {
      const over = size > max || declared > max;
      done(over ? { ok: false } : { ok: true, body: Buffer.concat(chunks) });
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

const json = (res: ServerResponse, status: number, body: unknown) =>
  send(res, status, `${JSON.stringify(body)}\n`, 'application/json');

/**
 * POST /hooks/alertmanager. 4xx only for requests that can never succeed (Alertmanager does
 * not retry them): 401 bad auth, 413 too large, 400 not a version-4 payload. 200 once the
 * notification is durably in the outbox, or at once for a repeat of the last one accepted for
 * its group; 503 when it cannot be stored, or (with Retry-After) while too many wait to be
 * applied (Alertmanager retries).
 */
export function webhookHandler(opts: WebhookOptions) {
  let busySince = 0;
  let busyCount = 0;
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const reply = (status: number, body: unknown) => {
      opts.onResult?.(status);
      json(res, status, body);
    };
    /** Back-pressure: Alertmanager retries 5xx with backoff and re-sends the group later. */
    const busy = (waiting: number) => {
      busyCount++;
      const now = Date.now();
      if (now - busySince >= BUSY_LOG_EVERY_MS) {
        opts.log.warn(
          { waiting, refused: busyCount },
          'alert backlog full; asking Alertmanager to retry',
        );
        busySince = now;
        busyCount = 0;
      }
      res.setHeader('retry-after', '30');
      return reply(503, {
        error: `busy: ${waiting} notifications are waiting to be applied; retry later`,
      });
    };
    if (!authorized(req.headers.authorization, opts.auth)) {
      res.setHeader(
        'www-authenticate',
        opts.auth.token ? 'Bearer' : 'Basic realm="homelab-chatops"',
      );
      req.resume();
      return reply(401, { error: 'unauthorized: send the configured Bearer token or basic auth' });
    }
    const read = await readBody(req, opts.maxBodyBytes);
    if (!read.ok) {
      res.setHeader('connection', 'close');
      return reply(413, {
        error: `body over ${opts.maxBodyBytes} bytes; lower max_alerts on the receiver`,
      });
    }
    // Cheap: the body is hashed, not parsed. A repeat changes nothing: acknowledged, even
    // when busy (a byte-identical one; others are compared after parsing, in accept).
    const digest = bodyDigest(read.body);
    if (opts.isRepeatBody?.(digest)) return reply(200, { status: 'accepted', repeat: true });
    const full = opts.backlogFull?.();
    if (full !== undefined) return busy(full);
    let parsed: unknown;
    try {
      parsed = JSON.parse(read.body.toString('utf8'));
    } catch {
      return reply(400, { error: 'body is not valid JSON' });
    }
    const result = parsePayload(parsed);
    if (!result.ok)
      return reply(400, {
        error: `not an Alertmanager webhook payload (version 4): ${result.reason}`,
      });
    try {
      await opts.accept(result.payload, digest);
    } catch (err) {
      if (err instanceof BacklogFullError) return busy(err.waiting);
      opts.log.error({ err }, 'could not store an alert notification');
      return reply(503, { error: 'could not store the notification; retry' });
    }
    reply(200, { status: 'accepted', groupKey: result.payload.groupKey });
  };
}
