/**
 * issue #12: a `matrix:powerlevel>=N` role counts only in the rooms of chat.matrix.rooms. A member
 * with a low-privilege role may invite the bot into a room of her own, where she has power 100;
 * that level must grant her nothing.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import type { Config } from '../../src/config/schema.js';
import { FakeHomeserver, type VisibleMessage } from '../fakes/matrix/fake-homeserver.js';
import { matrixChat, startApp, testConfig } from '../helpers/app-fixture.js';
import { tempStateDir } from '../helpers/cli.js';

const BOT = '@chatops:lab.test';
const ALICE = '@alice:lab.test';
const MALLORY = '@mallory:lab.test';
const OPS = '!ops:lab.test';
const HERS = '!mallorys-own:lab.test';

let hs: FakeHomeserver;
let app: App | undefined;

/** Moderators by power level; Mallory may only ask for help (and so may invite the bot). */
function config(rooms: string[]): Config {
  const parsed = testConfig({
    state: { dir: tempStateDir() },
    chat: { matrix: matrixChat(hs, [OPS]) },
    access: {
      roles: {
        moderators: { members: ['matrix:powerlevel>=50'], allow: ['task.*'] },
        helpers: { members: [`matrix:${MALLORY}`], allow: ['help'] },
      },
    },
  });
  // Set after parsing: the loader refuses power-level roles without rooms, and this test is
  // about the runtime rule, which must hold even for a config that got past it.
  return { ...parsed, chat: { ...parsed.chat, matrix: { ...parsed.chat.matrix!, rooms } } };
}

function answerTo(room: string, eventId: string): VisibleMessage | undefined {
  return hs.visible(room).find((m) => m.sender === BOT && m.replyTo === eventId);
}

const answer = (room: string, eventId: string, body: RegExp) =>
  hs.waitFor(() => {
    const m = answerTo(room, eventId);
    return m && body.test(m.body) ? m : undefined;
  });

beforeAll(async () => {
  hs = await FakeHomeserver.start({
    botUserId: BOT,
    accessToken: 'tok',
    rooms: [
      // Alice is a moderator in the ops room; Mallory an ordinary member.
      { roomId: OPS, members: [ALICE, MALLORY], powerLevels: { users: { [ALICE]: 50 } } },
    ],
    profiles: { [ALICE]: 'Alice', [MALLORY]: 'Mallory' },
  });
});

afterEach(async () => {
  await app?.stop();
  app = undefined;
  hs.releaseSyncs();
});

afterAll(async () => {
  await hs?.stop();
});

describe('Matrix power-level roles count only in the configured rooms', () => {
  it('without rooms: power 100 in her own room gives Mallory no task.* (and Alice none either)', async () => {
    app = await startApp(config([]));
    hs.invite(HERS, MALLORY);
    await hs.waitFor(() => hs.joinedRooms().includes(HERS));
    const hers = hs.sendMessage(HERS, MALLORY, '!task add title:"Mine now"');
    const denied = await answer(HERS, hers, /Not allowed/);
    expect(denied.body).toContain('Not allowed: /task add');
    expect(denied.body).toContain(
      'Your roles (helpers) do not allow task.add. Roles that allow it: moderators.',
    );
    // No room is configured, so even the real moderator's level counts for nothing.
    const alices = hs.sendMessage(OPS, ALICE, '!task add title:"Moderated"');
    expect((await answer(OPS, alices, /Not allowed/)).body).toContain(
      `You (matrix:${ALICE}) have no role.`,
    );
    const list = hs.sendMessage(HERS, MALLORY, '!task list');
    const tasks = await answer(HERS, list, /T-\d{4}/);
    expect(tasks.body).not.toContain('Mine now');
  });

  it('with rooms: the configured room’s levels count; Mallory’s own room is ignored', async () => {
    app = await startApp(config([OPS]));
    const alices = hs.sendMessage(OPS, ALICE, '!task add title:"Moderated"');
    await answer(OPS, alices, /Added T-\d{4}: Moderated/);
    const mallorys = hs.sendMessage(OPS, MALLORY, '!task add title:"Mine now"');
    expect((await answer(OPS, mallorys, /Not allowed/)).body).toContain(
      'Your roles (helpers) do not allow task.add.',
    );
    const hers = hs.sendMessage(HERS, MALLORY, '!task add title:"Mine now"');
    await new Promise((r) => setTimeout(r, 500));
    expect(answerTo(HERS, hers)).toBeUndefined();
  });
});
