/**
 * issue #12: `/node logs` reads any unit's journal with sudo, so `access.readOnly: open` does not
 * open it: without a role it is denied with a reason, and nothing reaches the node. /help says so.
 * The App in-process against a real sshd node (test/helpers/ssh-lab.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import type { ChatUser } from '../../src/core/invocation.js';
import { labOverrides, runCommand, startApp, testConfig } from '../helpers/app-fixture.js';
import { type SshLab, startSshLab } from '../helpers/ssh-lab.js';

const operator: ChatUser = { platform: 'discord', id: '111', displayName: 'ops' };
const visitor: ChatUser = { platform: 'discord', id: '666', displayName: 'eve' };

let lab: SshLab;
let app: App;

beforeAll(async () => {
  lab = await startSshLab({
    nodes: [{ name: 'pi4-a', os: 'raspios', roles: ['worker'], groups: ['pis'] }],
  });
  app = await startApp(
    testConfig({
      ...labOverrides(lab),
      access: {
        readOnly: 'open',
        roles: { operators: { members: ['discord:111'], allow: ['node.*'] } },
      },
    }),
  );
}, 60_000);

afterAll(async () => {
  await app?.stop();
  await lab?.stop();
});

describe('/node logs needs a role even when read-only commands are open', () => {
  it('denies a user without a role, says why and how to fix it, and runs nothing on the node', async () => {
    lab.node('pi4-a').clearCalls();
    const r = await runCommand(app, '/node logs pi4-a k3s-agent', visitor);
    const denied = r.last();
    expect(denied.severity).toBe('error');
    expect(denied.title).toBe('Not allowed: /node logs pi4-a unit:k3s-agent');
    expect(denied.text).toBe(
      'You (discord:666) have no role. node.logs needs a role although it changes nothing: it shows what only operators should see. Roles that allow it: operators. An admin can add "discord:666" to one of them under access.roles.<role>.members.',
    );
    expect(r.sent[0]?.ephemeral).toBe(true);
    expect(lab.node('pi4-a').calls()).toEqual([]);
    // Other read-only commands stay open to them.
    expect((await runCommand(app, '/node list', visitor)).last().title).toBe('1 nodes');
  });

  it('shows the journal to someone with a role', async () => {
    const r = await runCommand(app, '/node logs pi4-a k3s-agent lines:2', operator);
    expect(r.last().title).toBe('k3s-agent on pi4-a (last 2 lines)');
    expect(r.last().code).toContain('canned log line 2 of k3s-agent');
    expect(lab.node('pi4-a').calls('journalctl')).toHaveLength(1);
  });

  it('/help says it needs a role', async () => {
    const help = (await runCommand(app, '/help node logs', visitor)).last();
    expect(help.code).toContain(
      "A systemd unit's journal on a node (read-only, needs a role; permission node.logs)",
    );
    const list = (await runCommand(app, '/help node list', visitor)).last();
    expect(list.code).toContain('(read-only; permission node.list)');
  });
});
