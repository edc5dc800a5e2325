import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { App } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { type Config, ConfigSchema } from '../../src/config/schema.js';
import { UserError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { FakeHomeserver, type VisibleMessage } from '../fakes/matrix/fake-homeserver.js';
import { matrixChat, startApp, testConfig } from '../helpers/app-fixture.js';
import { tempStateDir } from '../helpers/cli.js';
import { labCommand } from '../helpers/long-command.js';

const BOT = '@chatops:lab.test';
const ALICE = '@alice:lab.test';
const BOB = '@bob:lab.test';
const MALLORY = '@mallory:lab.test';
const OPS = '!ops:lab.test';
const LATER = '!later:lab.test';
const ELSEWHERE = '!elsewhere:lab.test';

let hs: FakeHomeserver;
let app: App;
let state: string;

function config(overrides: Partial<{ encryption: boolean }> = {}): Config {
  return testConfig({
    state: { dir: state },
    chat: { matrix: { ...matrixChat(hs, [OPS, LATER]), ...overrides } },
    inventory: loadConfig({ env: {} }).config.inventory,
    access: { roles: { operators: { members: [`matrix:${ALICE}`], allow: ['*'] } } },
    dryRun: { commands: ['node.*'] },
  });
}

/** The bot as these tests run it: config() and the /lab command. */
const startBot = () => startApp(config(), { extraCommands: [labCommand] });

/** The bot's notice answering the command `eventId` (edits applied). */
function answerTo(eventId: string, room = OPS): VisibleMessage | undefined {
  return hs.visible(room).find((m) => m.sender === BOT && m.replyTo === eventId);
}

async function answer(eventId: string, body: RegExp): Promise<VisibleMessage> {
  return hs.waitFor(() => {
    const m = answerTo(eventId);
    return m && body.test(m.body) ? m : undefined;
  });
}

beforeAll(async () => {
  hs = await FakeHomeserver.start({
    botUserId: BOT,
    accessToken: 'tok',
    rooms: [
      { roomId: OPS, members: [ALICE, BOB, MALLORY] },
      { roomId: LATER, members: [ALICE], botJoined: false },
      { roomId: ELSEWHERE, members: [ALICE], botJoined: false },
    ],
    profiles: { [ALICE]: 'Alice', [BOB]: 'Bob' },
  });
  state = tempStateDir();
  // An old command in the room's history: a fresh bot must never run it.
  hs.injectHistory(OPS, [{ sender: ALICE, body: '!task add title:"From history"', ageMs: 60_000 }]);
  app = await startBot();
});

afterAll(async () => {
  await app?.stop();
  await hs?.stop();
});

describe('Matrix adapter against a fake homeserver', () => {
  it('answers a command with a notice (HTML + plain body) replying to it', async () => {
    const ev = hs.sendMessage(OPS, BOB, '!node list');
    const m = await answer(ev, /7 nodes/);
    expect(m.msgtype).toBe('m.notice');
    expect(m.format).toBe('org.matrix.custom.html');
    expect(m.formattedBody).toMatch(/<pre><code>NODE\s+HOST/);
    expect(m.body).toMatch(/pi4-a\s+192\.168\.1\.21/);
  });

  it('accepts / as well as the configured prefix, and ignores plain chat', async () => {
    hs.sendMessage(OPS, BOB, 'just chatting about node list');
    const ev = hs.sendMessage(OPS, BOB, '/help node');
    await answer(ev, /\/node — Operate/);
    expect(
      hs
        .visible(OPS)
        .filter((m) => m.sender === BOT && m.replyTo === undefined && m.thread.length === 0),
    ).toEqual([]);
  });

  it('shows dry-run plans and explains denials', async () => {
    const plan = hs.sendMessage(OPS, ALICE, '!node reboot pi4-a');
    expect((await answer(plan, /Dry run/)).body).toContain(
      'ssh -p 22 pi@192.168.1.21 -- sudo -n systemctl reboot',
    );
    const denied = hs.sendMessage(OPS, BOB, '!node cordon pi4-a');
    expect((await answer(denied, /Not allowed/)).body).toContain(
      `You (matrix:${BOB}) have no role.`,
    );
  });

  it('confirms with !confirm by the invoker only', async () => {
    const ev = hs.sendMessage(OPS, ALICE, '!task drop T-0004');
    const proposal = await answer(ev, /Confirm: \/task drop T-0004/);
    const code = /!confirm (\w{6})/.exec(proposal.body)![1]!;
    const byBob = hs.sendMessage(OPS, BOB, `!confirm ${code}`);
    expect((await answer(byBob, /Cannot confirm/)).body).toContain('Only the person who asked');
    hs.sendMessage(OPS, ALICE, `!confirm ${code}`);
    const done = await answer(ev, /Dropped T-0004/);
    expect(done.edits).toBeGreaterThan(0);
  });

  it('confirms with a ✅ reaction by the invoker; someone else’s ✅ does nothing', async () => {
    const ev = hs.sendMessage(OPS, ALICE, '!task drop T-0002');
    const proposal = await answer(ev, /Confirm: \/task drop T-0002/);
    hs.react(OPS, BOB, proposal.eventId, '✅');
    await new Promise((r) => setTimeout(r, 300));
    expect(answerTo(ev)!.body).toMatch(/Confirm: \/task drop T-0002/);
    hs.react(OPS, ALICE, proposal.eventId, '✅');
    await answer(ev, /Dropped T-0002/);
  });

  it('edits progress in place and puts step logs in a thread under the answer', async () => {
    const ev = hs.sendMessage(OPS, BOB, '!lab work steps:3');
    const m = await answer(ev, /Worked through 3 steps/);
    expect(m.thread.map((t) => t.body)).toEqual([
      '› step 1 of 3 done',
      '› step 2 of 3 done',
      '› step 3 of 3 done',
    ]);
  });

  it('answers inside the thread a command was typed in', async () => {
    const root = hs.sendMessage(OPS, ALICE, 'pi4-a is acting up');
    hs.sendMessage(OPS, BOB, '!node list', { threadRoot: root });
    const thread = await hs.waitFor(() => {
      const r = hs.visible(OPS).find((m) => m.eventId === root);
      return r?.thread.some((t) => t.sender === BOT && /7 nodes/.test(t.body))
        ? r.thread
        : undefined;
    });
    expect(thread.map((t) => t.sender)).toEqual([BOB, BOT]);
  });

  it('files a task from Matrix with the requester in the commit', async () => {
    const ev = hs.sendMessage(OPS, ALICE, '!task add title:"Rotate the age key" priority:critical');
    await answer(ev, /Added T-\d{4}: Rotate the age key/);
    const clone = path.join(tempStateDir(), 'repo');
    execFileSync('git', ['clone', '-q', path.join(state, 'lab.git'), clone]);
    expect(
      execFileSync('git', ['-C', clone, 'log', '-1', '--format=%b'], { encoding: 'utf8' }),
    ).toContain(`Requested-by: matrix:${ALICE} (Alice)`);
  });

  it('ignores its own messages and never ran the command from history', async () => {
    const own = hs.sendMessage(OPS, BOT, '!node list');
    await new Promise((r) => setTimeout(r, 300));
    expect(answerTo(own)).toBeUndefined();
    expect(hs.visible(OPS).some((m) => /From history/.test(m.body) && m.sender === BOT)).toBe(
      false,
    );
  });

  it('joins only allowed rooms, on invites from allowed users', async () => {
    hs.invite(ELSEWHERE, ALICE);
    hs.invite(LATER, MALLORY);
    await new Promise((r) => setTimeout(r, 300));
    expect(hs.joinedRooms()).not.toContain(ELSEWHERE);
    expect(hs.joinedRooms()).not.toContain(LATER);
    hs.invite(LATER, ALICE);
    await hs.waitFor(() => hs.joinedRooms().includes(LATER));
  });

  it('keeps delivering under rate limits (429 M_LIMIT_EXCEEDED)', async () => {
    hs.setSendRateLimit({ burst: 2, windowMs: 400 });
    const before = hs.rateLimitedCount;
    const ev = hs.sendMessage(OPS, BOB, '!lab work steps:5');
    const m = await hs.waitFor(() => {
      const a = answerTo(ev);
      return a && /Worked through 5 steps/.test(a.body) && a.thread.length === 5 ? a : undefined;
    }, 20_000);
    hs.setSendRateLimit(null);
    expect(m.thread.map((t) => t.body)).toEqual(
      [1, 2, 3, 4, 5].map((n) => `› step ${n} of 5 done`),
    );
    expect(hs.rateLimitedCount).toBeGreaterThan(before);
  }, 30_000);

  it('after a restart, resumes from the saved sync token and does not re-run old commands', async () => {
    const before = hs.visible(OPS).filter((m) => m.sender === BOT).length;
    await app.stop();
    hs.releaseSyncs();
    app = await startBot();
    const ev = hs.sendMessage(OPS, BOB, '!help');
    await answer(ev, /Commands/);
    const resumed = hs.syncRequests.filter((r) => r.since !== undefined);
    expect(resumed.length).toBeGreaterThan(0);
    // Only the new answer was added.
    expect(hs.visible(OPS).filter((m) => m.sender === BOT).length).toBe(before + 1);
  });

  it('lets a room power level grant a role (matrix:powerlevel>=50)', async () => {
    await app.stop();
    hs.releaseSyncs();
    const base = config();
    const withPl = ConfigSchema.parse({
      ...base,
      access: { roles: { moderators: { members: ['matrix:powerlevel>=50'], allow: ['task.*'] } } },
    });
    app = await startApp(withPl, { extraCommands: [labCommand] });
    const denied = hs.sendMessage(OPS, BOB, '!task add title:"Before promotion"');
    await answer(denied, /Not allowed/);
    hs.setPowerLevel(OPS, BOB, 50);
    const allowed = hs.sendMessage(OPS, BOB, '!task add title:"After promotion"');
    await answer(allowed, /Added T-\d{4}: After promotion/);
  });

  it('refuses to start with encryption on: it does not support end-to-end encryption', async () => {
    const encrypted = await App.create({
      config: { ...config(), chat: { ...config({ encryption: true }).chat } },
      log: silentLogger(),
    });
    const err = await encrypted.start().catch((e: unknown) => e);
    await encrypted.stop();
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).hint).toContain('set chat.matrix.encryption: false');
  });
});
