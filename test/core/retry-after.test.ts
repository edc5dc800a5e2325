import { describe, expect, it } from 'vitest';
import { retryAfterMs } from '../../src/core/retry-after.js';

describe('Retry-After (RFC 9110 §10.2.3)', () => {
  const now = Date.parse('Fri, 04 Dec 2026 22:00:00 GMT');

  it('delay-seconds: that many seconds, surrounding spaces ignored', () => {
    expect(retryAfterMs('120', now)).toBe(120_000);
    expect(retryAfterMs(' 5 ', now)).toBe(5_000);
    expect(retryAfterMs('0', now)).toBe(0);
  });

  it('an HTTP-date in the future: the time until then', () => {
    expect(retryAfterMs('Fri, 04 Dec 2026 22:00:30 GMT', now)).toBe(30_000);
  });

  it('an HTTP-date in the past: no wait', () => {
    expect(retryAfterMs('Fri, 04 Dec 2026 21:59:00 GMT', now)).toBe(0);
  });

  it('garbage or an empty value: unreadable, so undefined', () => {
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs('', now)).toBeUndefined();
    expect(retryAfterMs('   ', now)).toBeUndefined();
  });

  it('absent (Headers.get gives null): undefined', () => {
    expect(retryAfterMs(null, now)).toBeUndefined();
    expect(retryAfterMs(undefined, now)).toBeUndefined();
  });
});
