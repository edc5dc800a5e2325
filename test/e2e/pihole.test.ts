/**
 * /pihole end to end: the App in-process against three fake Pi-hole v6 APIs (pi1–pi3).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { FakePihole } from '../fakes/pihole/fake-pihole.js';
import { runCommand, startApp, testConfig } from '../helpers/app-fixture.js';

let fakes: FakePihole[];
let app: App | undefined;
const NAMES = ['pi1', 'pi2', 'pi3'];

beforeAll(async () => {
  fakes = await Promise.all(NAMES.map(() => FakePihole.start({ password: 'secret-pw' })));
  const config = testConfig({
    access: { roles: { admin: { members: ['console:*'], allow: ['*'] } } },
    pihole: {
      instances: NAMES.map((name, i) => ({ name, url: fakes[i]!.url, password: 'secret-pw' })),
      timeoutMs: 2000,
    },
  });
  app = await startApp(config);
}, 30_000);

afterAll(async () => {
  await app?.stop();
  await Promise.all((fakes ?? []).map((f) => f.close()));
});

const run = (text: string) => runCommand(app!, text);

const field = (reply: { fields?: { name: string; value: string }[] }, name: string) =>
  reply.fields?.find((f) => f.name === name)?.value ?? '';
const pi = (name: string) => fakes[NAMES.indexOf(name)]!;

describe('/pihole against three fake Pi-hole v6 APIs', () => {
  it('shows the status of every instance', async () => {
    const reply = (await run('/pihole status')).last();
    expect(reply.title).toBe('Pi-hole status');
    expect(reply.severity).toBe('success');
    expect(reply.fields?.map((f) => f.name)).toEqual(NAMES);
    const v = field(reply, 'pi2');
    expect(v).toContain('blocking on');
    expect(v).toContain('12,345 queries today, 20.0% blocked');
    expect(v).toContain('123,456 domains on the block list');
    expect(v).toMatch(/gravity updated \d{4}-\d\d-\d\d \d\d:\d\d UTC \(72h ago\)/);
  });

  it('disables blocking for 5m on all; each shows disabled with its timer', async () => {
    const reply = (await run('/pihole disable 5m')).last();
    expect(reply.severity).toBe('success');
    for (const n of NAMES) {
      expect(pi(n).blocking).toBe(false);
      expect(pi(n).timerRemaining()).toBeGreaterThan(290);
      expect(field(reply, n)).toMatch(/^✔ disabled, back on in 4m 5\ds|^✔ disabled, back on in 5m/);
    }
    const status = (await run('/pihole status')).last();
    expect(status.severity).toBe('warning');
    for (const n of NAMES)
      expect(field(status, n)).toMatch(/blocking OFF \(back on in (4m 5\ds|5m)\)/);
    await run('/pihole enable');
    for (const n of NAMES) expect(pi(n).blocking).toBe(true);
  });

  it("re-enables by Pi-hole's own timer", async () => {
    await run('/pihole disable 1s pi1');
    expect(pi('pi1').blocking).toBe(false);
    expect(pi('pi2').blocking).toBe(true);
    await new Promise((r) => setTimeout(r, 1300));
    expect(pi('pi1').blocking).toBe(true);
    expect(field((await run('/pihole status')).last(), 'pi1')).toContain('blocking on');
  });

  it('refuses bad durations and unknown instances', async () => {
    const before = fakes.map((f) => f.requests.length);
    const long = (await run('/pihole disable 2d')).last();
    expect(long.severity).toBe('error');
    expect(`${long.title} ${long.text}`).toMatch(/"2d" is not a duration from 1s to 1d/);
    const unknown = (await run('/pihole disable 5m pi9')).last();
    expect(`${unknown.title} ${unknown.text}`).toMatch(/no Pi-hole "pi9"/);
    expect(fakes.map((f) => f.requests.length)).toEqual(before);
  });

  it('reports an instance that is down while acting on the others', async () => {
    await pi('pi3').stop();
    try {
      const reply = (await run('/pihole disable 5m')).last();
      expect(reply.severity).toBe('warning');
      expect(reply.title).toBe('Blocking disabled for 5m on pi1, pi2; not on pi3');
      expect(reply.text).toBe('1 of 3 Pi-holes failed; the others were acted on.');
      expect(field(reply, 'pi3')).toMatch(
        /^✖ cannot reach http:\/\/127\.0\.0\.1:\d+ \((ECONNREFUSED|ECONNRESET)\)/,
      );
      expect(pi('pi1').blocking).toBe(false);
      expect(pi('pi2').blocking).toBe(false);
      const status = (await run('/pihole status')).last();
      expect(field(status, 'pi3')).toContain('cannot reach');
      expect(field(status, 'pi1')).toContain('blocking OFF');
    } finally {
      await pi('pi3').listen();
      await run('/pihole enable');
    }
    expect(fakes.every((f) => f.blocking)).toBe(true);
  });

  it('reports a failure, not "Blocking disabled", when no Pi-hole could act', async () => {
    await Promise.all(fakes.map((f) => f.stop()));
    const down = /cannot reach http:\/\/127\.0\.0\.1:\d+ \((ECONNREFUSED|ECONNRESET)\)/.source;
    try {
      const off = (await run('/pihole disable 5m')).last();
      expect(off.severity).toBe('error');
      expect(off.title).toMatch(
        new RegExp(
          `^Blocking was not disabled on any Pi-hole: pi1: ${down}, pi2: ${down}, pi3: ${down}$`,
        ),
      );
      expect(JSON.stringify(off)).not.toContain('Blocking disabled');
      for (const n of NAMES) expect(field(off, n)).toMatch(new RegExp(`^✖ ${down}`));

      const on = (await run('/pihole enable')).last();
      expect(on.severity).toBe('error');
      expect(on.title).toMatch(/^Blocking was not enabled on any Pi-hole: pi1: cannot reach/);

      const one = (await run('/pihole disable 5m pi2')).last();
      expect(one.severity).toBe('error');
      expect(one.title).toMatch(new RegExp(`^Blocking was not disabled on pi2: ${down}$`));

      const block = (await run('/pihole block ads.example.net')).last();
      expect(block.severity).toBe('error');
      expect(block.title).toMatch(/^ads\.example\.net was not blocked on any Pi-hole: pi1: /);

      const status = (await run('/pihole status')).last();
      expect(status.severity).toBe('error');
      expect(status.title).toMatch(/^No status from any Pi-hole: pi1: cannot reach/);
    } finally {
      await Promise.all(fakes.map((f) => f.listen()));
    }
    expect(fakes.every((f) => f.blocking)).toBe(true);
  });

  it('blocks, allows and unblocks domains: visible in every fake', async () => {
    let reply = (await run('/pihole block ads.example.com')).last();
    expect(reply.severity).toBe('success');
    for (const f of fakes) {
      expect(f.lists.deny.get('ads.example.com')).toBe('added from chat by console:ops (ops)');
    }
    reply = (await run('/pihole block ads.example.com')).last();
    expect(field(reply, 'pi1')).toBe('✔ already on the deny (block) list');
    await run('/pihole allow Cdn.Example.org');
    for (const f of fakes) expect(f.lists.allow.has('cdn.example.org')).toBe(true);
    reply = (await run('/pihole unblock ads.example.com')).last();
    expect(field(reply, 'pi2')).toBe('✔ removed');
    for (const f of fakes) expect(f.lists.deny.has('ads.example.com')).toBe(false);
    reply = (await run('/pihole unblock ads.example.com')).last();
    expect(field(reply, 'pi2')).toBe('✔ was not on the deny (block) list');
  });

  it('refuses invalid domains and sends nothing', async () => {
    const before = fakes.map((f) => f.requests.length);
    for (const bad of ['http://ads.example.com', 'ads.example.com/path', 'localhost', 'a_b.com']) {
      const reply = (await run(`/pihole block ${bad}`)).last();
      expect(reply.severity, bad).toBe('error');
      expect(JSON.stringify(reply), bad).toContain('a domain name like ads.example.com');
    }
    const spaced = (await run('/pihole block "ads example.com"')).last();
    expect(spaced.severity).toBe('error');
    expect(fakes.map((f) => f.requests.length)).toEqual(before);
  });

  it('shows the exact API calls per instance on a dry run, without sending them', async () => {
    const before = fakes.map((f) => f.requests.length);
    const reply = (await run('/pihole disable 10m pi2 dry_run:true')).last();
    const text = JSON.stringify(reply);
    expect(text).toContain(
      `pi2: POST ${pi('pi2').url}/api/dns/blocking {\\"blocking\\":false,\\"timer\\":600}`,
    );
    expect(text).not.toContain('pi1:');
    const block = JSON.stringify((await run('/pihole block ads.example.com dry_run:true')).last());
    for (const n of NAMES)
      expect(block).toContain(`${n}: POST ${pi(n).url}/api/domains/deny/exact`);
    expect(fakes.map((f) => f.requests.length)).toEqual(before);
  });

  it('updates gravity with progress lines from every instance', async () => {
    const r = await run('/pihole gravity');
    expect(r.last().severity).toBe('success');
    for (const n of NAMES) {
      expect(r.steps).toContain(`${n}: [✓] Pulling blocklist source list into range`);
      expect(r.steps).toContain(`${n}: [✓] Done.`);
      expect(field(r.last(), n)).toBe('✔ done (7 lines of output)');
    }
    expect(r.progressed.length).toBeGreaterThan(1);
    expect(r.progressed.at(-1)?.text).toContain('pi1: [✓] Done.');
  });

  it('answers the seat limit clearly', async () => {
    const f = pi('pi2');
    f.dropSessions();
    const others = f.occupySeats(16);
    try {
      const reply = (await run('/pihole status')).last();
      expect(reply.severity).toBe('warning');
      expect(field(reply, 'pi2')).toMatch(/^✖ no free API session \(429 api_seats_exceeded\)/);
      expect(field(reply, 'pi2')).toContain('max_sessions');
      expect(field(reply, 'pi1')).toContain('blocking on');
    } finally {
      for (const sid of others) f.sessions.delete(sid);
    }
    expect(field((await run('/pihole status')).last(), 'pi2')).toContain('blocking on');
  });

  it('reuses one session per instance and logs it out when the app stops', async () => {
    // pi2 logged in again after its sessions were dropped; the others only once.
    expect(pi('pi1').authRequests()).toHaveLength(1);
    expect(pi('pi3').authRequests()).toHaveLength(1);
    expect(pi('pi2').authRequests()).toHaveLength(3); // first, refused (429), again
    const sid1 = pi('pi1')
      .requests.filter((q) => q.path !== '/api/auth')
      .map((q) => q.sid);
    expect(new Set(sid1).size).toBe(1);
    expect(pi('pi1').sessions.size).toBe(1);
    await app!.stop();
    app = undefined;
    for (const f of fakes) {
      const del = f.requests.filter((q) => q.method === 'DELETE' && q.path === '/api/auth');
      expect(del).toHaveLength(1);
      expect(f.sessions.size).toBe(0);
    }
  });
});
