/**
 * pickUp with an operation that ran as a step of another (a Pi's reboot during /node update):
 * the nested one goes first and hands its answer over; the update answers once, for both, in the
 * message they share — here when the reboot cannot go on (it was not sent before the kill).
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { updateResumer } from '../../src/nodes/update-resume.js';
import { OperationJournal } from '../../src/ops/journal.js';
import { Operations } from '../../src/ops/operations.js';
import { pickUp, type Resumer } from '../../src/ops/resume.js';
import { RecordingPublisher } from '../helpers/recording-publisher.js';
import { record, stateDir } from './records.js';

/** The reboot resumer's answer for a reboot that was not sent: not continued, still cordoned. */
const notSent: Resumer = {
  async run(op, _report, ctx) {
    await op.note({ changed: ['pi4-a cordoned'] });
    await ctx.interrupt(
      'The bot restarted (down about 3 s) during step 3 of 7 (reboot over SSH), before the reboot was sent, so it was not continued.',
      'To finish: /node reboot pi4-a. To undo: /node uncordon pi4-a.',
    );
  },
};

describe('an update and the reboot it was running, picked up together', () => {
  it('the update answers for both: the reboot not continued, pi4-a still cordoned, pi4-b not touched', async () => {
    const journal = new OperationJournal(stateDir(), silentLogger());
    await journal.write(
      record({
        id: 'op-0000aa',
        data: {
          nodes: 'pi4-a,pi4-b',
          node: 'pi4-a',
          phase: 'reboot',
          lines: '',
          pending: '',
          unknown: '',
        },
        step: { index: 2, total: 7, label: 'reboot over SSH' },
      }),
    );
    await journal.write(
      record({
        id: 'op-0000bb',
        kind: 'node.reboot',
        title: 'Reboot of pi4-a',
        target: 'pi4-a',
        parent: 'op-0000aa',
        step: { index: 2, total: 7, label: 'reboot over SSH' },
        changed: ['pi4-a cordoned'],
      }),
    );
    const publisher = new RecordingPublisher();
    await publisher.post('ops', { title: '/node update target:pis' });
    const operations = new Operations(journal, silentLogger());
    const picked = await pickUp({
      operations,
      publisher: () => publisher,
      resumers: { 'node.reboot': notSent, 'node.update': updateResumer() },
      log: silentLogger(),
    });
    await picked.go();

    const edits = publisher.roots[0]!.edits;
    expect(edits.map((e) => e.title)).toEqual(['Interrupted: /node update target:pis']);
    const answer = edits[0]!;
    expect(answer.text).toMatch(
      /^The bot restarted \(it was down about \d+ s\) while pi4-a was rebooting after its update \(step 3 of 7 of the reboot: reboot over SSH\)\. The reboot was not continued either\. The update was not continued: pi4-b not touched\. Still changed: pi4-a cordoned\.$/,
    );
    expect(answer.fields?.map((f) => f.name)).toEqual(['Nodes', 'The reboot', 'Operation']);
    expect(answer.fields?.[0]?.value).toBe(
      'pi4-a: updated; the reboot it asked for was not continued after the restart',
    );
    expect(answer.fields?.[1]?.value).toContain('To undo: /node uncordon pi4-a.');
    expect(publisher.thread('1').map((r) => r.text)).toEqual([
      '› ⚠ interrupted at step 3 (reboot over SSH). Still changed: pi4-a cordoned.',
      '› ⚠ interrupted at step 1 (reboot of pi4-a after its update). Still changed: pi4-a cordoned.',
    ]);
    const { interrupted } = operations.list();
    expect(interrupted.map((r) => r.id).sort()).toEqual(['op-0000aa', 'op-0000bb']);
  });
});
