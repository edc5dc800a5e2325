import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { groupFileName } from '../../src/alerts/alert-store.js';
import { tempStateDir } from '../helpers/cli.js';
import { RecordingPublisher } from '../helpers/recording-publisher.js';
import {
  type Bot,
  capturedLog,
  everything,
  leaveInOutbox,
  simple,
  startPipeline,
} from './pipeline-helpers.js';

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

const titles = (chat: RecordingPublisher) => chat.roots.map((r) => chat.current(r.id).title);

describe('a notification that cannot be applied', () => {
  it('goes to the dead letters (logged, counted) and holds up neither start-up nor the others', async () => {
    const dir = tempStateDir();
    const outbox = leaveInOutbox(dir, [
      JSON.stringify(simple('Before')),
      // Valid JSON, but not a notification (say, written by a bot version with a bug).
      '{"version":"4","groupKey":"{}:{alertname=\\"Broken\\"}","alerts":"not a list"}',
      JSON.stringify(simple('After')),
    ]);
    const { log, lines } = capturedLog();
    const bot = await pipeline(dir, { log });
    await bot.service.start();
    await bot.service.settled();
    expect(titles(bot.chat).sort()).toEqual(['[FIRING:1] After', '[FIRING:1] Before']);
    expect(readdirSync(outbox)).toEqual([]);

    // One that fails while being applied: its group's file cannot be written (a directory
    // is in the way). It is answered 200 (it is stored), then moved to the dead letters.
    const blocked = simple('Blocked');
    mkdirSync(path.join(dir, 'alerts', 'groups', groupFileName(blocked.groupKey)));
    expect((await bot.post(blocked)).status).toBe(200);
    expect((await bot.post(simple('Later'))).status).toBe(200);
    await bot.service.settled();
    expect(titles(bot.chat)).toContain('[FIRING:1] Later');
    expect(everything(bot.chat)).not.toContain('Blocked'); // not applied: not shown either
    expect(readdirSync(outbox)).toEqual([]);

    const letters = readFileSync(path.join(dir, 'alerts', 'dead-letter.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(letters.map((l) => [l.groupKey, l.reason])).toEqual([
      [
        '{}:{alertname="Broken"}',
        expect.stringMatching(/^not an Alertmanager notification: .*alerts: expected array/),
      ],
      ['{}:{alertname="Blocked"}', expect.stringContaining('EISDIR')],
    ]);
    expect(letters[1].payload).toEqual(blocked);
    const errors = lines.filter((l) => l.level === 50);
    expect(errors.map((l) => [l.groupKey, l.reason])).toEqual(
      letters.map((l) => [l.groupKey, l.reason]),
    );
    expect(String(errors[0]!.msg)).toContain('{}:{alertname="Broken"}');
    expect(
      await bot.metrics.registry.getSingleMetricAsString('chatops_alert_dead_letters_total'),
    ).toMatch(/^chatops_alert_dead_letters_total 2$/m);
  });
});

describe('after a crash', () => {
  it('applies what the outbox holds before a webhook that arrives right at start', async () => {
    const dir = tempStateDir();
    const fired = simple('Flapping');
    const resolved = simple('Flapping', 'resolved');
    leaveInOutbox(dir, [JSON.stringify(fired), JSON.stringify(resolved)]);
    const bot = await pipeline(dir);
    // HTTP is up before the alert service starts (as in App.start, while the chats connect):
    // Alertmanager's retry of the resolved notification, and another group, arrive first.
    expect((await bot.post(resolved)).status).toBe(200);
    expect((await bot.post(simple('Other'))).status).toBe(200);
    await bot.service.start();
    await bot.service.settled();
    expect(titles(bot.chat).sort()).toEqual(['[FIRING:1] Other', '[RESOLVED] Flapping']);
    expect(bot.service.store.group(fired.groupKey)?.state.refires).toBe(0);
    expect(everything(bot.chat)).not.toMatch(/2nd time|again/);
  });
});

describe('corrupt state files', () => {
  it('are moved aside with a warning naming them; the bot starts and works', async () => {
    const dir = tempStateDir();
    const chat = new RecordingPublisher();
    const first = await pipeline(dir, { chat });
    await first.service.start();
    await first.post(simple('Kept'));
    await first.post(simple('Damaged'));
    await first.service.settled();
    await first.close();
    bots = [];

    const alerts = path.join(dir, 'alerts');
    const damaged = path.join(alerts, 'groups', groupFileName(simple('Damaged').groupKey));
    writeFileSync(damaged, readFileSync(damaged, 'utf8').slice(0, 100)); // cut short
    writeFileSync(path.join(alerts, 'index.json'), '{"version":2,"nextRef":'); // truncated
    const outbox = leaveInOutbox(dir, ['{"version":"4","receiver":"chatops","sta']);
    writeFileSync(path.join(alerts, 'groups.json'), 'not json at all'); // an old-format file

    const { log, lines } = capturedLog();
    const second = await pipeline(dir, { chat, log });
    await second.service.start();
    await second.post(simple('Kept', 'resolved'));
    await second.post(simple('New'));
    await second.service.settled();

    const warnings = lines.filter((l) => l.level === 40);
    const named = (file: string) => warnings.find((w) => w.file === file);
    for (const file of [
      damaged,
      path.join(alerts, 'index.json'),
      path.join(alerts, 'groups.json'),
      path.join(outbox, '000000000000.json'),
    ]) {
      const w = named(file);
      expect(w?.msg, file).toContain(file);
      expect(existsSync(String(w?.movedTo))).toBe(true);
      expect(String(w?.movedTo)).toMatch(/\.corrupt-\d+$/);
      expect(existsSync(file) && file !== path.join(alerts, 'index.json')).toBe(false);
    }
    expect(JSON.stringify(lines)).not.toContain('"stack"');
    // The intact group still resolves its message; its ref is not given to another.
    expect(chat.current('1').title).toBe('[RESOLVED] Kept');
    expect(chat.roots.at(-1)!.reply.footer).not.toMatch(/^A-1 /);
    expect(chat.roots.at(-1)!.reply.title).toBe('[FIRING:1] New');
  });

  it('an old single groups.json is migrated to one file per group, refs kept', async () => {
    const dir = tempStateDir();
    const chat = new RecordingPublisher();
    const first = await pipeline(dir, { chat });
    await first.service.start();
    await first.post(simple('Old'));
    await first.service.settled();
    await first.close();
    bots = [];
    // Rewrite the state as the previous version kept it.
    const alerts = path.join(dir, 'alerts');
    const file = path.join(alerts, 'groups', groupFileName(simple('Old').groupKey));
    const group = JSON.parse(readFileSync(file, 'utf8'));
    const legacy = {
      version: 1,
      nextRef: 2,
      groups: { [group.state.groupKey]: group },
      rollups: {},
    };
    writeFileSync(path.join(alerts, 'groups.json'), JSON.stringify(legacy));
    rmSync(path.join(alerts, 'groups'), { recursive: true });
    rmSync(path.join(alerts, 'index.json'));

    const second = await pipeline(dir, { chat });
    await second.service.start();
    expect(existsSync(path.join(alerts, 'groups.json'))).toBe(false);
    expect(existsSync(file)).toBe(true);
    await second.post(simple('Old', 'resolved'));
    await second.service.settled();
    expect(chat.roots).toHaveLength(1);
    expect(chat.current('1').title).toBe('[RESOLVED] Old');
  });
});
