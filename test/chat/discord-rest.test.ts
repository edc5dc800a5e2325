/**
 * The bot's own Discord REST client (src/chat/discord/discord-rest.ts) against a scripted HTTP
 * server: what discord-api-docs `topics/rate-limits.mdx` asks of a client (wait out a 429's
 * `retry_after`, pause every route on a global one, do not spend a bucket Discord said is empty),
 * retries of 5xx and dropped connections, its errors (status, code, Discord's message and form
 * errors), and how it sends (bot token or none, JSON, multipart with `payload_json`).
 * End to end through the adapter: test/e2e/discord*.test.ts against the fake Discord.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DiscordApiError,
  DiscordConnectionError,
  DiscordHttpError,
  DiscordRequestsHeldError,
  DiscordRest,
  type DiscordRestOptions,
  type RateLimitedInfo,
  routeOf,
} from '../../src/chat/discord/discord-rest.js';

interface Seen {
  method: string;
  path: string;
  at: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

type Handler = (req: Seen, res: ServerResponse, n: number) => void;

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

async function serve(handler: Handler, options: Partial<DiscordRestOptions> = {}) {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s: Seen = {
        method: req.method ?? '',
        path: req.url ?? '',
        at: Date.now(),
        headers: req.headers,
        body: Buffer.concat(chunks),
      };
      seen.push(s);
      handler(s, res, seen.length);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const limited: RateLimitedInfo[] = [];
  const rest = new DiscordRest({
    token: 'bot-token',
    api: `http://127.0.0.1:${port}/api`,
    retryDelayMs: 10,
    onRateLimited: (i) => limited.push(i),
    ...options,
  });
  return { rest, seen, limited };
}

function json(res: ServerResponse, status: number, body: unknown, headers = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

const CH = '123456789012345678';
const OTHER = '223456789012345678';

describe('Discord REST client (own)', () => {
  it('names the rate-limit route by its top-level resource', () => {
    expect(routeOf('POST', `/channels/${CH}/messages`)).toEqual({
      route: 'POST /channels/:id/messages',
      major: CH,
    });
    expect(routeOf('PATCH', `/webhooks/${CH}/tok-en/messages/@original`)).toEqual({
      route: 'PATCH /webhooks/:id/:token/messages/@original',
      major: `${CH}/tok-en`,
    });
    expect(routeOf('POST', `/interactions/${CH}/tok/callback`).major).toBe(`${CH}/tok`);
  });

  it('sends the bot token and JSON; interaction routes go without the token', async () => {
    const { rest, seen } = await serve((_s, res) => json(res, 200, { id: '1' }));
    expect(await rest.post(`/channels/${CH}/messages`, { body: { content: 'hi' } })).toEqual({
      id: '1',
    });
    await rest.post(`/interactions/${CH}/tok/callback`, { body: { type: 5 }, auth: false });
    expect(seen[0]!.path).toBe(`/api/v10/channels/${CH}/messages`);
    expect(seen[0]!.headers.authorization).toBe('Bot bot-token');
    expect(seen[0]!.headers['user-agent']).toMatch(/^DiscordBot \(/);
    expect(JSON.parse(seen[0]!.body.toString())).toEqual({ content: 'hi' });
    expect(seen[1]!.headers.authorization).toBeUndefined();
  });

  it('uploads files as multipart: files[n] and payload_json', async () => {
    const { rest, seen } = await serve((_s, res) => json(res, 200, { id: '1' }));
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 255]);
    await rest.post(`/channels/${CH}/messages`, {
      body: { content: 'graph', attachments: [{ id: '0' }, { id: '1' }] },
      files: [
        { name: 'graph.png', data: png },
        { name: 'a "quoted"\r\nname.txt', data: new TextEncoder().encode('text ✓') },
      ],
    });
    const s = seen[0]!;
    const form = await new Response(new Uint8Array(s.body), {
      headers: { 'content-type': String(s.headers['content-type']) },
    }).formData();
    expect(JSON.parse(String(form.get('payload_json')))).toEqual({
      content: 'graph',
      attachments: [{ id: '0' }, { id: '1' }],
    });
    const f0 = form.get('files[0]') as File;
    expect(f0.name).toBe('graph.png');
    expect(new Uint8Array(await f0.arrayBuffer())).toEqual(png);
    const f1 = form.get('files[1]') as File;
    expect(await f1.text()).toBe('text ✓');
    // Quotes and line breaks in a name are percent-encoded (WHATWG): no part can be forged.
    expect(f1.name).toBe('a "quoted"\r\nname.txt');
    expect([...form.keys()]).toEqual(['files[0]', 'files[1]', 'payload_json']);
    expect(f0.type).toBe('application/octet-stream');
  });

  it('waits out a 429 and sends again', async () => {
    const { rest, seen, limited } = await serve((_s, res, n) =>
      n === 1
        ? json(
            res,
            429,
            { message: 'You are being rate limited.', retry_after: 0.2, global: false },
            { 'X-RateLimit-Scope': 'user' },
          )
        : json(res, 200, { id: '2' }),
    );
    expect(await rest.post(`/channels/${CH}/messages`, { body: { content: 'x' } })).toEqual({
      id: '2',
    });
    expect(seen).toHaveLength(2);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(190);
    expect(limited).toEqual([
      expect.objectContaining({
        route: 'POST /channels/:id/messages',
        retryAfterMs: 200,
        global: false,
      }),
    ]);
  });

  it('does not spend a bucket Discord said is empty: the next request waits for its reset, other channels do not', async () => {
    const { rest, seen } = await serve((s, res) =>
      json(
        res,
        200,
        { id: '3' },
        s.path.includes(CH)
          ? {
              'X-RateLimit-Limit': '1',
              'X-RateLimit-Remaining': '0',
              'X-RateLimit-Reset-After': '0.3',
              'X-RateLimit-Bucket': 'abc',
            }
          : {},
      ),
    );
    await rest.post(`/channels/${CH}/messages`, { body: { content: '1' } });
    const second = rest.post(`/channels/${CH}/messages`, { body: { content: '2' } });
    await rest.post(`/channels/${OTHER}/messages`, { body: { content: 'other' } });
    await second;
    const [first, other, again] = [seen[0]!, seen[1]!, seen[2]!];
    expect(other.path).toContain(OTHER);
    expect(again.path).toContain(CH);
    expect(again.at - first.at).toBeGreaterThanOrEqual(290);
    expect(seen.every((s) => s.method === 'POST')).toBe(true);
  });

  it('a global 429 pauses every route', async () => {
    const { rest, seen, limited } = await serve((_s, res, n) =>
      n === 1
        ? json(
            res,
            429,
            { message: 'You are being rate limited.', retry_after: 0.25, global: true, code: 0 },
            { 'X-RateLimit-Global': 'true', 'X-RateLimit-Scope': 'global' },
          )
        : json(res, 200, {}),
    );
    const a = rest.post(`/channels/${CH}/messages`, { body: { content: 'a' } });
    await new Promise((r) => setTimeout(r, 50));
    await rest.post(`/channels/${OTHER}/messages`, { body: { content: 'b' } });
    await a;
    expect(limited[0]).toMatchObject({ global: true, scope: 'global' });
    // Everything after the 429 waited for its end, whichever channel.
    for (const s of seen.slice(1)) expect(s.at - seen[0]!.at).toBeGreaterThanOrEqual(240);
  });

  it('answers interactions during a global 429: their routes are not bound to the global limit', async () => {
    const { rest, seen } = await serve((_s, res, n) =>
      n === 1
        ? json(
            res,
            429,
            { message: 'You are being rate limited.', retry_after: 3, global: true, code: 0 },
            { 'X-RateLimit-Global': 'true' },
          )
        : json(res, 200, {}),
    );
    const post = rest.post(`/channels/${CH}/messages`, { body: { content: 'a' } });
    await new Promise((r) => setTimeout(r, 50));
    await rest.post(`/interactions/${CH}/tok/callback`, { body: { type: 5 }, auth: false });
    // Answered while the channel post still waits out its 3 s (not after them).
    expect(seen.map((s) => s.path.split('/')[3])).toEqual(['channels', 'interactions']);
    expect(seen[1]!.at - seen[0]!.at).toBeLessThan(1500);
    await post;
    expect(seen[2]!.at - seen[0]!.at).toBeGreaterThanOrEqual(2900);
  });

  it('fails a request a 429 asks to wait long for (a shared limit) instead of holding its route', async () => {
    const { rest, seen } = await serve((_s, res, n) =>
      n === 1
        ? json(
            res,
            429,
            { message: 'You are being rate limited.', retry_after: 1336.5, global: false },
            { 'X-RateLimit-Scope': 'shared' },
          )
        : json(res, 200, {}),
    );
    const err = await rest
      .post(`/channels/${CH}/messages`, { body: { content: 'x' } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiscordApiError);
    expect(err).toMatchObject({ status: 429 });
    // The route is not left blocked for 22 minutes: the next post goes at once.
    await rest.post(`/channels/${CH}/messages`, { body: { content: 'y' } });
    expect(seen).toHaveLength(2);
  });

  it('tries a 5xx again, and says what Discord answered when it keeps failing', async () => {
    const flaky = await serve((_s, res, n) =>
      n < 3 ? json(res, 502, { message: 'Bad Gateway', code: 0 }) : json(res, 200, { ok: true }),
    );
    expect(await flaky.rest.get('/users/@me')).toEqual({ ok: true });
    expect(flaky.seen).toHaveLength(3);

    const down = await serve((_s, res) => {
      res.writeHead(503, { 'Content-Type': 'text/html' });
      res.end('<html>upstream down</html>');
    });
    const err = await down.rest.get('/users/@me').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiscordHttpError);
    expect(err).toMatchObject({ status: 503 });
    expect(down.seen).toHaveLength(4);
  });

  it('throws Discord’s error as it is: status, code, message and form errors, not tried again', async () => {
    const { rest, seen } = await serve((_s, res) =>
      json(res, 400, {
        code: 50035,
        message: 'Invalid Form Body',
        errors: {
          content: {
            _errors: [
              { code: 'BASE_TYPE_MAX_LENGTH', message: 'Must be 2000 or fewer in length.' },
            ],
          },
          embeds: {
            '0': { title: { _errors: [{ code: 'BASE_TYPE_REQUIRED', message: 'required' }] } },
          },
          _errors: [{ code: 'MESSAGE_EMPTY', message: 'Cannot send an empty message' }],
        },
      }),
    );
    const err = (await rest
      .post(`/channels/${CH}/messages`, { body: { content: 'x'.repeat(2001) } })
      .catch((e: unknown) => e)) as DiscordApiError;
    expect(err).toBeInstanceOf(DiscordApiError);
    expect(err).toMatchObject({ status: 400, code: 50035 });
    expect(err.message.split('\n')).toEqual([
      'Invalid Form Body',
      'content[BASE_TYPE_MAX_LENGTH]: Must be 2000 or fewer in length.',
      'embeds[0].title[BASE_TYPE_REQUIRED]: required',
      'MESSAGE_EMPTY: Cannot send an empty message',
    ]);
    expect(seen).toHaveLength(1);
  });

  it('names Discord and the reason when it cannot be reached', async () => {
    const { rest, seen } = await serve(() => {});
    servers[0]!.closeAllConnections();
    await new Promise((r) => servers.splice(0)[0]!.close(r));
    const err = await rest.get('/gateway/bot', { retries: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiscordConnectionError);
    expect(String((err as Error).message)).toMatch(
      /cannot reach Discord at http:\/\/127\.0\.0\.1:\d+\/api\/v10: ECONNREFUSED/,
    );
    expect(seen).toHaveLength(0);
  });

  it('holds requests back once Discord refused too many in 10 minutes (its IP ban comes at 10,000)', async () => {
    const held: number[] = [];
    const { rest, seen } = await serve(
      (s, res) =>
        s.path.includes('/interactions/')
          ? json(res, 204, {})
          : json(res, 403, { code: 50001, message: 'Missing Access' }),
      { invalidRequestLimit: 3, onHeldBack: (n) => held.push(n) },
    );
    for (let i = 0; i < 3; i++)
      await expect(
        rest.post(`/channels/${CH}/messages`, { body: { content: 'x' } }),
      ).rejects.toMatchObject({
        status: 403,
        code: 50001,
      });
    const err = await rest
      .post(`/channels/${OTHER}/messages`, { body: { content: 'y' } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiscordRequestsHeldError);
    expect(String((err as Error).message)).toMatch(
      /refused 3 .* in the last 10 minutes; at 10,000 it blocks this IP address/,
    );
    await rest.get('/users/@me').catch(() => undefined);
    expect(seen).toHaveLength(3); // neither was sent
    expect(held).toEqual([3]); // said once
    // Interaction answers (no bot token) still go.
    await rest.post(`/interactions/${CH}/tok/callback`, { body: { type: 5 }, auth: false });
    expect(seen).toHaveLength(4);
  });

  it('keeps the order of requests on one route', async () => {
    const { rest, seen } = await serve((_s, res, n) =>
      setTimeout(() => json(res, 200, { n }), n === 1 ? 100 : 0),
    );
    await Promise.all(
      [1, 2, 3].map((i) =>
        rest.patch(`/channels/${CH}/messages/${CH}`, { body: { content: String(i) } }),
      ),
    );
    expect(seen.map((s) => JSON.parse(s.body.toString()).content)).toEqual(['1', '2', '3']);
  });
});
