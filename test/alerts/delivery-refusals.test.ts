/**
 * issue #13, below the chats: which client errors are refusals (errors as discord.js and
 * the bot's Matrix client throw them), and what delivery does around a post that fails or takes long —
 * nothing a notification or a note says is lost. End to end against the fake Discord and the
 * fake homeserver: test/e2e/alert-refusals*.test.ts.
 */
import { DiscordAPIError, type DiscordErrorData, HTTPError } from '@discordjs/rest';
import { describe, expect, it } from 'vitest';
import { AlertService } from '../../src/alerts/alert-service.js';
import { refusalOf } from '../../src/alerts/delivery-failure.js';
import { AlertRoutesSchema } from '../../src/alerts/router.js';
import { MatrixError } from '../../src/chat/matrix/matrix-client.js';
import type { MessageRef } from '../../src/chat/publisher.js';
import { silentLogger } from '../../src/core/logger.js';
import type { Reply } from '../../src/core/reply.js';
import { consoleOps } from '../helpers/app-fixture.js';
import { tempStateDir } from '../helpers/cli.js';
import { RecordingPublisher } from '../helpers/recording-publisher.js';
import { notification } from './pipeline-helpers.js';

const discordError = (
  status: number,
  code: number,
  message: string,
  errors?: DiscordErrorData['errors'],
) =>
  new DiscordAPIError(
    { code, message, ...(errors ? { errors } : {}) },
    code,
    status,
    'POST',
    'https://discord.com/api/v10/channels/1/messages',
    { body: {} },
  );

describe('refusalOf', () => {
  it('reads Discord and Matrix refusals: code, first line of the message, and whether access is missing', () => {
    expect(refusalOf(discordError(413, 40005, 'Request entity too large'))).toEqual({
      status: 413,
      code: '40005',
      message: 'Request entity too large',
      noAccess: false,
    });
    const invalid = discordError(400, 50035, 'Invalid Form Body', {
      embeds: {
        0: { description: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH', message: 'Too long.' }] } },
      },
    });
    expect(invalid.message).toContain('\n'); // Discord's tree follows on the next lines
    expect(refusalOf(invalid)).toMatchObject({ code: '50035', message: 'Invalid Form Body' });
    expect(refusalOf(discordError(403, 50001, 'Missing Access'))).toMatchObject({
      code: '50001',
      noAccess: true,
    });
    expect(
      refusalOf(new MatrixError(413, { errcode: 'M_TOO_LARGE', error: 'event too large' })),
    ).toEqual({ status: 413, code: 'M_TOO_LARGE', message: 'event too large', noAccess: false });
    expect(
      refusalOf(new MatrixError(400, { errcode: 'M_BAD_JSON', error: 'Content not JSON.' })),
    ).toMatchObject({ code: 'M_BAD_JSON', noAccess: false });
    expect(
      refusalOf(new MatrixError(403, { errcode: 'M_FORBIDDEN', error: 'not in room' })),
    ).toMatchObject({ code: 'M_FORBIDDEN', noAccess: true });
    // An error body without errcode (a proxy's HTML page, say).
    expect(refusalOf(new MatrixError(413, { error: '<html>413</html>' }))).toMatchObject({
      code: '413',
    });
  });

  it('leaves rate limits, timeouts, 5xx and network errors to be retried as they are', () => {
    expect(refusalOf(discordError(429, 0, 'You are being rate limited.'))).toBeUndefined();
    expect(
      refusalOf(new MatrixError(429, { errcode: 'M_LIMIT_EXCEEDED', error: 'Too many' })),
    ).toBeUndefined();
    expect(refusalOf({ statusCode: 408 })).toBeUndefined();
    expect(
      refusalOf(new HTTPError(502, 'Bad Gateway', 'POST', 'https://x', { body: {} })),
    ).toBeUndefined();
    expect(
      refusalOf(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })),
    ).toBeUndefined();
  });
});

/** A chat whose thread replies wait until `release()` while `hold` is set. */
class SlowThreads extends RecordingPublisher {
  hold = true;
  private readonly waiting: (() => void)[] = [];

  get held(): number {
    return this.waiting.length;
  }

  release(): void {
    this.hold = false;
    for (const w of this.waiting.splice(0)) w();
  }

  override async reply(ref: MessageRef, reply: Reply): Promise<MessageRef> {
    if (this.hold) await new Promise<void>((r) => this.waiting.push(r));
    return super.reply(ref, reply);
  }
}

const routes = AlertRoutesSchema.parse({ default: { to: [{ console: true }] } });

function service(chat: RecordingPublisher, rollupThreshold = 3) {
  return new AlertService({
    stateDir: tempStateDir(),
    routes,
    rollupThreshold,
    publisher: () => chat,
    log: silentLogger(),
    settleMs: 50,
    limits: { console: { maxConcurrent: 1, minTime: 0 } },
  });
}

const group = (name: string, status: 'firing' | 'resolved') =>
  notification(
    `{}:{alertname="${name}"}`,
    status,
    [0, 1].map((i) => [`${name}-${i}`, status, { alertname: name, instance: `${name}-${i}` }]),
    { groupLabels: { alertname: name } },
  );

describe('delivery around a post in flight or refused', () => {
  it('a resolve applied while the roll-up thread is being posted is posted in that thread', async () => {
    const chat = new SlowThreads();
    const s = service(chat);
    // Accepted before the start: applied together, one roll-up whatever the machine's speed.
    for (const n of ['A', 'B', 'C', 'D']) await s.accept(group(n, 'firing'));
    await s.start();
    // The roll-up is posted and its alert list is on its way.
    await expect.poll(() => chat.held, { timeout: 5000 }).toBe(1);
    expect(chat.roots).toHaveLength(1);
    await s.accept(group('C', 'resolved'));
    chat.release();
    await s.settled();

    expect(chat.roots.map((r) => r.reply.title)).toEqual([
      'Alert storm: 4 groups (4 firing, 0 resolved)',
    ]);
    expect(chat.current('1').title).toBe('Alert storm: 4 groups (3 firing, 1 resolved)');
    const thread = chat.thread('1');
    expect(thread).toHaveLength(2);
    expect(thread[1]!.code).toMatch(/^A-3: ✅ Group resolved/);
    await s.stop();
  });

  it('a note whose post is refused for now (403) is posted once the chat takes it, not dropped', async () => {
    const chat = new RecordingPublisher();
    const s = service(chat);
    await s.start();
    await s.accept(group('A', 'firing'));
    await s.settled();
    chat.failWith = Object.assign(new Error('Missing Access'), { status: 403, code: 50001 });
    await s.ack('A-1', consoleOps);
    await expect.poll(() => chat.calls, { timeout: 5000 }).toBeGreaterThan(1);
    chat.failWith = undefined;
    await expect
      .poll(() => chat.thread('1').map((r) => r.text), { timeout: 10_000 })
      .toEqual(['👀 Acknowledged by ops']);
    await s.stop();
  }, 15_000);
});
