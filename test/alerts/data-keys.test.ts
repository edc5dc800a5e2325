import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempStateDir } from '../helpers/cli.js';
import { RecordingPublisher } from '../helpers/recording-publisher.js';
import { type Bot, everything, startPipeline } from './pipeline-helpers.js';

/** Names that are members of Object.prototype: as group keys, label names and values. */
const NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty'];

/**
 * A notification whose groupKey, fingerprint, label and annotation names and values are
 * `name`, written as JSON text (as Alertmanager or any sender would put it on the wire).
 */
function body(name: string, status: 'firing' | 'resolved'): string {
  const labels = `{"alertname":"${name}","severity":"${name}","instance":"${name}","__proto__":"p-${name}","constructor":"c-${name}","toString":"t-${name}","hasOwnProperty":"h-${name}"}`;
  const annotations = `{"summary":"summary of ${name}","__proto__":"ap","toString":"at"}`;
  return `{"version":"4","receiver":"${name}","status":"${status}","groupKey":"${name}","truncatedAlerts":0,
    "externalURL":"http://alertmanager.lab:9093",
    "groupLabels":{"${name}":"${name}","alertname":"${name}"},
    "commonLabels":${labels},"commonAnnotations":${annotations},
    "alerts":[{"status":"${status}","labels":${labels},"annotations":${annotations},
      "startsAt":"2026-11-26T06:00:00Z","endsAt":"${status === 'resolved' ? '2026-11-26T07:00:00Z' : '0001-01-01T00:00:00Z'}",
      "generatorURL":"","fingerprint":"${name}"}]}`;
}

let bots: Bot[] = [];
afterEach(async () => {
  for (const b of bots) await b.close();
  bots = [];
});

describe('group keys, label names and values that are Object.prototype members', () => {
  it('are applied and shown, survive a restart, and resolve the same messages', async () => {
    const dir = tempStateDir();
    const chat = new RecordingPublisher();
    const first = await startPipeline(dir, { chat });
    bots.push(first);
    await first.service.start();
    for (const name of NAMES) expect((await first.post(body(name, 'firing'))).status).toBe(200);
    await first.service.settled();

    expect(chat.roots.map((r) => r.reply.title).sort()).toEqual(
      NAMES.map((n) => `[FIRING:1] ${n} (${n})`).sort(),
    );
    const root = chat.roots.find((r) => r.reply.title?.includes('__proto__'))!.reply;
    // Every label is shown as a field, `__proto__` and `constructor` included.
    expect(root.fields).toEqual(
      expect.arrayContaining([
        { name: '__proto__', value: 'p-__proto__', inline: true },
        { name: 'constructor', value: 'c-__proto__', inline: true },
        { name: 'toString', value: 't-__proto__', inline: true },
      ]),
    );
    const outbox = path.join(dir, 'alerts', 'outbox');
    expect(readdirSync(outbox)).toEqual([]);

    // Restart: the stored groups are read back with the same keys.
    await first.close();
    bots = [];
    const second = await startPipeline(dir, { chat });
    bots.push(second);
    await second.service.start();
    for (const name of NAMES) {
      const labels = second.service.store.group(name)?.state.alerts[0]?.labels ?? {};
      expect(Object.entries(labels)).toContainEqual(['__proto__', `p-${name}`]);
      expect((await second.post(body(name, 'resolved'))).status).toBe(200);
    }
    await second.service.settled();
    expect(chat.roots).toHaveLength(NAMES.length); // no new root: the groups were known
    for (const r of chat.roots) {
      expect(chat.current(r.id).title).toMatch(/^\[RESOLVED\] /);
      expect(chat.thread(r.id).map((t) => t.text)).toEqual([
        expect.stringMatching(/^✅ Group resolved after /),
      ]);
    }
    expect(readdirSync(outbox)).toEqual([]);
    expect(everything(chat)).not.toContain('[object Object]');

    // And a third start is clean (nothing left that would fail).
    await second.close();
    bots = [];
    const third = await startPipeline(dir, { chat });
    bots.push(third);
    await third.service.start();
    await third.service.settled();
    expect(chat.calls).toBe(NAMES.length * 3); // root, thread post and root edit each
  });
});
