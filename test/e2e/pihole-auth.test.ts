/**
 * /pihole against Pi-holes that log in differently (pi-hole/FTL src/api/auth.c): one without a
 * password (`valid: true, sid: null`), and 429s that mean different things — `rate_limiting`
 * (wait and retry once) vs `api_seats_exceeded` (say how to free a seat; no retry).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { FakePihole } from '../fakes/pihole/fake-pihole.js';
import { runCommand, startApp, testConfig } from '../helpers/app-fixture.js';

let open: FakePihole;
let locked: FakePihole;
let app: App | undefined;

beforeAll(async () => {
  [open, locked] = await Promise.all([
    FakePihole.start({ password: '' }),
    FakePihole.start({ password: 'secret-pw' }),
  ]);
  const config = testConfig({
    access: { roles: { admin: { members: ['console:*'], allow: ['*'] } } },
    pihole: {
      instances: [
        { name: 'pi1', url: open.url },
        { name: 'pi2', url: locked.url, password: 'secret-pw' },
      ],
      timeoutMs: 2000,
    },
  });
  app = await startApp(config);
}, 30_000);

afterAll(async () => {
  await app?.stop();
  await Promise.all([open?.close(), locked?.close()]);
});

const run = (text: string) => runCommand(app!, text);
const field = (reply: { fields?: { name: string; value: string }[] }, name: string) =>
  reply.fields?.find((f) => f.name === name)?.value ?? '';

describe('a Pi-hole without a password', () => {
  it('shows its status, disables and enables blocking, without any session id', async () => {
    const status = (await run('/pihole status')).last();
    expect(status.severity).toBe('success');
    expect(field(status, 'pi1')).toContain('blocking on');
    expect(field(status, 'pi1')).toContain('12,345 queries today');

    const off = (await run('/pihole disable 5m pi1')).last();
    expect(off.title).toBe('Blocking disabled for 5m on pi1');
    expect(field(off, 'pi1')).toMatch(/^✔ disabled, back on in (4m 5\ds|5m)/);
    expect(open.blocking).toBe(false);
    const on = (await run('/pihole enable pi1')).last();
    expect(on.title).toBe('Blocking enabled on pi1');
    expect(open.blocking).toBe(true);

    // One login answered `sid: null`; no call carried a session id, and no seat was taken.
    expect(open.authRequests()).toHaveLength(1);
    expect(open.authRequests()[0]!.body).toEqual({ password: '' });
    expect(open.requests.filter((r) => r.sid !== undefined)).toEqual([]);
    expect(open.sessions.size).toBe(0);
  });
});

describe('429: rate limiting vs. no free seats', () => {
  it('waits out a short login rate limit and retries once: the user sees the status', async () => {
    locked.dropSessions();
    locked.rateLimitLoginsFor(500);
    const before = locked.authRequests().length;
    const reply = (await run('/pihole status')).last();
    expect(field(reply, 'pi2')).toContain('blocking on');
    expect(reply.severity).toBe('success');
    expect(locked.authRequests().length - before).toBe(2); // refused, then after ~1 s accepted
    expect(locked.rateLimitedLogins).toBe(1);
  });

  it('reports a persistent rate limit as such (not as full seats), after exactly one retry', async () => {
    locked.dropSessions();
    locked.rateLimitLoginsFor(5000);
    const before = locked.authRequests().length;
    const reply = (await run('/pihole disable 5m')).last();
    expect(reply.title).toBe('Blocking disabled for 5m on pi1; not on pi2');
    const pi2 = field(reply, 'pi2');
    expect(pi2).toMatch(/^✖ Pi-hole is refusing logins for now \(429 rate_limiting\)/);
    expect(pi2).toContain('Try again in a moment');
    expect(pi2).not.toContain('max_sessions');
    expect(locked.authRequests().length - before).toBe(2);
    expect(locked.blocking).toBe(true);
    locked.rateLimitLoginsFor(0);
    await run('/pihole enable');
  });

  it('says the sessions are full and how to free one, without retrying', async () => {
    locked.dropSessions();
    const others = locked.occupySeats(16);
    const before = locked.authRequests().length;
    try {
      const reply = (await run('/pihole status')).last();
      const pi2 = field(reply, 'pi2');
      expect(pi2).toMatch(/^✖ no free API session \(429 api_seats_exceeded\)/);
      expect(pi2).toContain('Log them out in Settings → Web interface / API');
      expect(pi2).toContain('webserver.api.max_sessions');
      expect(pi2).not.toContain('rate_limiting');
      expect(field(reply, 'pi1')).toContain('blocking on');
      expect(locked.authRequests().length - before).toBe(1);
    } finally {
      for (const sid of others) locked.sessions.delete(sid);
    }
  });

  it('logs out only the session it opened when the app stops', async () => {
    expect(field((await run('/pihole status')).last(), 'pi2')).toContain('blocking on');
    await app!.stop();
    app = undefined;
    const logouts = (f: FakePihole) =>
      f.requests.filter((q) => q.method === 'DELETE' && q.path === '/api/auth');
    expect(logouts(open)).toEqual([]);
    expect(logouts(locked)).toHaveLength(1);
    expect(locked.sessions.size).toBe(0);
  });
});
