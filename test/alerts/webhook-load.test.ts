import { readdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BacklogFullError } from '../../src/alerts/alert-service.js';
import { bodyDigest } from '../../src/alerts/repeat-filter.js';
import { tempStateDir } from '../helpers/cli.js';
import { type Bot, notification, simple, startPipeline } from './pipeline-helpers.js';

let bots: Bot[] = [];
afterEach(async () => {
  for (const b of bots) await b.close();
  bots = [];
});

async function pipeline(...args: Parameters<typeof startPipeline>): Promise<Bot> {
  const bot = await startPipeline(...args);
  bots.push(bot);
  return bot;
}

describe('a notification identical to one already accepted', () => {
  it('is acknowledged without being stored or counted against the backlog, even in a flood', async () => {
    const dir = tempStateDir();
    const bot = await pipeline(dir, { maxBacklog: 2 });
    await bot.service.start();
    const repeat = JSON.stringify(simple('Repeated'));
    expect((await bot.post(repeat)).status).toBe(200);
    await bot.service.settled();

    // Alertmanager re-sending the same group, interleaved with real changes of others.
    const fresh = Array.from({ length: 10 }, (_, i) => simple(`Fresh${i}`));
    const answers = await Promise.all([
      ...Array.from({ length: 60 }, () => bot.post(repeat).then((r) => ['repeat', r.status])),
      ...fresh.map((p) => bot.post(p).then((r) => [p.groupKey, r.status])),
    ]);
    const repeats = answers.filter(([k]) => k === 'repeat').map(([, s]) => s);
    expect(repeats).toEqual(Array(60).fill(200));
    // The fresh ones may meet back-pressure (503: Alertmanager retries), never anything else.
    const freshStatus = answers.filter(([k]) => k !== 'repeat').map(([, s]) => s);
    expect(freshStatus.every((s) => s === 200 || s === 503)).toBe(true);
    await bot.service.settled();
    const shown = bot.chat.roots.map((r) => r.reply.title);
    expect(shown.filter((t) => t?.includes('Repeated'))).toHaveLength(1);
    expect(shown).toHaveLength(1 + freshStatus.filter((s) => s === 200).length);
    expect(readdirSync(path.join(dir, 'alerts', 'outbox'))).toEqual([]);
  });

  it('is acknowledged while the backlog is full; a change is refused (503) until there is room', async () => {
    const bot = await pipeline(tempStateDir(), { maxBacklog: 1 });
    await bot.service.start();
    const first = simple('Busy');
    const body = JSON.stringify(first);
    expect((await bot.post(body)).status).toBe(200);
    await bot.service.settled();

    // The backlog fills synchronously: one accepted and not applied yet.
    const filling = bot.service.accept(simple('Filler'));
    expect(bot.service.backlogFull()).toBe(1);
    expect(await bot.service.accept(first)).toBe('repeat');
    expect(bot.service.isRepeatBody(bodyDigest(Buffer.from(body)))).toBe(true);
    await expect(bot.service.accept(simple('Busy', 'resolved'))).rejects.toBeInstanceOf(
      BacklogFullError,
    );
    // A firing alert's endsAt moving on (Prometheus re-sends it so) is no change either.
    const moved = notification(first.groupKey, 'firing', [
      ['Busy-fp', 'firing', first.alerts[0]!.labels],
    ]);
    moved.groupLabels = first.groupLabels;
    moved.alerts[0]!.endsAt = '2026-11-26T06:04:00Z';
    expect(await bot.service.accept(moved)).toBe('repeat');
    await filling;
    await bot.service.settled();
    expect(bot.service.waiting()).toBe(0);
    expect(bot.chat.roots.map((r) => r.reply.title)).toEqual([
      '[FIRING:1] Busy',
      '[FIRING:1] Filler',
    ]);
  });
});

/** A raw HTTP/1.1 request with a chunked body; resolves with everything the server sent. */
function chunkedPost(port: number, chunks: number, chunkBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (d) => {
      answer += d;
    });
    socket.on('end', () => resolve(answer));
    socket.on('error', (err) => reject(Object.assign(err, { answer })));
    socket.write(
      'POST /hooks/alertmanager HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n',
    );
    const chunk = `${chunkBytes.toString(16)}\r\n${'x'.repeat(chunkBytes)}\r\n`;
    for (let i = 0; i < chunks; i++) socket.write(chunk);
    socket.write('0\r\n\r\n');
  });
}

describe('an oversize chunked body (no Content-Length)', () => {
  it('is answered 413, not a connection reset', async () => {
    const bot = await pipeline(tempStateDir(), { maxBodyBytes: 4096 });
    const answer = await chunkedPost(bot.port, 12, 1024); // 12 KiB, three times the limit
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toMatch(/^connection: close\r$/im);
    expect(answer).toContain('body over 4096 bytes');
    // Within the limit, chunked is fine (a 400: the body is not a notification).
    expect(await chunkedPost(bot.port, 2, 1024)).toMatch(/^HTTP\/1\.1 400 /);
  });
});
