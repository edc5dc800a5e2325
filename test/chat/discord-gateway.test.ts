/**
 * The bot's own Discord client (src/chat/discord/discord-client.ts, discord-gateway.ts) against
 * the fake Discord's gateway, below the adapter: identify with the Guilds intent only, the
 * channel map from GUILD_CREATE, and the connection's faults as discord-api-docs
 * `events/gateway.mdx` describes them — a dropped connection and op 7 are resumed (events sent
 * meanwhile replayed, no new session), an invalidated session is identified anew, a zombied
 * connection (no heartbeat ACK) is closed with a non-1000 code and resumed, and a wrong token
 * (close 4004) fails start-up with a message saying what to do.
 */

import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import {
  DiscordGateway,
  DiscordGatewayError,
  type DiscordGatewayOptions,
  INTENT_GUILDS,
} from '../../src/chat/discord/discord-gateway.js';
import type { DiscordRest } from '../../src/chat/discord/discord-rest.js';
import { silentLogger } from '../../src/core/logger.js';
import { FakeDiscord, snowflake } from '../fakes/discord/fake-discord.js';
import { discordClientOnFake } from '../helpers/discord-client-fake.js';

const OPS = snowflake();
const ALICE = snowflake();

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s();
});

const setup = (opts: { heartbeatIntervalMs?: number } = {}) =>
  discordClientOnFake(stops, { channel: OPS, user: ALICE, ...opts });

/**
 * A gateway of our own below the client: `GET /gateway/bot` answers `info` (its URL by default)
 * and connections go to `onConnection` — for what the fake does not do on its own.
 */
async function scriptedGateway(onConnection: (ws: WebSocket, url: string) => void = () => {}) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((r) => wss.once('listening', r));
  stops.push(() => new Promise<void>((r) => wss.close(() => r())));
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  wss.on('connection', (ws) => onConnection(ws, url));
  return url;
}

/** A DiscordGateway whose REST side answers `GET /gateway/bot` with `info`; closed after the test. */
function gatewayAt(
  info: Record<string, unknown>,
  opts: Partial<DiscordGatewayOptions> = {},
): DiscordGateway {
  const rest = { get: async () => info } as unknown as DiscordRest;
  const gateway = new DiscordGateway({
    token: 't',
    intents: INTENT_GUILDS,
    rest,
    log: silentLogger(),
    onDispatch: () => {},
    ...opts,
  });
  stops.push(() => gateway.close());
  return gateway;
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('Discord gateway (own client)', () => {
  it('identifies with the Guilds intent only and knows the guild’s channels from GUILD_CREATE', async () => {
    const { fake, client } = await setup();
    await client.login();
    expect(fake.gatewayLog.intents).toBe(INTENT_GUILDS);
    expect(fake.gatewayLog.connectUrls[0]).toMatch(/\?v=10&encoding=json$/);
    expect(client.applicationId).toBe(fake.appId);
    expect(client.user?.id).toBe(fake.botUserId);
    expect(client.known(OPS)).toMatchObject({ id: OPS, type: 0, parentId: null });
  });

  it('resumes a dropped connection: what was sent meanwhile arrives, no new session', async () => {
    const { fake, client, interactions } = await setup();
    await client.login();
    fake.dropGateway();
    // Sent while the bot is away: buffered by the fake and replayed on RESUME.
    const i = await fake.slashCommand({ user: ALICE, channelId: OPS, name: 'ping' });
    await fake.waitForReady();
    await until(() => interactions.some((x) => x.id === i.id), 5000, 'the replayed interaction');
    expect(fake.stats).toMatchObject({ identifies: 1, resumes: 1 });
    expect(fake.gatewayLog.connectUrls[1]).toContain('/resume');
  });

  it('resumes when Discord asks it to reconnect (op 7)', async () => {
    const { fake, client } = await setup();
    await client.login();
    fake.requestReconnect();
    await until(() => fake.stats.resumes === 1, 5000, 'a RESUME');
    expect(fake.stats.identifies).toBe(1);
    // Closed without ending the session (not 1000/1001).
    expect(fake.gatewayLog.clientCloseCodes).toEqual([4000]);
  });

  it('identifies anew when its session is invalidated (op 9, not resumable)', async () => {
    const { fake, client, interactions } = await setup();
    await client.login();
    fake.dropGateway({ invalidate: true });
    // discord-api-docs: wait 1–5 s, then a new IDENTIFY.
    await until(() => fake.stats.identifies === 2, 8000, 'a second IDENTIFY');
    expect(fake.stats.invalidSessions).toBe(1);
    await fake.waitForReady();
    const i = await fake.slashCommand({ user: ALICE, channelId: OPS, name: 'ping' });
    await until(() => interactions.some((x) => x.id === i.id), 5000, 'an interaction after it');
  }, 15_000);

  it('closes a zombied connection (no heartbeat ACK) with a non-1000 code and resumes', async () => {
    const { fake, client } = await setup({ heartbeatIntervalMs: 150 });
    await client.login();
    fake.withholdHeartbeatAcks();
    await until(() => fake.gatewayLog.clientCloseCodes.length > 0, 5000, 'the client closing');
    fake.withholdHeartbeatAcks(false);
    await until(() => fake.stats.resumes >= 1, 5000, 'a RESUME');
    expect(fake.gatewayLog.clientCloseCodes[0]).toBe(4000);
    expect(fake.stats.identifies).toBe(1);
  });

  it('fails start-up on a token the gateway refuses (close 4004), saying so, without retrying', async () => {
    const fake = await FakeDiscord.start({ token: 'the-real-token' });
    stops.push(() => fake.stop());
    // The REST API would refuse the token first (401, test/e2e/startup.test.ts): ask the gateway directly.
    const gateway = gatewayAt({ url: fake.gatewayUrl }, { token: 'a-wrong-token' });
    const err = await gateway.connect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiscordGatewayError);
    expect(err).toMatchObject({ closeCode: 4004, fatal: true });
    expect(String((err as Error).message)).toMatch(/authentication failed: the bot token is wrong/);
    await new Promise((r) => setTimeout(r, 300));
    expect(fake.stats.connections).toBe(1);
  });

  it('fails start-up when the first connection closes before READY, so start-up retries it', async () => {
    let connections = 0;
    const url = await scriptedGateway((ws) => {
      connections++;
      ws.close(4000, 'Unknown error');
    });
    const err = await gatewayAt({ url })
      .connect()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiscordGatewayError);
    expect(err).toMatchObject({ closeCode: 4000, fatal: false });
    expect(String((err as Error).message)).toMatch(/closed before READY \(Unknown error\)/);
    await new Promise((r) => setTimeout(r, 300));
    expect(connections).toBe(1);
  });

  it('backs off when every RESUME is refused as resumable (op 9 true), then starts a new session', async () => {
    const ops: number[] = [];
    let connections = 0;
    const url = await scriptedGateway((ws, self) => {
      connections++;
      ws.send(JSON.stringify({ op: 10, d: { heartbeat_interval: 45_000 } }));
      ws.on('message', (raw) => {
        const msg = JSON.parse(String(raw)) as { op: number };
        ops.push(msg.op);
        if (msg.op === 2 && ops.filter((o) => o === 2).length === 1) {
          ws.send(
            JSON.stringify({
              op: 0,
              s: 1,
              t: 'READY',
              d: {
                session_id: 's1',
                resume_gateway_url: self,
                user: { id: '1', username: 'bot' },
                application: { id: '2' },
              },
            }),
          );
          setTimeout(() => ws.close(4000, 'drop'), 20);
        } else if (msg.op === 6) ws.send(JSON.stringify({ op: 9, d: true }));
      });
    });
    await gatewayAt({ url }, { backoffMs: [100, 400] }).connect();
    // Without back-off this was ~500 connections a second; with it: a handful, then, after
    // three refused resumes, a new IDENTIFY (not before 5 s after the first one).
    await until(() => ops.filter((o) => o === 2).length === 2, 8000, 'a second IDENTIFY');
    expect(ops.filter((o) => o === 6).length).toBeGreaterThanOrEqual(3);
    expect(connections).toBeLessThan(15);
  }, 12_000);

  it('starts a new session after close 4003 (the session was invalidated) instead of resuming', async () => {
    const { fake, client } = await setup();
    await client.login();
    fake.dropGateway({ code: 4003 });
    await until(() => fake.stats.identifies === 2, 8000, 'a second IDENTIFY');
    expect(fake.stats.resumes).toBe(0);
    expect(fake.stats.invalidSessions).toBe(0);
  }, 12_000);

  it('refuses to start when Discord allows no more sessions today (session_start_limit)', async () => {
    const gateway = gatewayAt({
      url: 'ws://127.0.0.1:9',
      session_start_limit: {
        total: 1000,
        remaining: 0,
        reset_after: 3_600_000,
        max_concurrency: 1,
      },
    });
    const err = await gateway.connect().catch((e: unknown) => e);
    expect(err).toMatchObject({ fatal: true });
    expect(String((err as Error).message)).toMatch(
      /used its 1000 Identify calls of the day.*in 60 min/,
    );
  });

  it('gives up a first connection that never says HELLO, so start-up retries it', async () => {
    const url = await scriptedGateway(); // accepts, never says HELLO
    await expect(gatewayAt({ url }, { helloTimeoutMs: 200 }).connect()).rejects.toThrow(/no HELLO/);
  });

  it('a new start after a stop identifies anew (a 1000 close ended the session)', async () => {
    const { fake, client } = await setup();
    await client.login();
    await client.destroy();
    await client.login();
    expect(fake.stats).toMatchObject({ identifies: 2, resumes: 0, invalidSessions: 0 });
  }, 10_000);

  it('stops at once: destroy() closes with 1000 and does not reconnect', async () => {
    const { fake, client } = await setup();
    await client.login();
    await client.destroy();
    await until(() => fake.gatewayLog.clientCloseCodes.length === 1, 2000, 'the close');
    expect(fake.gatewayLog.clientCloseCodes).toEqual([1000]);
    await new Promise((r) => setTimeout(r, 300));
    expect(fake.stats.connections).toBe(1);
  });
});
