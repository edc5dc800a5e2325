/**
 * The answer for each journaled kind that is not continued after a restart, as the person who
 * ran it sees it in its message and thread: the command, the node or app, where it stood, what
 * is left changed and what to run (the drain, the update and the reboots: test/e2e/ops-resume*).
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { drainLook } from '../../src/ops/drain-look.js';
import { OperationJournal, type OperationRecord } from '../../src/ops/journal.js';
import { Operations } from '../../src/ops/operations.js';
import { pickUp, type Resumer } from '../../src/ops/resume.js';
import { RecordingPublisher } from '../helpers/recording-publisher.js';
import { record, stateDir } from './records.js';

/** Picks `left` up after a restart; its message (text) and its thread lines. */
async function answerFor(left: OperationRecord, resumers: Record<string, Resumer> = {}) {
  const journal = new OperationJournal(stateDir(), silentLogger());
  await journal.write(left);
  const publisher = new RecordingPublisher();
  await publisher.post('ops', { title: left.title });
  const picked = await pickUp({
    operations: new Operations(journal, silentLogger()),
    publisher: () => publisher,
    resumers,
    log: silentLogger(),
  });
  await picked.go();
  const answer = publisher.current('1');
  return { answer, thread: publisher.thread('1').map((r) => r.text) };
}

describe('interrupted, not continued', () => {
  it('/node provision: it records no steps, so its thread is where it got to', async () => {
    const { answer, thread } = await answerFor(
      record({
        kind: 'node.provision',
        title: '/node provision pi4-b',
        target: 'pi4-b',
        command: '/node provision pi4-b',
      }),
    );
    expect(answer.title).toBe('Interrupted: /node provision pi4-b');
    expect(answer.text).toMatch(
      /^The bot restarted \(it was down about \d+ s\) while \/node provision pi4-b was running \(its thread shows how far it got\); it was not continued\. Nothing it changed is left changed\. The playbook is idempotent: \/node provision pi4-b runs it again\.$/,
    );
    expect(thread).toEqual(['› ⚠ interrupted while running. Nothing it changed is left changed.']);
  });

  it('/backup run: where restic was, and how to see whether it finished on the node', async () => {
    const { answer, thread } = await answerFor(
      record({
        kind: 'backup.run',
        title: '/backup run target:pi1',
        target: 'pi1',
        command: '/backup run target:pi1',
        step: { index: 43, total: 100, label: 'pi1 43%' },
      }),
    );
    expect(answer.title).toBe('Interrupted: /backup run target:pi1');
    expect(answer.text).toMatch(
      /^The bot restarted \(it was down about \d+ s\) while \/backup run target:pi1 was backing up \(pi1 43%\); it was not continued\. Nothing it changed is left changed\. The backup may still be running on the node: \/backup status pi1 shows its latest snapshot\.$/,
    );
    expect(thread).toEqual([
      '› ⚠ interrupted at step 44 (pi1 43%). Nothing it changed is left changed.',
    ]);
  });

  it('/node drain when the API cannot tell whether the node is cordoned: said so, both ways out', async () => {
    const look = drainLook({
      services: { nodeOps: async () => ({ kube: undefined }) },
      config: { inventory: { nodes: [{ name: 'pi4-a', k3sName: 'pi4-a' }] } },
    } as unknown as Parameters<typeof drainLook>[0]);
    const { answer, thread } = await answerFor(
      record({
        kind: 'node.drain',
        title: '/node drain pi4-a',
        target: 'pi4-a',
        command: '/node drain pi4-a',
      }),
      { 'node.drain': look },
    );
    expect(answer.text).toMatch(
      /^The bot restarted \(it was down about \d+ s\) while \/node drain pi4-a was draining pi4-a; it was not continued\. Still changed: pi4-a cordoned, unless someone uncordoned it \(it could not be read\)\. To finish the drain: \/node drain pi4-a\. To undo it: \/node uncordon pi4-a\.$/,
    );
    expect(thread).toEqual([
      '› ⚠ interrupted while draining pi4-a. Still changed: pi4-a cordoned, unless someone uncordoned it (it could not be read).',
    ]);
  });
});
