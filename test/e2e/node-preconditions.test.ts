import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import {
  consoleOps,
  labOverrides,
  runCommand,
  startApp,
  testConfig,
} from '../helpers/app-fixture.js';
import { tempStateDir } from '../helpers/cli.js';
import { RecordingResponder } from '../helpers/dispatcher.js';
import { type SshLab, startSshLab } from '../helpers/ssh-lab.js';

/**
 * The precondition stage (#15): what can refuse a disruptive action is checked before the
 * proposal exists — nobody confirms a reboot that would then be refused — and again when it
 * runs. Here: host keys (not pinned, not matching) and another operation started meanwhile.
 */

let lab: SshLab;
let app: App;

beforeAll(async () => {
  lab = await startSshLab({
    nodes: [
      { name: 'pi4-a', os: 'raspios', roles: ['worker'] },
      { name: 'pi4-b', os: 'raspios', roles: ['worker'] },
      { name: 'pi1', os: 'raspios', roles: ['support'] },
    ],
  });
  // pi4-a pinned, pi4-b not at all, pi1 pinned with pi4-a's key (as after a reinstall or a MITM).
  const knownHosts = path.join(tempStateDir(), 'known_hosts');
  const a = lab.node('pi4-a').knownHostsLines();
  const pi1Name = lab.node('pi1').knownHostsLines()[0]!.split(' ')[0]!;
  writeFileSync(
    knownHosts,
    `${[...a, ...a.map((l) => `${pi1Name} ${l.split(' ').slice(1).join(' ')}`)].join('\n')}\n`,
  );
  const overrides = labOverrides(lab);
  app = await startApp(
    testConfig({ ...overrides, ssh: { ...overrides.ssh!, knownHostsFile: knownHosts } as never }),
  );
}, 60_000);

afterAll(async () => {
  await app?.stop();
  await lab?.stop();
});

describe('refused before the proposal', () => {
  it('a node whose host key is not pinned: no proposal, the fix named, nothing run', async () => {
    lab.node('pi4-b').clearCalls();
    const reply = (await runCommand(app, '/node reboot pi4-b')).last();
    expect(reply.severity).toBe('error');
    expect(reply.confirm).toBeUndefined();
    expect(reply.title).toMatch(
      /pi4-b .*has no pinned host key in .*known_hosts — refusing to connect/,
    );
    expect(reply.text).toMatch(/ssh-keyscan/);
    expect(lab.node('pi4-b').logins()).toBe(0);
  });

  it('a node presenting another key than the pinned one', async () => {
    const reply = (await runCommand(app, '/node reboot pi1')).last();
    expect(reply.severity).toBe('error');
    expect(reply.confirm).toBeUndefined();
    expect(`${reply.title} ${reply.text}`).toMatch(/host key/i);
    expect(lab.node('pi1').reboots()).toBe(0);
  });

  it('a pinned node gets its proposal; an operation started meanwhile refuses it at Confirm', async () => {
    const r = await runCommand(app, '/node reboot pi4-a');
    const code = r.last().confirm?.code;
    expect(code).toBeDefined();
    // Someone else starts a node operation before the Confirm.
    const release = (await app.services.nodeOps()).lock.acquire(
      'Reboot of pi1',
      'console:bob (bob)',
    );
    try {
      const answer = new RecordingResponder();
      await app.dispatcher.confirm(code!, consoleOps, answer);
      const all = [...answer.sent, ...r.sent].map((s) => s.reply);
      const refusal = all.find((x) => x.severity === 'error');
      expect(refusal?.title).toMatch(/Reboot of pi1.*console:bob/);
      expect(lab.node('pi4-a').reboots()).toBe(0);
    } finally {
      release();
    }
  });
});
