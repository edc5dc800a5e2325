import { afterEach, describe, expect, it, vi } from 'vitest';
import { testCommands } from '../helpers/commands.js';
import {
  alice,
  bob,
  here,
  makeDispatcher,
  mallory,
  RecordingResponder,
} from '../helpers/dispatcher.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('dispatcher', () => {
  it('runs an allowed command and audits it', async () => {
    const { dispatcher, audit } = makeDispatcher(testCommands);
    const r = new RecordingResponder();
    await dispatcher.handleText('/task add title:"Fix DNS" priority:high', alice, here, r);
    expect(r.last()).toEqual({
      severity: 'success',
      title: 'Added Fix DNS',
      text: 'priority high',
    });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      platform: 'discord',
      user: { id: '111', name: 'alice' },
      conversation: 'chan-1',
      command: 'task add',
      args: { title: 'Fix DNS', priority: 'high' },
      decision: 'allowed',
      result: 'ok',
      roles: ['ops'],
    });
  });

  it('denies side effects without a role, explains why, runs nothing', async () => {
    const { dispatcher, audit } = makeDispatcher(testCommands);
    const r = new RecordingResponder();
    await dispatcher.handleText('!task add title:x', mallory, here, r);
    expect(r.sent).toHaveLength(1);
    expect(r.sent[0]!.ephemeral).toBe(true);
    expect(r.last().title).toBe('Not allowed: /task add title:x');
    expect(r.last().text).toContain('Roles that allow it: ops');
    expect(audit[0]).toMatchObject({ decision: 'denied', result: 'not-run' });
    // Read-only commands stay open.
    await dispatcher.handleText('/task list', mallory, here, r);
    expect(r.last().title).toBe('no tasks');
  });

  it('shows the plan and does nothing on dry_run:true', async () => {
    const { dispatcher, audit } = makeDispatcher(testCommands);
    const r = new RecordingResponder();
    await dispatcher.handleText('/task add title:x dry_run:true', alice, here, r);
    expect(r.last().title).toBe('Dry run: /task add title:x dry_run:true');
    expect(r.last().code).toBe('1. git commit -m "tasks: add x"');
    expect(audit[0]).toMatchObject({ decision: 'allowed', result: 'dry-run', dryRun: true });
  });

  it('makes configured commands dry runs by default, dry_run:false runs them', async () => {
    const { dispatcher } = makeDispatcher(testCommands, { dryRun: { commands: ['task.*'] } });
    const r = new RecordingResponder();
    await dispatcher.handleText('/task add x', alice, here, r);
    expect(r.last().title).toBe('Dry run: /task add title:x');
    expect(r.last().footer).toContain('dry_run:false');
    await dispatcher.handleText('/task add x dry_run:false', alice, here, r);
    expect(r.last().title).toBe('Added x');
  });

  it('proposes a destructive command and runs it only when the same user confirms', async () => {
    const { dispatcher, audit } = makeDispatcher(testCommands);
    const r = new RecordingResponder();
    await dispatcher.handleText('/node reboot pi4-a', alice, here, r);
    const proposal = r.last();
    expect(proposal.title).toBe('Confirm: /node reboot pi4-a');
    expect(proposal.code).toBe('1. ssh pi4-a sudo systemctl reboot');
    const code = proposal.confirm!.code;
    expect(proposal.buttons?.map((b) => b.id)).toEqual([`confirm:${code}`, `cancel:${code}`]);
    expect(audit).toHaveLength(0);

    const other = new RecordingResponder();
    await dispatcher.confirm(code, bob, other);
    expect(other.last().text).toBe(`Only the person who asked can confirm or cancel ${code}.`);
    expect(r.steps).toEqual([]);

    await dispatcher.confirm(code, alice, new RecordingResponder());
    expect(r.steps).toEqual(['rebooting pi4-a']);
    expect(r.last().title).toBe('pi4-a rebooted');
    expect(audit).toEqual([
      expect.objectContaining({ decision: 'confirmed', result: 'ok', command: 'node reboot' }),
    ]);

    // One-time: the code is gone.
    const again = new RecordingResponder();
    await dispatcher.confirm(code, alice, again);
    expect(again.last().text).toMatch(/no pending confirmation/);
  });

  it('cancels on request and audits it', async () => {
    const { dispatcher, audit } = makeDispatcher(testCommands);
    const r = new RecordingResponder();
    await dispatcher.handleText('/node reboot pi4-a', alice, here, r);
    await dispatcher.handleText(
      `/cancel ${r.last().confirm!.code}`,
      alice,
      here,
      new RecordingResponder(),
    );
    expect(r.last()).toMatchObject({
      title: 'Cancelled: /node reboot pi4-a',
      text: 'Nothing was done.',
    });
    expect(r.steps).toEqual([]);
    expect(audit[0]).toMatchObject({ decision: 'cancelled', result: 'not-run' });
  });

  it('expires a proposal after the timeout: nothing runs, the user is told', async () => {
    vi.useFakeTimers();
    const { dispatcher, audit } = makeDispatcher(testCommands, undefined, () => Date.now());
    const r = new RecordingResponder();
    await dispatcher.handleText('/node reboot pi4-a', alice, here, r);
    const code = r.last().confirm!.code;
    await vi.advanceTimersByTimeAsync(59_000);
    expect(audit).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1_500);
    expect(r.last()).toMatchObject({ title: 'Expired: /node reboot pi4-a' });
    expect(audit[0]).toMatchObject({ decision: 'expired', result: 'not-run' });
    const late = new RecordingResponder();
    await dispatcher.confirm(code, alice, late);
    expect(late.last().text).toMatch(/no pending confirmation/);
    expect(r.steps).toEqual([]);
  });

  it('answers internal errors with an id and no details; user errors as is', async () => {
    const { dispatcher, audit } = makeDispatcher(testCommands);
    const r = new RecordingResponder();
    await dispatcher.handleText('/node reboot boom', alice, here, r);
    await dispatcher.confirm(r.last().confirm!.code, alice, r);
    const shown = r.last();
    expect(shown.title).toBe('Something went wrong');
    expect(shown.text).not.toContain('10.0.0.5');
    const id = /error (E-[0-9a-f]{8})/.exec(shown.text!)![1];
    expect(audit[0]).toMatchObject({ decision: 'confirmed', result: 'error', errorId: id });

    await dispatcher.handleText('/node reboot nope', alice, here, r);
    await dispatcher.confirm(r.last().confirm!.code, alice, r);
    expect(r.last()).toMatchObject({ severity: 'error', title: 'nope is busy', text: 'try later' });
    expect(audit[1]).toMatchObject({
      decision: 'confirmed',
      result: 'user-error',
      message: 'nope is busy',
    });
  });

  it('audits invalid input without running anything', async () => {
    const { dispatcher, audit } = makeDispatcher(testCommands);
    const r = new RecordingResponder();
    await dispatcher.handleText('/tsak add x', alice, here, r);
    expect(r.last().title).toBe('Unknown command "tsak". Did you mean "task"?');
    expect(audit[0]).toMatchObject({ decision: 'invalid', result: 'user-error', command: 'tsak' });
  });
});
