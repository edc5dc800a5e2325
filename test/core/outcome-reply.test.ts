import { describe, expect, it } from 'vitest';
import { outcomeReply, type TargetResult } from '../../src/core/outcome-reply.js';

type Blocking = { blocking: string };
const ok = (instance: string, blocking = 'disabled'): TargetResult<Blocking> => ({
  instance,
  ok: true,
  value: { blocking },
});
const down = (instance: string): TargetResult<Blocking> => ({
  instance,
  ok: false,
  error: 'cannot reach http://10.0.0.1 (ECONNREFUSED)',
  hint: 'Is pihole-FTL running?',
});
const wording = {
  done: 'Blocking disabled',
  notDone: 'Blocking was not disabled',
  noun: 'Pi-hole',
};
const disabled = (results: TargetResult<Blocking>[]) =>
  outcomeReply(
    results,
    wording,
    () => 'disabled',
    (v) => (v.blocking === 'disabled' ? undefined : `it still reports blocking ${v.blocking}`),
  );

describe('a reply for an action on several targets', () => {
  it('succeeds only when every target did it', () => {
    expect(disabled([ok('pi1'), ok('pi2')])).toEqual({
      severity: 'success',
      title: 'Blocking disabled on every Pi-hole',
      fields: [
        { name: 'pi1', value: '✔ disabled', inline: false },
        { name: 'pi2', value: '✔ disabled', inline: false },
      ],
    });
    expect(disabled([ok('pi1')]).title).toBe('Blocking disabled on pi1');
  });

  it('is an error naming each target and why when none did it', () => {
    const r = disabled([down('pi1'), ok('pi2', 'enabled')]);
    expect(r.severity).toBe('error');
    expect(r.title).toBe(
      'Blocking was not disabled on any Pi-hole: pi1: cannot reach http://10.0.0.1 (ECONNREFUSED), pi2: it still reports blocking enabled',
    );
    expect(r.fields?.map((f) => f.value)).toEqual([
      '✖ cannot reach http://10.0.0.1 (ECONNREFUSED)\nIs pihole-FTL running?',
      '✖ it still reports blocking enabled',
    ]);
    expect(disabled([down('pi3')]).title).toBe(
      'Blocking was not disabled on pi3: cannot reach http://10.0.0.1 (ECONNREFUSED)',
    );
  });

  it('is a warning saying which did and which did not otherwise', () => {
    const r = disabled([ok('pi1'), down('pi2'), ok('pi3')]);
    expect(r.severity).toBe('warning');
    expect(r.title).toBe('Blocking disabled on pi1, pi3; not on pi2');
    expect(r.text).toBe('1 of 3 Pi-holes failed; the others were acted on.');
  });

  it('keeps a read-only title and says "from" for a status', () => {
    const status = {
      done: 'Pi-hole status',
      notDone: 'No status',
      noun: 'Pi-hole',
      readOnly: true,
    };
    const partial = outcomeReply([ok('pi1'), down('pi2')], status, () => 'up');
    expect([partial.severity, partial.title, partial.text]).toEqual([
      'warning',
      'Pi-hole status',
      '1 of 2 Pi-holes failed.',
    ]);
    expect(outcomeReply([down('pi1'), down('pi2')], status, () => 'up').title).toBe(
      'No status from any Pi-hole: pi1: cannot reach http://10.0.0.1 (ECONNREFUSED), pi2: cannot reach http://10.0.0.1 (ECONNREFUSED)',
    );
  });
});
