/**
 * The fake homeserver behind the real, unmodified matrix-bot-sdk MatrixClient (no bot code):
 * proves the fake speaks the protocol the SDK uses, and pins the SDK behaviours the Matrix
 * adapter relies on (own-event echo, initial-sync replay, no 429 retry, token persistence).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { FakeHomeserver } from './fake-homeserver.js';
import {
  ALICE,
  BOB,
  BOT,
  captureLogs,
  got,
  logs,
  loopsEnded,
  OPS,
  resetHarness,
  sleep,
  startBot,
  startHs,
  TOKEN,
  tempDir,
} from './harness.js';
import { CryptoUnavailableError, type LoadedSdk, loadMatrixSdk, quietSdkLogs } from './load-sdk.js';

let loaded: LoadedSdk;

beforeAll(async () => {
  loaded = await loadMatrixSdk();
});

afterEach(resetHarness);

const sdkRequire = createRequire(createRequire(import.meta.url).resolve('matrix-bot-sdk'));
/** The native binary, which `npm rebuild --ignore-scripts=false …` downloads next to index.js. */
const nativeCrypto = readdirSync(
  dirname(sdkRequire.resolve('@matrix-org/matrix-sdk-crypto-nodejs')),
).some((f) => f.endsWith('.node'));

describe('loadMatrixSdk', () => {
  it('loads matrix-bot-sdk once, and says whether the native crypto module loaded', async () => {
    expect(await loadMatrixSdk()).toBe(loaded);
    expect(typeof loaded.sdk.MatrixClient).toBe('function');
    expect(loaded.cryptoAvailable).toBe(nativeCrypto);
  });

  it.skipIf(nativeCrypto)('without it, anything using crypto fails naming the fix', async () => {
    expect(loaded.cryptoError).toMatch(
      /Cannot find module '@matrix-org\/matrix-sdk-crypto-nodejs-/,
    );
    const crypto = sdkRequire('@matrix-org/matrix-sdk-crypto-nodejs');
    expect(() => crypto.OlmMachine.initialize()).toThrow(CryptoUnavailableError);
    // A client configured for E2EE refuses to start.
    const hs = await startHs();
    const { MatrixClient, MemoryStorageProvider, RustSdkCryptoStorageProvider } = loaded.sdk;
    const store = new RustSdkCryptoStorageProvider(tempDir());
    const e2ee = new MatrixClient(hs.url, TOKEN, new MemoryStorageProvider(), store);
    await expect(e2ee.start()).rejects.toThrow(
      'npm rebuild --ignore-scripts=false @matrix-org/matrix-sdk-crypto-nodejs',
    );
  });

  it('keeps LogService off the console by default, and routes it to a logger on request', () => {
    const { LogService } = loaded.sdk;
    const spies = (['log', 'info', 'warn', 'error', 'debug', 'trace'] as const).map((m) =>
      vi.spyOn(console, m).mockImplementation(() => {}),
    );
    quietSdkLogs(loaded.sdk);
    LogService.info('MatrixClientLite', 'hello');
    LogService.error('MatrixHttpClient', '(REQ-1)', new Error('boom'));
    for (const spy of spies) expect(spy).not.toHaveBeenCalled();
    vi.restoreAllMocks();
    quietSdkLogs(loaded.sdk, captureLogs);
    LogService.warn('DMs', 'Error getting m.direct account data: ', { errcode: 'M_UNKNOWN' });
    expect(logs).toEqual([
      {
        level: 'warn',
        module: 'matrix-bot-sdk:DMs',
        msg: "Error getting m.direct account data:  { errcode: 'M_UNKNOWN' }",
      },
    ]);
  });
});

describe('fake homeserver behind a real MatrixClient', () => {
  beforeAll(() => quietSdkLogs(loaded.sdk, captureLogs));

  it('delivers a message via /sync; shows the bot’s HTML notice, threaded reply and its edit', async () => {
    const hs = await startHs();
    const bot = await startBot(hs);
    const cmd = hs.sendMessage(OPS, ALICE, '!node reboot pi4-a');
    const [roomId, ev] = await hs.waitFor(() => got(bot.messages, cmd));
    expect(roomId).toBe(OPS);
    expect(ev).toMatchObject({
      type: 'm.room.message',
      sender: ALICE,
      content: { msgtype: 'm.text', body: '!node reboot pi4-a' },
    });
    expect(Date.now() - ev.origin_server_ts).toBeLessThan(5000);

    const { client } = bot;
    const root = await client.sendMessage(OPS, {
      msgtype: 'm.notice',
      body: 'Rebooting pi4-a',
      format: 'org.matrix.custom.html',
      formatted_body: '<b>Rebooting</b> <code>pi4-a</code>',
    });
    const thread = { rel_type: 'm.thread', event_id: root, is_falling_back: true };
    const step = await client.sendMessage(OPS, {
      msgtype: 'm.notice',
      body: 'cordon pi4-a…',
      'm.relates_to': { ...thread, 'm.in_reply_to': { event_id: root } },
    });
    const edit = await client.sendMessage(OPS, {
      msgtype: 'm.notice',
      body: '* cordon pi4-a ✅',
      'm.new_content': { msgtype: 'm.notice', body: 'cordon pi4-a ✅' },
      'm.relates_to': { rel_type: 'm.replace', event_id: step },
    });
    expect(hs.sent(OPS).map((s) => [s.eventId, s.type])).toEqual([
      [root, 'm.room.message'],
      [step, 'm.room.message'],
      [edit, 'm.room.message'],
    ]);
    expect(hs.sent(OPS)[1]!.content['m.relates_to']).toEqual({
      ...thread,
      'm.in_reply_to': { event_id: root },
    });
    expect(hs.visible(OPS)).toMatchObject([
      { eventId: cmd, sender: ALICE, body: '!node reboot pi4-a', thread: [] },
      {
        eventId: root,
        sender: BOT,
        msgtype: 'm.notice',
        format: 'org.matrix.custom.html',
        formattedBody: '<b>Rebooting</b> <code>pi4-a</code>',
        thread: [{ eventId: step, body: 'cordon pi4-a ✅', edits: 1 }],
      },
    ]);
    expect(hs.visibleText(OPS)).toBe(
      [
        'alice: !node reboot pi4-a',
        'chatops (notice): Rebooting pi4-a',
        '  └ chatops (notice): cordon pi4-a ✅ (edited)',
      ].join('\n'),
    );
    // The bot's own events come back through /sync as room.message, with its txn id.
    const [, echo] = await hs.waitFor(() => got(bot.messages, edit) && got(bot.messages, root));
    expect(echo).toMatchObject({
      sender: BOT,
      unsigned: { transaction_id: hs.sent(OPS)[0]!.txnId },
    });
    expect(await client.getEvent(OPS, root)).toMatchObject({ room_id: OPS, sender: BOT });
  });

  it('passes a reaction to the bot as room.event (not room.message) and attaches it', async () => {
    const hs = await startHs();
    const bot = await startBot(hs);
    const question = await bot.client.sendNotice(OPS, 'Reboot pi4-a? React ✅ to confirm');
    const reaction = hs.react(OPS, ALICE, question, '✅');
    const [, ev] = await hs.waitFor(() => got(bot.events, reaction));
    expect(ev).toMatchObject({
      type: 'm.reaction',
      sender: ALICE,
      content: { 'm.relates_to': { rel_type: 'm.annotation', event_id: question, key: '✅' } },
    });
    expect(got(bot.messages, reaction)).toBeUndefined();
    expect(hs.visible(OPS)[0]!.reactions).toEqual({ '✅': [ALICE] });
    expect(await bot.client.getUserProfile(ALICE)).toEqual({ displayname: 'Alice' });
  });

  it('joins a room on invite, then reads its members and power levels, and leaves', async () => {
    const hs = await startHs();
    const bot = await startBot(hs, { autojoin: true });
    const LAB = '!lab:lab.test';
    hs.invite(LAB, BOB, { name: 'Lab' });
    const [roomId, invite] = await hs.waitFor(() => bot.invites[0]);
    expect(roomId).toBe(LAB);
    expect(invite).toMatchObject({
      type: 'm.room.member',
      sender: BOB,
      state_key: BOT,
      content: { membership: 'invite' },
    });
    await hs.waitFor(() => bot.joins.includes(LAB));
    expect(hs.joinedRooms()).toEqual([OPS, LAB]);
    expect(await bot.client.getJoinedRooms()).toEqual([OPS, LAB]);
    expect((await bot.client.getJoinedRoomMembers(LAB)).sort()).toEqual([BOB, BOT]);
    const { client } = bot;
    expect(await client.userHasPowerLevelFor(BOB, LAB, 'm.room.power_levels', true)).toBe(true);
    expect(await client.userHasPowerLevelFor(BOT, LAB, 'm.room.power_levels', true)).toBe(false);
    hs.setPowerLevel(LAB, BOT, 100);
    expect(await client.userHasPowerLevelFor(BOT, LAB, 'm.room.power_levels', true)).toBe(true);
    hs.addMember(LAB, ALICE);
    expect(await client.resolveRoom('#ops:lab.test')).toBe(OPS);
    const hello = hs.sendMessage(LAB, BOB, 'hello bot');
    await hs.waitFor(() => got(bot.messages, hello));
    await client.leaveRoom(LAB);
    await hs.waitFor(() => bot.leaves.includes(LAB));
    expect(hs.joinedRooms()).toEqual([OPS]);
  });

  it('survives a 502 on /sync: backs off (5–15 s, skipped with fake timers) and syncs on', async () => {
    const hs = await startHs();
    const bot = await startBot(hs);
    await hs.waitFor(() => hs.pendingSyncCount > 0);
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    try {
      hs.dropNextSyncWith(502);
      await hs.waitFor(() => logs.some((l) => l.msg.startsWith('Backing off')));
      vi.advanceTimersByTime(15_000);
    } finally {
      vi.useRealTimers();
    }
    const after = hs.sendMessage(OPS, ALICE, 'still there?');
    await hs.waitFor(() => got(bot.messages, after));
    const i = hs.syncRequests.findIndex((s) => s.status === 502);
    expect(hs.syncRequests[i + 1]).toMatchObject({ since: hs.syncRequests[i]!.since, status: 200 });
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 'error',
        msg: expect.stringContaining('Error handling sync'),
      }),
    );
  });

  it('answers sends over the rate limit with 429; the SDK does not retry, a caller that does delivers all once', async () => {
    const hs = await startHs({ sendRateLimit: { burst: 2, windowMs: 150 } });
    const { client } = await startBot(hs);
    await client.sendText(OPS, 'a');
    await client.sendText(OPS, 'b');
    const limited = await client.sendText(OPS, 'c').catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(loaded.sdk.MatrixError);
    expect(limited).toMatchObject({ statusCode: 429, errcode: 'M_LIMIT_EXCEEDED' });
    expect((limited as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0);

    /** What the adapter must do: a stable txn id per message, retried after retry_after_ms. */
    const sendWithRetry = async (body: string, txnId: string): Promise<string> => {
      const path = `/_matrix/client/v3/rooms/${encodeURIComponent(OPS)}/send/m.room.message/${txnId}`;
      for (let attempt = 0; ; attempt++) {
        try {
          return (await client.doRequest('PUT', path, null, { msgtype: 'm.text', body })).event_id;
        } catch (e) {
          if (!(e instanceof loaded.sdk.MatrixError) || e.statusCode !== 429 || attempt > 20)
            throw e;
          await sleep(e.retryAfterMs ?? 1000);
        }
      }
    };
    const ids: string[] = [];
    for (const [i, body] of ['c', 'd', 'e', 'f', 'g'].entries())
      ids.push(await sendWithRetry(body, `t${i}`));
    expect(hs.rateLimitedCount).toBeGreaterThan(2);
    expect(hs.visible(OPS).map((m) => m.body)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
    // The same txn id again is answered with the same event, not a second message.
    expect(await sendWithRetry('g', 't4')).toBe(ids[4]);
    expect(hs.sent(OPS)).toHaveLength(7);
  });

  it('persists the sync token via the storage provider; a restarted client resumes from it', async () => {
    const hs = await startHs();
    hs.injectHistory(OPS, [{ sender: ALICE, body: '!node reboot pi1' }]);
    const file = join(tempDir(), 'bot.json');
    const filter = { room: { timeline: { limit: 5 } } };
    const storage1 = new loaded.sdk.SimpleFsStorageProvider(file);
    const bot1 = await startBot(hs, { storage: storage1, filter });
    expect(hs.requests.filter((r) => r.path.endsWith('/filter'))).toHaveLength(1);
    // No token yet: the initial sync replays recent history, old commands included.
    const [, old] = await hs.waitFor(() =>
      bot1.messages.find(([, e]) => e.content.body === '!node reboot pi1'),
    );
    expect(Date.now() - old.origin_server_ts).toBeGreaterThan(3_000_000);
    const seen = hs.sendMessage(OPS, ALICE, 'first');
    await hs.waitFor(() => got(bot1.messages, seen));

    bot1.client.stop(); // does not abort the pending long-poll: release it, wait for the loop to end
    await hs.waitFor(() => hs.releaseSyncs() >= 0 && loopsEnded() === 1, 2000, 'bot1 to stop');
    const token = JSON.parse(readFileSync(file, 'utf8')).syncToken;
    expect(token).toBe(hs.syncTokensServed.at(-1));

    const missed = hs.sendMessage(OPS, ALICE, 'sent while the bot was down');
    const syncsBefore = hs.syncRequests.length;
    const storage2 = new loaded.sdk.SimpleFsStorageProvider(file);
    const bot2 = await startBot(hs, { storage: storage2, filter });
    await hs.waitFor(() => got(bot2.messages, missed));
    // Same filter: its stored id is reused (a new filter would reset the token to null).
    expect(hs.syncRequests[syncsBefore]).toMatchObject({ since: token, filter: '1' });
    expect(hs.requests.filter((r) => r.path.endsWith('/filter'))).toHaveLength(1);
    expect(bot2.messages.map(([, e]) => e.content.body)).toEqual(['sent while the bot was down']);
  });

  it('rejects a wrong access token with 401 M_UNKNOWN_TOKEN', async () => {
    const hs = await startHs();
    const wrong = new loaded.sdk.MatrixClient(hs.url, 'not-the-token');
    await expect(wrong.start()).rejects.toMatchObject({
      statusCode: 401,
      errcode: 'M_UNKNOWN_TOKEN',
    });
    expect(await new loaded.sdk.MatrixClient(hs.url, TOKEN).getUserId()).toBe(BOT);
  });

  it('leaves no sockets, servers or timers behind after client.stop() and hs.stop()', async () => {
    const count = () => {
      const all = process.getActiveResourcesInfo();
      return ['TCPSocketWrap', 'TCPServerWrap', 'Timeout'].map(
        (k) => all.filter((r) => r === k).length,
      );
    };
    const before = count();
    const hs = await FakeHomeserver.start({
      botUserId: BOT,
      accessToken: TOKEN,
      rooms: [{ roomId: OPS, members: [ALICE] }],
    });
    const bot = await startBot(hs);
    const ping = hs.sendMessage(OPS, ALICE, 'ping');
    await hs.waitFor(() => got(bot.messages, ping));
    await bot.client.sendNotice(OPS, 'pong');
    bot.client.stop();
    await hs.stop();
    await hs.waitFor(
      () => count().every((n, i) => n <= before[i]!),
      2000,
      `resources back to ${before}`,
    );
  });
});
