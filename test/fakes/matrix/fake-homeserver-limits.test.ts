/**
 * The fake homeserver's limits behind a real MatrixClient (no bot code): 413 M_TOO_LARGE past
 * 65,536 bytes of PDU (an edit carries its text twice), Retry-After on 429, media upload and
 * authenticated download, encrypted rooms delivering m.room.encrypted.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ALICE, captureLogs, got, OPS, resetHarness, startBot, startHs } from './harness.js';
import { loadMatrixSdk, quietSdkLogs, RETRY_AFTER_HEADER_MS } from './load-sdk.js';

// The harness sees a client's sync loop end in the SDK's log.
beforeAll(async () => quietSdkLogs((await loadMatrixSdk()).sdk, captureLogs));
afterEach(resetHarness);

describe('fake homeserver limits', () => {
  it('refuses an event over 65536 bytes with 413 M_TOO_LARGE; the same text fits as a message but not as an edit', async () => {
    const hs = await startHs();
    const { client } = await startBot(hs);
    const text = 'x'.repeat(40_000);
    const id = await client.sendMessage(OPS, { msgtype: 'm.notice', body: text });
    const edit = await client
      .sendMessage(OPS, {
        msgtype: 'm.notice',
        body: `* ${text}`,
        'm.new_content': { msgtype: 'm.notice', body: text },
        'm.relates_to': { rel_type: 'm.replace', event_id: id },
      })
      .catch((e: unknown) => e);
    expect(edit).toMatchObject({ statusCode: 413, errcode: 'M_TOO_LARGE' });
    const huge = await client
      .sendMessage(OPS, { msgtype: 'm.notice', body: 'y'.repeat(70_000) })
      .catch((e: unknown) => e);
    expect(huge).toMatchObject({ statusCode: 413, errcode: 'M_TOO_LARGE' });
    expect(hs.tooLarge.map((t) => t.bytes > 65_536)).toEqual([true, true]);
    expect(hs.visible(OPS).map((m) => [m.body.length, m.edits])).toEqual([[40_000, 0]]);
  });

  it('answers 429 with Retry-After (header only when asked), which the SDK keeps on the error body', async () => {
    const hs = await startHs({ sendRateLimit: { burst: 1, windowMs: 2000, retryAfter: 'header' } });
    const { client } = await startBot(hs);
    await client.sendText(OPS, 'a');
    const e = (await client.sendText(OPS, 'b').catch((x: unknown) => x)) as {
      statusCode: number;
      retryAfterMs?: number;
      body: Record<string, unknown>;
    };
    expect(e.statusCode).toBe(429);
    expect(e.retryAfterMs).toBeUndefined();
    expect(e.body[RETRY_AFTER_HEADER_MS]).toBe(2000);
    const sends = hs.requests.filter((r) => r.method === 'PUT');
    expect(sends.at(-1)).toMatchObject({ status: 429, retryAfter: '2' });
  });

  it('stores uploads and serves them to authenticated downloads only', async () => {
    const hs = await startHs();
    const { client } = await startBot(hs);
    const mxc = await client.uploadContent(Buffer.from('hello file'), 'text/plain', 'a.txt');
    expect(mxc).toMatch(/^mxc:\/\/lab\.test\/m/);
    expect(hs.mediaText(mxc)).toBe('hello file');
    const path = `/_matrix/client/v1/media/download/${mxc.slice('mxc://'.length)}`;
    expect((await fetch(`${hs.url}${path}`)).status).toBe(401);
    const res = await fetch(`${hs.url}${path}`, { headers: { authorization: 'Bearer tok' } });
    expect(await res.text()).toBe('hello file');
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="a.txt"');
  });

  it('delivers users’ messages in an encrypted room as m.room.encrypted; members still read them', async () => {
    const hs = await startHs();
    const bot = await startBot(hs);
    hs.enableEncryption(OPS, ALICE);
    const id = hs.sendMessage(OPS, ALICE, '!node list');
    const [, ev] = await hs.waitFor(() => got(bot.events, id));
    expect(ev.type).toBe('m.room.encrypted');
    expect(ev.content).toMatchObject({ algorithm: 'm.megolm.v1.aes-sha2' });
    expect(JSON.stringify(ev.content)).not.toContain('node list');
    expect(got(bot.messages, id)).toBeUndefined();
    expect(hs.visible(OPS).map((m) => [m.sender, m.body])).toEqual([[ALICE, '!node list']]);
    expect(await bot.client.getRoomStateEvent(OPS, 'm.room.encryption', '')).toMatchObject({
      algorithm: 'm.megolm.v1.aes-sha2',
    });
  });
});
