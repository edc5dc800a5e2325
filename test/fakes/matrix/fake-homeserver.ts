/**
 * A fake Matrix homeserver (client-server API v3 over node:http on 127.0.0.1) for a real,
 * unmodified matrix-bot-sdk `MatrixClient`, so the bot can be tested as a Matrix user sees it.
 *
 *   const hs = await FakeHomeserver.start({ botUserId: '@chatops:lab.test', accessToken: 'tok',
 *     rooms: [{ roomId: '!ops:lab.test', members: ['@alice:lab.test'], powerLevels?, name?, alias?,
 *               botJoined? (default true), public? }],
 *     profiles?: { '@alice:lab.test': 'Alice' }, timelineLimit? (10), sendRateLimit? })
 *   const client = new sdk.MatrixClient(hs.url, 'tok', storage)
 *
 * Drive it like users do (each returns the new event id; delivered in the next /sync):
 *   hs.sendMessage(roomId, '@alice:lab.test', '!node reboot pi4-a', { threadRoot?, replyTo?, html?, msgtype?, ts? })
 *   hs.edit(roomId, sender, targetEventId, 'new text')            m.replace with m.new_content
 *   hs.react(roomId, '@alice:lab.test', targetEventId, '✅')       m.reaction m.annotation
 *   hs.invite(roomId, inviter, { name?, isDirect? })               the bot sees rooms.invite
 *   hs.addMember(roomId, userId) / hs.setPowerLevel(roomId, userId, level)
 *   hs.injectHistory(roomId, [{ sender, body?, content?, type?, ageMs? }])  old events (ts in the past)
 * See what users see:
 *   hs.sent(roomId)        every event the bot sent through the API, in order: { eventId, type, content, txnId }
 *   hs.visible(roomId)     rendered timeline: edits applied, thread replies under their root, reactions attached
 *   hs.visibleText(roomId) the same as text, one line a message; hs.dump() everything, for failures
 *   hs.joinedRooms(), hs.accountData, hs.receipts, hs.typing
 *   hs.syncTokensServed, hs.syncRequests ({ since, timeout, filter, status, nextBatch }),
 *   hs.requests, hs.unhandled (endpoints the fake lacks), hs.errors (exceptions in the fake → 500)
 * Control:
 *   await hs.waitFor(() => value-or-falsy, timeoutMs = 5000)      resolves with the value; on timeout throws with hs.dump()
 *   hs.dropNextSyncWith(502, times = 1)   a pending long-poll (or the next /sync) gets that status
 *   hs.setSendRateLimit({ burst, windowMs, retryAfter? } | null)   sends, redactions and uploads beyond
 *                          `burst` per window: 429 M_LIMIT_EXCEEDED with a Retry-After header (whole
 *                          seconds) and/or retry_after_ms (retryAfter: 'both' (default) | 'header' | 'body');
 *                          hs.rateLimitedCount
 *   hs.enableEncryption(roomId) (or RoomSpec.encrypted)   m.room.encryption state: from then on users'
 *                          messages (and reactions) arrive as m.room.encrypted (Megolm-shaped, opaque);
 *                          hs.visible() still shows what the members' clients decrypt
 * Limits (limits.ts): every event the bot sends (send, state, redact; an edit carries its text twice,
 * body and m.new_content) is measured as the PDU a real server would federate, in Canonical JSON;
 * over 65536 bytes → 413 M_TOO_LARGE, recorded in hs.tooLarge. Files: hs.media, hs.mediaText(mxc).
 *   hs.releaseSyncs()      answer pending long-polls now (a stopped MatrixClient's last poll, say);
 *                          hs.pendingSyncCount is how many wait
 *   await hs.stop()        answers every pending /sync (200, nothing new), then closes all connections
 *
 * Endpoints (under /_matrix/client/v3 unless noted): GET /_matrix/client/versions, account/whoami,
 * sync, user/{u}/filter (POST, GET /{id}), user/{u}[/rooms/{r}]/account_data/{type} (GET, PUT),
 * profile/{u}[/{field}] (GET, PUT own), directory/room/{alias}, joined_rooms, join/{idOrAlias},
 * rooms/{r}/{join,leave}, rooms/{r}/send/{type}/{txn} and rooms/{r}/redact/{id}/{txn} (idempotent
 * per txn, power-checked, rate-limited), rooms/{r}/state[/{type}[/{key}]] (GET, PUT),
 * rooms/{r}/event/{id}, rooms/{r}/{joined_members,members}, rooms/{r}/receipt/{type}/{id},
 * rooms/{r}/read_markers, rooms/{r}/typing/{u}; POST /_matrix/media/v3/upload and (authenticated media,
 * v1.11) GET /_matrix/client/v1/media/download/{server}/{id}[/{name}].
 * Follows matrix-spec: content/client-server-api/_index.md (Size limits, Rate limiting, Transaction
 * identifiers), data/api/client-server/{room_send,content-repo,authed-content-repo}.yaml,
 * data/event-schemas/schema/m.room.message$m.file.yaml, examples/m.room.encrypted$megolm.yaml.
 * /sync like Synapse: an initial sync (no since) answers at once with each joined room's state and
 * last `timelineLimit` events (10, or the filter's room.timeline.limit), pending invites and all
 * account data; an incremental one long-polls up to `timeout` ms and answers as soon as something
 * happens. The bot's own events come back too (with unsigned.transaction_id). Tokens: s<pos>_<n>.
 * Auth: `Authorization: Bearer <accessToken>` (or ?access_token=); missing → 401 M_MISSING_TOKEN,
 * wrong → 401 M_UNKNOWN_TOKEN. Unknown endpoints → 404 M_UNRECOGNIZED, recorded in hs.unhandled.
 * Timers are captured at import, so tests may use vi.useFakeTimers() around the SDK's sync back-off.
 * harness.ts has helpers to run a real MatrixClient against it (see fake-homeserver.test.ts).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type HomeserverOptions, HomeserverState } from './state.js';
import { makeToken } from './sync.js';

export type {
  HistoryEvent,
  HomeserverOptions,
  MessageOptions,
  SendRateLimit,
  SentEvent,
  SyncRecord,
} from './state.js';
export type { RoomSpec } from './store.js';
export type { VisibleMessage } from './visible.js';

import { realClearTimeout, realSetTimeout } from './state.js';

const MEDIA_UPLOAD = '/_matrix/media/v3/upload';
const MEDIA_DOWNLOAD = '/_matrix/client/v1/media/download/';

export interface RequestRecord {
  method: string;
  path: string;
  query: string;
  status: number;
  /** When the answer was sent (ms since epoch). */
  at?: number;
  /** The Retry-After header of a 429, as sent. */
  retryAfter?: string;
}

/** Returns undefined so handlers can `return reply(…)`. */
type ReplyFn = (
  status: number,
  body: unknown,
  contentType?: string,
  headers?: Record<string, string>,
) => undefined;

interface PendingSync {
  since: number;
  limit: number;
  answer: (status?: number) => undefined;
}

export class FakeHomeserver extends HomeserverState {
  url = '';
  readonly requests: RequestRecord[] = [];
  readonly unhandled: RequestRecord[] = [];
  /** Exceptions thrown inside the fake (answered 500): a bug here, shown in dump(). */
  readonly errors: string[] = [];
  private server!: Server;
  private readonly pending = new Set<PendingSync>();
  private readonly inFlight = new Set<ServerResponse>();
  private dropSyncs: number[] = [];
  private flushQueued = false;
  private stopped = false;

  /** `port`: a fixed one (a bot configured before the homeserver is up); default any free port. */
  static async start(opts: HomeserverOptions, port = 0): Promise<FakeHomeserver> {
    const hs = new FakeHomeserver(opts);
    hs.store.onChange(() => hs.queueFlush());
    hs.server = createServer((req, res) => hs.handle(req, res));
    await new Promise<void>((resolve) => hs.server.listen(port, '127.0.0.1', resolve));
    hs.url = `http://127.0.0.1:${(hs.server.address() as AddressInfo).port}`;
    return hs;
  }

  /** /sync long-polls waiting for something to happen. */
  get pendingSyncCount(): number {
    return this.pending.size;
  }

  dropNextSyncWith(status: number, times = 1): void {
    for (let i = 0; i < times; i++) this.dropSyncs.push(status);
    const first = this.pending.values().next().value;
    if (first) first.answer(this.dropSyncs.shift());
  }

  /** Answer every pending long-poll now, with whatever it has (maybe nothing). */
  releaseSyncs(): number {
    const all = [...this.pending];
    for (const p of all) p.answer();
    return all.length;
  }

  override dump(): string {
    const reqs = this.requests
      .slice(-25)
      .map((r) => `  ${r.status} ${r.method} ${r.path}${r.query ? `?${r.query}` : ''}`);
    const unhandled = this.unhandled.map((r) => `  ${r.method} ${r.path}`);
    return [
      super.dump(),
      `pending /sync long-polls: ${this.pending.size}`,
      `last requests:\n${reqs.join('\n')}`,
      unhandled.length ? `UNHANDLED requests:\n${unhandled.join('\n')}` : '',
      this.errors.length ? `FAKE HOMESERVER ERRORS:\n${this.errors.join('\n')}` : '',
    ]
      .filter(Boolean)
      .join('\n');
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.releaseSyncs();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Let answered responses reach the client before the sockets go.
    await Promise.race([
      Promise.all([...this.inFlight].map((res) => new Promise((r) => res.once('close', r)))),
      new Promise((r) => realSetTimeout(r, 500)),
    ]);
    this.server.closeAllConnections();
    await closed;
  }

  private queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    // After the current tick, so events added together arrive in one sync.
    setImmediate(() => {
      this.flushQueued = false;
      for (const p of [...this.pending]) {
        try {
          if (this.buildSync(p.since, p.limit).hasData) p.answer();
        } catch {
          p.answer(); // and answer() reports the bug
        }
      }
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.inFlight.add(res);
    res.once('close', () => this.inFlight.delete(res));
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const query = new URLSearchParams(url.searchParams);
      query.delete('access_token');
      const method = req.method ?? 'GET';
      const record: RequestRecord = { method, path: url.pathname, query: `${query}`, status: 0 };
      this.requests.push(record);
      const reply: ReplyFn = (status, body, contentType = 'application/json', headers = {}) => {
        if (res.headersSent) return;
        record.status = status;
        record.at = Date.now();
        if (headers['retry-after']) record.retryAfter = headers['retry-after'];
        if ((body as { errcode?: string }).errcode === 'M_UNRECOGNIZED')
          this.unhandled.push(record);
        const data = Buffer.isBuffer(body)
          ? body
          : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
        res.writeHead(status, {
          ...headers,
          'content-type': contentType,
          'content-length': data.length,
        });
        res.end(data);
      };
      this.guard(reply, () => this.respond(req, url, Buffer.concat(chunks), reply));
    });
  }

  /** A bug in the fake must fail the test loudly, not leave the client waiting. */
  private guard(reply: ReplyFn, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      const msg = e instanceof Error ? (e.stack ?? e.message) : String(e);
      this.errors.push(msg);
      reply(500, { errcode: 'M_UNKNOWN', error: `fake homeserver bug: ${msg}` });
    }
  }

  private respond(req: IncomingMessage, url: URL, data: Buffer, reply: ReplyFn): undefined {
    const unrecognized = { errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' };
    if (url.pathname === '/_matrix/client/versions') {
      reply(200, {
        versions: ['r0.6.1', 'v1.1', 'v1.2', 'v1.3', 'v1.4', 'v1.5', 'v1.6', 'v1.7', 'v1.8'].concat(
          ['v1.9', 'v1.10', 'v1.11'],
        ),
        unstable_features: {},
      });
      return;
    }
    const prefix = '/_matrix/client/v3/';
    const media = url.pathname.startsWith(MEDIA_UPLOAD) || url.pathname.startsWith(MEDIA_DOWNLOAD);
    if (!url.pathname.startsWith(prefix) && !media) return reply(404, unrecognized);
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const token = bearer ?? url.searchParams.get('access_token');
    if (!token) return reply(401, { errcode: 'M_MISSING_TOKEN', error: 'Missing access token' });
    if (token !== this.accessToken) {
      return reply(401, {
        errcode: 'M_UNKNOWN_TOKEN',
        error: 'Invalid access token passed.',
        soft_logout: false,
      });
    }
    if (media) return this.media_(req, url, data, reply);
    const raw = data.toString('utf8');
    const segs = url.pathname.slice(prefix.length).split('/').map(decodeURIComponent);
    if (req.method === 'GET' && segs.join('/') === 'sync')
      return this.sync(url.searchParams, reply);
    let body: Record<string, unknown> = {};
    try {
      if (raw) body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return reply(400, { errcode: 'M_NOT_JSON', error: 'Content not JSON.' });
    }
    const r = this.route(req.method ?? 'GET', segs, url.searchParams, body);
    reply(r?.status ?? 404, r ? r.body : unrecognized, 'application/json', r?.headers);
  }

  /**
   * The content repository (matrix-spec data/api/client-server/content-repo.yaml and, since
   * v1.11, authed-content-repo.yaml): `POST /_matrix/media/v3/upload?filename=` with the raw
   * bytes → `{content_uri}`; `GET /_matrix/client/v1/media/download/{server}/{id}[/{name}]`
   * (authenticated) → the bytes. Uploads count against the send rate limit.
   */
  private media_(req: IncomingMessage, url: URL, data: Buffer, reply: ReplyFn): undefined {
    if (req.method === 'POST' && url.pathname === MEDIA_UPLOAD) {
      const retry = this.mediaRateLimit();
      if (retry) return reply(retry.status, retry.body, 'application/json', retry.headers);
      const id = `m${randomBytes(9).toString('base64url')}`;
      const filename = url.searchParams.get('filename');
      this.media.set(id, {
        data,
        contentType: req.headers['content-type'] ?? 'application/octet-stream',
        ...(filename ? { filename } : {}),
      });
      return reply(200, { content_uri: `mxc://${this.store.serverName}/${id}` });
    }
    const parts = url.pathname.slice(MEDIA_DOWNLOAD.length).split('/').map(decodeURIComponent);
    if (req.method === 'GET' && parts.length >= 2 && parts.length <= 3) {
      const file = parts[0] === this.store.serverName ? this.media.get(parts[1]!) : undefined;
      if (!file) return reply(404, { errcode: 'M_NOT_FOUND', error: 'Not found' });
      const name = parts[2] ?? file.filename;
      const disposition: Record<string, string> = name
        ? { 'content-disposition': `attachment; filename="${name}"` }
        : {};
      return reply(200, file.data, file.contentType, disposition);
    }
    return reply(404, { errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' });
  }

  private sync(q: URLSearchParams, reply: ReplyFn): undefined {
    const sinceToken = q.get('since');
    const filter = q.get('filter');
    const timeout = Number(q.get('timeout') ?? 0);
    const record = this.recordSync(sinceToken, timeout, filter);
    const since = this.sinceOf(sinceToken);
    if (since === null) {
      record.status = 400;
      return reply(400, { errcode: 'M_INVALID_PARAM', error: `Unknown since token ${sinceToken}` });
    }
    const limit = this.limitOf(filter);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const answer = (status = 200): undefined => {
      this.pending.delete(entry);
      realClearTimeout(timer);
      record.status = status;
      if (status >= 500) {
        const html = `<html><body><h1>${status}</h1>injected by the fake homeserver</body></html>`;
        return reply(status, html, 'text/html');
      }
      if (status !== 200)
        return reply(status, { errcode: 'M_UNKNOWN', error: `injected ${status}` });
      this.guard(reply, () => {
        const { body } = this.buildSync(since, limit);
        record.nextBatch = makeToken(this.store.pos);
        body.next_batch = record.nextBatch;
        this.syncTokensServed.push(record.nextBatch);
        reply(200, body);
      });
    };
    const entry: PendingSync = { since: since ?? -1, limit, answer };
    const drop = this.dropSyncs.shift();
    if (drop !== undefined) return answer(drop);
    const now = since === undefined || this.stopped || timeout <= 0;
    if (now || this.buildSync(since, limit).hasData) return answer();
    this.pending.add(entry);
    timer = realSetTimeout(() => answer(), timeout);
  }
}
