/** HTTP plumbing of the fake REST API: router, JSON/multipart bodies, recording, rate limits. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RateLimiter } from './rate-limit.js';
import { DiscordHttpError, Errors, isObject, type Json } from './util.js';

export interface IncomingFile {
  /** Form field, e.g. `files[0]`. */
  field: string;
  name: string;
  contentType: string;
  data: Buffer;
}

export interface RestRequest {
  method: string;
  /** Decoded path below `/api/v10`, e.g. `/webhooks/1/tok/messages/@original`. */
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  /** JSON body, or the parsed `payload_json` of a multipart body. */
  body: Json | undefined;
  files: IncomingFile[];
}

export interface RestReply {
  status: number;
  body?: Json;
}

export type RouteHandler = (req: RestRequest) => RestReply | Promise<RestReply>;

export interface RouteDef {
  method: string;
  /** `/channels/:channel/messages`; `:token` marks a webhook/interaction token. */
  pattern: string;
  /** `bot`: needs `Authorization: Bot <token>`; `none`: interaction/webhook routes. */
  auth: 'bot' | 'none';
  handler: RouteHandler;
}

/** One REST call as the fake saw it. */
export interface RecordedRequest {
  at: number;
  method: string;
  path: string;
  /** Rate-limit route key (`POST /channels/:id/messages`), null for unknown routes. */
  route: string | null;
  query: Record<string, string>;
  body: Json | undefined;
  files: { field: string; name: string; size: number }[];
  status: number;
  /** Discord error code of a 4xx answer. */
  errorCode?: number;
  /** Carried out, but the answer was lost on purpose (`FakeDiscord.loseAnswers`). */
  answerLost?: boolean;
  /** The `allowed_mentions` of the message in the body (a callback's `data`); undefined: none sent. */
  allowedMentions: Json | undefined;
}

const API_PREFIX = /^\/api\/v10(?=\/)/;

function allowedMentionsOf(body: Json | undefined): Json | undefined {
  if (!isObject(body)) return undefined;
  if (body.allowed_mentions !== undefined) return body.allowed_mentions;
  return isObject(body.data) ? body.data.allowed_mentions : undefined;
}

function routeKey(def: RouteDef): string {
  const path = def.pattern
    .split('/')
    .map((s) => (s === ':token' ? s : s.startsWith(':') ? ':id' : s))
    .join('/');
  return `${def.method} ${path}`;
}

/** The bucket's major parameter, the way discord.js computes it. */
function majorParameter(segments: string[]): string {
  const [first, second, third] = segments;
  if (first === 'webhooks') return `${second}/${third}`;
  if (first === 'channels' || first === 'guilds' || first === 'interactions') return second ?? '';
  return 'global';
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function parseBody(
  req: IncomingMessage,
): Promise<{ body: Json | undefined; files: IncomingFile[] }> {
  const raw = await readBody(req);
  const type = req.headers['content-type'] ?? '';
  if (raw.length === 0) return { body: undefined, files: [] };
  if (type.startsWith('multipart/form-data')) {
    const form = await new Response(raw, { headers: { 'content-type': type } }).formData();
    const files: IncomingFile[] = [];
    let body: Json | undefined;
    for (const [field, value] of form.entries()) {
      if (typeof value === 'string') {
        if (field === 'payload_json') body = JSON.parse(value) as Json;
        continue;
      }
      files.push({
        field,
        name: value.name,
        contentType: value.type || 'application/octet-stream',
        data: Buffer.from(await value.arrayBuffer()),
      });
    }
    return { body, files };
  }
  try {
    return { body: JSON.parse(raw.toString('utf8')) as Json, files: [] };
  } catch {
    throw new DiscordHttpError(400, 50109, 'The request body contains invalid JSON.');
  }
}

export interface RestServerOptions {
  routes: RouteDef[];
  limiter: RateLimiter;
  /** When set, `Authorization: Bot <token>` must carry exactly this token. */
  token?: string;
  record: (r: RecordedRequest) => void;
  /** Unknown routes, and requests the fake itself failed on (answered 500). */
  unhandled: (r: { method: string; path: string; error?: string }) => void;
  /** True: the request was carried out, but its answer is lost (the connection is reset). */
  loseAnswer?: (route: string | null) => boolean;
}

/** Builds the `request` listener of the fake's HTTP server. */
export function restListener(opts: RestServerOptions) {
  const compiled = opts.routes.map((def) => ({
    def,
    key: routeKey(def),
    parts: def.pattern.split('/'),
  }));

  function match(method: string, segments: string[]) {
    for (const c of compiled) {
      if (c.def.method !== method || c.parts.length !== segments.length + 1) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 1; i < c.parts.length && ok; i++) {
        const part = c.parts[i]!;
        const seg = segments[i - 1]!;
        if (part.startsWith(':')) params[part.slice(1)] = seg;
        else ok = part === seg;
      }
      if (ok) return { ...c, params };
    }
    return null;
  }

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = (req.method ?? 'GET').toUpperCase();
    const rawPath = url.pathname.replace(API_PREFIX, '');
    const segments = rawPath.split('/').slice(1).map(decodeURIComponent);
    const path = `/${segments.join('/')}`;
    const record: RecordedRequest = {
      at: Date.now(),
      method,
      path,
      route: null,
      query: Object.fromEntries(url.searchParams),
      body: undefined,
      files: [],
      status: 0,
      allowedMentions: undefined,
    };
    let status = 500;
    let body: Json | undefined;
    const headers: Record<string, string> = {};
    try {
      const m = API_PREFIX.test(url.pathname) ? match(method, segments) : null;
      const parsed = await parseBody(req);
      record.body = parsed.body;
      record.allowedMentions = allowedMentionsOf(parsed.body);
      record.files = parsed.files.map((f) => ({
        field: f.field,
        name: f.name,
        size: f.data.length,
      }));
      if (!m) {
        opts.unhandled({ method, path: url.pathname });
        throw Errors.notFound(method, url.pathname);
      }
      record.route = m.key;
      if (m.def.auth === 'bot') {
        const auth = req.headers.authorization ?? '';
        if (
          !auth.startsWith('Bot ') ||
          (opts.token !== undefined && auth !== `Bot ${opts.token}`)
        ) {
          throw Errors.unauthorized();
        }
      }
      const rl = opts.limiter.check(m.key, majorParameter(segments));
      Object.assign(headers, rl.headers);
      if (rl.limited) {
        status = 429;
        body = rl.limited.body;
      } else {
        const reply = await m.def.handler({
          method,
          path,
          params: m.params,
          query: url.searchParams,
          body: parsed.body,
          files: parsed.files,
        });
        status = reply.status;
        body = reply.body;
      }
    } catch (err) {
      if (err instanceof DiscordHttpError) {
        status = err.status;
        body = err.body();
        record.errorCode = err.code;
      } else {
        status = 500;
        body = { message: `fake Discord internal error: ${String(err)}`, code: 0 };
        opts.unhandled({ method, path: url.pathname, error: String((err as Error)?.stack ?? err) });
      }
    }
    record.status = status;
    opts.record(record);
    if (status < 400 && opts.loseAnswer?.(record.route)) {
      record.answerLost = true;
      res.socket?.destroy();
      return;
    }
    if (body === undefined) {
      res.writeHead(status, headers).end();
    } else {
      res
        .writeHead(status, { ...headers, 'Content-Type': 'application/json' })
        .end(JSON.stringify(body));
    }
  };
}
