/**
 * Below the chats: a refusal that concerns one group's message or thread alone (scopeOf) holds
 * up nothing else at its destination — that post goes to the dead letters, or a deleted root of a
 * firing group is posted again — while a refusal of the destination itself (no access) still
 * holds it, retried with back-off. The chat is a recording publisher refusing with the errors the
 * clients throw (discord.js's DiscordAPIError, the bot's MatrixError). End to end against the
 * fake Discord: test/e2e/alert-refusals-threads.test.ts.
 */
import { readFileSync } from 'node:fs';
import { DiscordAPIError } from '@discordjs/rest';
import { describe, expect, it } from 'vitest';
import { AlertService } from '../../src/alerts/alert-service.js';
import { type Refusal, refusalOf, scopeOf } from '../../src/alerts/delivery-failure.js';
import { AlertRoutesSchema } from '../../src/alerts/router.js';
import type { WebhookPayload } from '../../src/alerts/types.js';
import { MatrixError } from '../../src/chat/matrix/matrix-client.js';
import type { MessageRef } from '../../src/chat/publisher.js';
import { silentLogger } from '../../src/core/logger.js';
import type { Reply } from '../../src/core/reply.js';
import { tempStateDir } from '../helpers/cli.js';
import { RecordingPublisher } from '../helpers/recording-publisher.js';
import { notification } from './pipeline-helpers.js';

const discordError = (status: number, code: number, message: string) =>
  new DiscordAPIError({ code, message }, code, status, 'POST', 'https://discord.com/api/v10/x', {
    body: {},
  });
const matrixError = (statusCode: number, errcode: string, error: string) =>
  new MatrixError(statusCode, { errcode, error });

/** A chat that refuses, by root message id, thread replies and/or edits with the given error. */
class RefusingPublisher extends RecordingPublisher {
  readonly replies = new Map<string, Error>();
  readonly edits = new Map<string, Error>();
  refused = 0;

  override async reply(ref: MessageRef, reply: Reply): Promise<MessageRef> {
    const err = this.replies.get(ref.messageId);
    if (err) {
      this.refused++;
      throw err;
    }
    return super.reply(ref, reply);
  }

  override async edit(ref: MessageRef, reply: Reply): Promise<void> {
    const err = this.edits.get(ref.messageId);
    if (err) {
      this.refused++;
      throw err;
    }
    return super.edit(ref, reply);
  }
}

const routes = AlertRoutesSchema.parse({ default: { to: [{ console: true }] } });

function service(chat: RecordingPublisher, rollupThreshold = 3) {
  const counted: { deadLetters: number; refused: string[] } = { deadLetters: 0, refused: [] };
  const s = new AlertService({
    stateDir: tempStateDir(),
    routes,
    rollupThreshold,
    publisher: () => chat,
    log: silentLogger(),
    settleMs: 0,
    limits: { console: { maxConcurrent: 1, minTime: 0 } },
    onDeadLetter: () => counted.deadLetters++,
    onDeliveryRefused: (r) => counted.refused.push(`${r.reason} ${r.outcome}`),
  });
  return { s, counted };
}

const group = (
  name: string,
  alerts: Record<string, 'firing' | 'resolved'>,
  at = '2026-11-26T06:00:00Z',
): WebhookPayload => {
  const entries = Object.entries(alerts);
  const p = notification(
    `{}:{alertname="${name}"}`,
    entries.every(([, s]) => s === 'resolved') ? 'resolved' : 'firing',
    entries.map(([instance, s]) => [`${name}-${instance}`, s, { alertname: name, instance }]),
    { groupLabels: { alertname: name } },
  );
  for (const a of p.alerts) a.startsAt = at;
  return p;
};

const letters = (s: AlertService) =>
  readFileSync(s.deadLetterFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('scopeOf', () => {
  const r = (err: Error) => refusalOf(err) as Refusal;
  it('tells a refusal of the destination from one of a message or thread alone', () => {
    // Posting into the destination: a refusal of access is the destination's.
    expect(scopeOf(r(discordError(403, 50001, 'Missing Access')), 'channel')).toBe('destination');
    expect(scopeOf(r(discordError(403, 50013, 'Missing Permissions')), 'channel')).toBe(
      'destination',
    );
    expect(scopeOf(r(discordError(404, 10003, 'Unknown Channel')), 'channel')).toBe('destination');
    expect(scopeOf(r(matrixError(403, 'M_FORBIDDEN', 'no power')), 'channel')).toBe('destination');
    expect(scopeOf(r(discordError(400, 50035, 'Invalid Form Body')), 'channel')).toBe('post');
    // Under a message already posted: only the channel's own refusals are the destination's.
    expect(scopeOf(r(discordError(403, 50001, 'Missing Access')), 'message')).toBe('destination');
    expect(scopeOf(r(matrixError(403, 'M_FORBIDDEN', 'no power')), 'message')).toBe('destination');
    expect(scopeOf(r(discordError(404, 10008, 'Unknown Message')), 'message')).toBe('gone');
    expect(scopeOf(r(discordError(400, 50083, 'Thread is archived')), 'message')).toBe('post');
    expect(scopeOf(r(discordError(400, 160005, 'Thread is locked')), 'message')).toBe('post');
    expect(scopeOf(r(discordError(403, 50013, 'Missing Permissions')), 'message')).toBe('post');
    expect(scopeOf(r(discordError(404, 10003, 'Unknown Channel')), 'message')).toBe('post');
    expect(scopeOf(r(matrixError(400, 'M_UNKNOWN', 'bad relation')), 'message')).toBe('post');
    // A locked thread takes no form of a post: nothing smaller is tried.
    expect(r(discordError(400, 50083, 'Thread is archived')).noAccess).toBe(true);
  });
});

describe('a refusal of one group alone', () => {
  it('a thread that takes no form of a post (Matrix 400 M_UNKNOWN): the other group is posted in the same pass, the refused one has its root edited and its post dead-lettered', async () => {
    const chat = new RefusingPublisher();
    const { s, counted } = service(chat);
    await s.start();
    await s.accept(group('A', { a1: 'firing' }));
    await s.settled();
    chat.replies.set(
      '1',
      matrixError(400, 'M_UNKNOWN', 'Cannot start threads from an event with a relation'),
    );
    await s.accept(group('A', { a1: 'firing', a2: 'firing' }));
    await s.accept(group('B', { b1: 'firing' }, '2026-11-26T06:30:00Z'));
    await s.settled();

    expect(chat.roots.map((r) => r.reply.title)).toEqual(['[FIRING:1] A', '[FIRING:1] B']);
    expect(chat.current('1').title).toBe('[FIRING:2] A');
    // The full update, then its one-line form: both refused, nothing in the thread.
    expect(chat.refused).toBe(2);
    expect(chat.thread('1')).toEqual([]);
    expect(letters(s)).toEqual([
      expect.objectContaining({
        id: 'console:console A-1 update',
        groupKey: '{}:{alertname="A"}',
        destination: 'console:console',
        what: 'A-1 update',
        reason:
          'A-1 update refused: 400 M_UNKNOWN Cannot start threads from an event with a relation',
        payload: expect.objectContaining({ text: expect.stringContaining('a2') }),
      }),
    ]);
    expect(counted).toEqual({ deadLetters: 1, refused: ['M_UNKNOWN dead-letter'] });
    await s.stop();
  });

  it('a resolved group whose root was deleted (404 10008) is not posted again: the resolution is dead-lettered, the others go on', async () => {
    const chat = new RefusingPublisher();
    const { s, counted } = service(chat);
    await s.start();
    await s.accept(group('A', { a1: 'firing' }));
    await s.settled();
    const gone = discordError(404, 10008, 'Unknown Message');
    chat.replies.set('1', gone);
    chat.edits.set('1', gone);
    await s.accept(group('A', { a1: 'resolved' }));
    await s.accept(group('B', { b1: 'firing' }, '2026-11-26T06:30:00Z'));
    await s.settled();

    expect(chat.roots.map((r) => r.reply.title)).toEqual(['[FIRING:1] A', '[FIRING:1] B']);
    expect(letters(s).map((l) => l.what)).toEqual(['A-1 update', 'A-1 root']);
    expect(counted.refused).toEqual(['10008 dead-letter', '10008 dead-letter']);
    await s.stop();
  });

  it('a roll-up whose thread a moderator locked (400 50083): its updates are dead-lettered, its root still edited, a later group posted', async () => {
    const chat = new RefusingPublisher();
    const { s, counted } = service(chat);
    for (const n of ['A', 'B', 'C', 'D']) await s.accept(group(n, { [`${n}1`]: 'firing' }));
    await s.start();
    await s.settled();
    expect(chat.roots.map((r) => r.reply.title)).toEqual([
      'Alert storm: 4 groups (4 firing, 0 resolved)',
    ]);
    chat.replies.set('1', discordError(400, 50083, 'Thread is archived'));
    await s.accept(group('C', { C1: 'resolved' }));
    await s.accept(group('E', { E1: 'firing' }, '2026-11-26T06:30:00Z'));
    await s.settled();

    expect(chat.current('1').title).toBe('Alert storm: 4 groups (3 firing, 1 resolved)');
    expect(chat.roots.map((r) => r.reply.title)).toContain('[FIRING:1] E');
    expect(chat.thread('1')).toHaveLength(1); // the alert list from before the lock
    expect(letters(s).map((l) => [l.what, l.groupKey])).toEqual([
      [expect.stringMatching(/^roll-up R-A-1-4 updates$/), undefined],
    ]);
    expect(counted).toEqual({ deadLetters: 1, refused: ['50083 dead-letter'] });
    await s.stop();
  });

  it('a refusal of the destination itself (Matrix 403 M_FORBIDDEN) still holds it: nothing dead-lettered, retried, shown once it may post', async () => {
    const chat = new RefusingPublisher();
    const { s, counted } = service(chat);
    await s.start();
    await s.accept(group('A', { a1: 'firing' }));
    await s.settled();
    chat.replies.set('1', matrixError(403, 'M_FORBIDDEN', 'You may not post'));
    await s.accept(group('A', { a1: 'firing', a2: 'firing' }));
    await expect.poll(() => counted.refused.length, { timeout: 5000 }).toBeGreaterThan(0);
    expect(counted.refused[0]).toBe('M_FORBIDDEN retrying');
    expect(counted.deadLetters).toBe(0);
    chat.replies.delete('1');
    await expect
      .poll(() => chat.thread('1').map((r) => r.text ?? r.title), { timeout: 10_000 })
      .toHaveLength(1);
    // The root is edited after the thread post: wait for it too (a loaded machine shows the gap).
    await expect.poll(() => chat.current('1').title, { timeout: 5000 }).toBe('[FIRING:2] A');
    await s.stop();
  }, 15_000);

  it('a destination that refuses is not asked again at every notification: new groups wait for its retry', async () => {
    const chat = new RefusingPublisher();
    chat.failWith = discordError(403, 50001, 'Missing Access');
    const { s, counted } = service(chat, 100);
    await s.start();
    await s.accept(group('A', { a1: 'firing' }));
    await expect.poll(() => counted.refused.length, { timeout: 5000 }).toBe(1);
    const asked = chat.calls;
    // Ten more groups during the first back-off (2 s): none of them makes the bot ask again.
    for (let i = 0; i < 10; i++) await s.accept(group(`G${i}`, { [`g${i}`]: 'firing' }));
    await new Promise((r) => setTimeout(r, 300));
    expect(chat.calls).toBe(asked);
    expect(counted.refused).toEqual(['50001 retrying']);
    // Once the channel takes posts, the retry delivers them all.
    chat.failWith = undefined;
    await expect.poll(() => chat.roots.length, { timeout: 10_000 }).toBe(11);
    await s.stop();
  }, 15_000);
});
