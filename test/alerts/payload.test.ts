import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_ALERTS, MAX_VALUE_BYTES, parsePayload } from '../../src/alerts/payload.js';

// biome-ignore lint/suspicious/noExplicitAny: the tests break fixtures in every way on purpose
type Json = Record<string, any>;

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/alertmanager');
const fixture = (name: string) =>
  JSON.parse(readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8')) as Json;

/** A fixture with one change applied to a deep copy. */
function mutated(name: string, edit: (p: Json) => void): unknown {
  const p = fixture(name);
  edit(p);
  return p;
}

describe('parsePayload', () => {
  it.each(['firing-single', 'firing-critical', 'firing-truncated-group', 'resolved'])(
    'accepts the real Alertmanager capture %s as it is',
    (name) => {
      const result = parsePayload(fixture(name));
      expect(result).toEqual({ ok: true, payload: fixture(name) });
    },
  );

  it('accepts unknown fields (a newer Alertmanager) and leaves them out of the payload', () => {
    const result = parsePayload(
      mutated('firing-single', (p) => {
        p.tenant = 'lab';
        p.alerts[0].silenceURL = 'http://x';
      }),
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.payload).not.toHaveProperty('tenant');
    expect(result.payload.alerts[0]).not.toHaveProperty('silenceURL');
  });

  it('treats a missing truncatedAlerts (Alertmanager before 0.22) as none', () => {
    const result = parsePayload(mutated('firing-single', (p) => delete p.truncatedAlerts));
    expect(result.ok && result.payload.truncatedAlerts).toBe(0);
  });

  it('accepts values of exactly 64 KiB', () => {
    const body = mutated('firing-single', (p) => {
      p.alerts[0].annotations.description = 'x'.repeat(MAX_VALUE_BYTES);
    });
    expect(parsePayload(body).ok).toBe(true);
  });

  const bad: [string, unknown, string][] = [
    ['null', null, 'expected a JSON object, got null'],
    ['an array', [fixture('firing-single')], 'expected a JSON object, got an array'],
    ['a string', 'hello', 'expected a JSON object, got a string ("hello")'],
    ['a number', 4, 'expected a JSON object, got number 4'],
    [
      'an empty object',
      {},
      'version: required; receiver: required; status: required; alerts: required; groupLabels: required; (and 4 more)',
    ],
    [
      'version 3',
      mutated('firing-single', (p) => {
        p.version = '3';
      }),
      'version: expected "4", got "3"',
    ],
    [
      'version as a number',
      mutated('firing-single', (p) => {
        p.version = 4;
      }),
      'version: expected "4", got 4',
    ],
    [
      'a missing fingerprint',
      mutated('firing-truncated-group', (p) => {
        delete p.alerts[2].fingerprint;
      }),
      'alerts[2].fingerprint: required',
    ],
    [
      'an empty fingerprint',
      mutated('firing-single', (p) => {
        p.alerts[0].fingerprint = '';
      }),
      'alerts[0].fingerprint: must not be empty',
    ],
    [
      'an unknown status',
      mutated('firing-single', (p) => {
        p.status = 'pending';
      }),
      'status: expected one of "firing", "resolved", got "pending"',
    ],
    [
      'an alert status of the wrong type',
      mutated('firing-single', (p) => {
        p.alerts[0].status = true;
      }),
      'alerts[0].status: expected one of "firing", "resolved", got true',
    ],
    [
      'a label value that is a number',
      mutated('firing-single', (p) => {
        p.alerts[0].labels.severity = 5;
      }),
      'alerts[0].labels.severity: expected string, got number 5',
    ],
    [
      'a label key that is not an identifier',
      mutated('firing-single', (p) => {
        p.commonLabels['app.kubernetes.io/name'] = null;
      }),
      'commonLabels["app.kubernetes.io/name"]: expected string, got null',
    ],
    [
      'alerts as an object',
      mutated('firing-single', (p) => {
        p.alerts = { 0: p.alerts[0] };
      }),
      'alerts: expected array, got object',
    ],
    [
      'labels as an array',
      mutated('firing-single', (p) => {
        p.groupLabels = [];
      }),
      'groupLabels: expected object, got an array',
    ],
    [
      'a bad timestamp',
      mutated('firing-single', (p) => {
        p.alerts[0].startsAt = 'yesterday';
      }),
      'alerts[0].startsAt: expected an RFC 3339 timestamp',
    ],
    [
      'a negative truncatedAlerts',
      mutated('firing-single', (p) => {
        p.truncatedAlerts = -1;
      }),
      'truncatedAlerts: must be 0 or more',
    ],
    [
      'a fractional truncatedAlerts',
      mutated('firing-single', (p) => {
        p.truncatedAlerts = 1.5;
      }),
      'truncatedAlerts: expected int, got number 1.5',
    ],
    [
      'a value over 64 KiB',
      mutated('firing-single', (p) => {
        p.alerts[0].annotations.description = 'x'.repeat(MAX_VALUE_BYTES + 1);
      }),
      'alerts[0].annotations.description: longer than 64 KiB (65537 bytes)',
    ],
    [
      'a value over 64 KiB in UTF-8 bytes',
      mutated('firing-single', (p) => {
        p.commonAnnotations.summary = 'é'.repeat(MAX_VALUE_BYTES / 2 + 1);
      }),
      'commonAnnotations.summary: longer than 64 KiB (65538 bytes)',
    ],
    [
      'too many alerts',
      mutated('firing-single', (p) => {
        p.alerts = Array.from({ length: MAX_ALERTS + 1 }, () => p.alerts[0]);
      }),
      'alerts: at most 10000 alerts',
    ],
  ];
  it.each(bad)('refuses %s, naming the field', (_name, body, reason) => {
    expect(parsePayload(body)).toEqual({ ok: false, reason });
  });
});
