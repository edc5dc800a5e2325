/**
 * The Alertmanager client against the real `prometheus-alertmanager` binary (see
 * test/helpers/alertmanager.ts): silences made from a real webhook payload, expiry, errors, and
 * how Alertmanager retries its webhook.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AlertmanagerClient,
  AlertmanagerError,
  formatMatcher,
  groupMatchers,
  parseDuration,
} from '../../src/alerts/alertmanager-client.js';
import { UserError } from '../../src/core/errors.js';
import { freePort, type RunningAlertmanager, startAlertmanager } from '../helpers/alertmanager.js';
import { rejection } from '../helpers/rejection.js';

/** The parts of a webhook notification (payload version 4) these tests read. */
interface Notification {
  status: 'firing' | 'resolved';
  alerts: { status: string; labels: Record<string, string>; endsAt: string }[];
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  externalURL: string;
  truncatedAlerts: number;
  version: string;
}

interface Received {
  at: number;
  path: string;
  authorization: string | undefined;
  answered: number;
  payload: Notification;
}

/** A webhook receiver that answers with the status in the group's `answer` label (default 200). */
async function startReceiver() {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const payload = JSON.parse(body) as Notification;
      const answered = Number(payload.commonLabels.answer ?? 200);
      received.push({
        at: Date.now(),
        path: req.url ?? '',
        authorization: req.headers.authorization,
        answered,
        payload,
      });
      res.statusCode = answered;
      res.end(answered < 300 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    received,
    url: `http://127.0.0.1:${port}/hooks/alertmanager`,
    of: (alertname: string) =>
      received.filter((r) => r.payload.groupLabels.alertname === alertname),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

type Maybe<T> = T | undefined | false;

async function waitFor<T>(
  what: string,
  probe: () => Maybe<T> | Promise<Maybe<T>>,
  timeoutMs = 8000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('parseDuration', () => {
  it.each([
    ['1h', 3_600_000],
    ['30m', 1_800_000],
    ['2h30m', 9_000_000],
    ['1d', 86_400_000],
    ['90s', 90_000],
    [' 2h 30m ', 9_000_000],
    ['1w', 604_800_000],
    ['30d', 2_592_000_000],
  ])('%s → %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '30', 'soon', '1.5h', '30m2h', 'h', '-1h', '1y', '1M'])(
    'refuses %j with an example',
    (text) => {
      const err = (() => {
        try {
          parseDuration(text);
        } catch (e) {
          return e;
        }
      })() as UserError;
      expect(err).toBeInstanceOf(UserError);
      expect(err.message).toMatch(/is not a duration/);
      expect(err.hint).toBe('e.g. 30m, 2h, 2h30m, 1d (from 1 minute to 30 days)');
    },
  );

  it('keeps silences between 1 minute and 30 days', () => {
    expect(() => parseDuration('59s')).toThrow(/59s is too short: at least 1 minute/);
    expect(() => parseDuration('31d')).toThrow(/31d is too long: at most 30 days/);
    expect(() => parseDuration('30d1s')).toThrow(UserError);
  });
});

describe('groupMatchers', () => {
  it('matches the group labels exactly, sorted by name', () => {
    expect(
      groupMatchers(
        { namespace: 'lab', alertname: 'DiskFull' },
        { alertname: 'DiskFull', namespace: 'lab', severity: 'warning' },
      ),
    ).toEqual([
      { name: 'alertname', value: 'DiskFull', isRegex: false, isEqual: true },
      { name: 'namespace', value: 'lab', isRegex: false, isEqual: true },
    ]);
  });

  it('falls back to the common labels when the route groups by nothing', () => {
    expect(groupMatchers({}, { alertname: 'NodeDown', severity: 'critical' })).toEqual([
      { name: 'alertname', value: 'NodeDown', isRegex: false, isEqual: true },
      { name: 'severity', value: 'critical', isRegex: false, isEqual: true },
    ]);
    expect(() => groupMatchers({}, {})).toThrow(/no labels in common/);
  });

  it('formats matchers in the filter syntax', () => {
    expect(formatMatcher({ name: 'q', value: 'say "hi"\\', isRegex: false, isEqual: true })).toBe(
      'q="say \\"hi\\"\\\\"',
    );
    expect(formatMatcher({ name: 'node', value: 'pi4-.*', isRegex: true, isEqual: false })).toBe(
      'node!~"pi4-.*"',
    );
  });
});

describe('errors without an Alertmanager', () => {
  it('says that an unreachable Alertmanager is not reachable, at once', async () => {
    const port = await freePort(); // closed again: nothing listens there
    const client = new AlertmanagerClient({ url: `http://127.0.0.1:${port}`, timeoutMs: 5000 });
    const started = Date.now();
    const err = (await rejection(client.silences())) as UserError;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toBe(
      `Alertmanager at http://127.0.0.1:${port} is not reachable (ECONNREFUSED); check alerts.alertmanager.url`,
    );
    expect(err.hint).toBe(`while listing silences (GET http://127.0.0.1:${port}/api/v2/silences)`);
  });

  it('gives up after the timeout, and sends the configured credentials', async () => {
    const seen: (string | undefined)[] = [];
    const server = http.createServer((req, res) => {
      seen.push(req.headers.authorization);
      if (req.url?.startsWith('/slow')) return; // never answers
      if (req.headers.authorization === 'Bearer wrong') {
        res.statusCode = 401;
        res.end('Unauthorized');
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end('{"versionInfo":{"version":"0.25.0"}}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const slow = new AlertmanagerClient({ url: `${base}/slow`, timeoutMs: 300 });
      const started = Date.now();
      const err = await rejection(slow.status());
      expect(Date.now() - started).toBeLessThan(2000);
      expect(err).toBeInstanceOf(UserError);
      expect(err.message).toBe(
        `Alertmanager at ${base}/slow did not answer within 300 ms; check alerts.alertmanager.url`,
      );

      await new AlertmanagerClient({ url: base, token: 's3cret' }).status();
      await new AlertmanagerClient({
        url: `${base}/`,
        basicAuth: { username: 'bot', password: 'pw' },
      }).status();
      const inUrl = new AlertmanagerClient({ url: base.replace('//', '//bot:p%40ss@') });
      expect(inUrl.url).toBe(base);
      expect(await inUrl.status()).toEqual({ versionInfo: { version: '0.25.0' } });
      expect(seen.slice(1)).toEqual([
        'Bearer s3cret',
        `Basic ${Buffer.from('bot:pw').toString('base64')}`,
        `Basic ${Buffer.from('bot:p@ss').toString('base64')}`,
      ]);

      const denied = await rejection(
        new AlertmanagerClient({ url: base, token: 'wrong' }).status(),
      );
      expect(denied).toBeInstanceOf(UserError);
      expect(denied.message).toBe(`Alertmanager at ${base} refused the bot's credentials (401)`);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('does not follow a redirect (an authenticating proxy sending to its login page): says where it leads', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(302, { location: 'https://sso.example/login?rd=%2Fapi%2Fv2%2Fsilences' });
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const err = (await rejection(new AlertmanagerClient({ url: base }).silences())) as UserError;
      expect(err).toBeInstanceOf(UserError);
      expect(err.message).toBe(
        `Alertmanager at ${base} answered 302, a redirect to https://sso.example/login?rd=%2Fapi%2Fv2%2Fsilences the bot does not follow; check alerts.alertmanager.url`,
      );
      expect(err.hint).toBe(
        `while listing silences (GET ${base}/api/v2/silences); behind a proxy, check alerts.alertmanager.token / basicAuth too`,
      );
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('shows why Alertmanager did not start (its stderr)', async () => {
    const err = await rejection(
      startAlertmanager({ webhookUrl: 'http://127.0.0.1:9/hooks/alertmanager', groupWait: 'soon' }),
    );
    expect(err.message).toMatch(/exited before it was ready \(code 1/);
    expect(err.message).toMatch(
      /--- its stderr ---\n[\s\S]*not a valid duration string: \\"soon\\"/,
    );
  });

  it('refuses a URL that is not one', () => {
    expect(() => new AlertmanagerClient({ url: 'alertmanager:9093' })).toThrow(UserError);
    expect(() => new AlertmanagerClient({ url: 'not a url' })).toThrow(/is not a valid URL/);
  });
});

describe('against the real Alertmanager', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let am: RunningAlertmanager;

  beforeAll(async () => {
    receiver = await startReceiver();
    am = await startAlertmanager({
      webhookUrl: receiver.url,
      token: 'hook-secret',
      groupWait: '1s',
      groupInterval: '2s',
    });
  });
  afterAll(async () => {
    await am?.stop();
    await receiver?.close();
  });

  it('reports its version, clustering off', async () => {
    const status = await am.client.status();
    expect(status.versionInfo?.version).toMatch(/^0\.\d+\.\d+/);
    expect(status.cluster?.status).toBe('disabled');
  });

  it('silences exactly the group of a real webhook notification, and expires the silence', async () => {
    const lab = { alertname: 'DiskFull', namespace: 'lab', severity: 'warning' };
    await am.push([
      { labels: { ...lab, node: 'pi5' }, annotations: { summary: 'disk 91% full' } },
      { labels: { ...lab, node: 'pi4-a' }, generatorURL: 'http://prometheus:9090/graph' },
      { labels: { alertname: 'DiskFull', namespace: 'media', node: 'x86', severity: 'warning' } },
    ]);
    const hook = await waitFor('the lab group notification', () =>
      receiver.of('DiskFull').find((r) => r.payload.groupLabels.namespace === 'lab'),
    );
    expect(hook.path).toBe('/hooks/alertmanager');
    expect(hook.authorization).toBe('Bearer hook-secret');
    expect(hook.payload).toMatchObject({
      version: '4',
      status: 'firing',
      groupLabels: { alertname: 'DiskFull', namespace: 'lab' },
      commonLabels: lab,
      externalURL: am.url,
      truncatedAlerts: 0,
    });
    expect(hook.payload.alerts.map((a) => a.labels.node).sort()).toEqual(['pi4-a', 'pi5']);
    expect(hook.payload.alerts[0]?.endsAt).toBe('0001-01-01T00:00:00Z');

    const matchers = groupMatchers(hook.payload.groupLabels, hook.payload.commonLabels);
    const before = Date.now();
    const id = await am.client.createSilence({
      matchers,
      endsAt: new Date(Date.now() + parseDuration('1h')),
      createdBy: 'alice (discord)',
      comment: 'A-1: replacing the disk',
    });
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

    const [silence] = (await am.silences()).filter((s) => s.id === id);
    expect(silence).toMatchObject({
      id,
      status: { state: 'active' },
      createdBy: 'alice (discord)',
      comment: 'A-1: replacing the disk',
      matchers: [
        { name: 'alertname', value: 'DiskFull', isRegex: false, isEqual: true },
        { name: 'namespace', value: 'lab', isRegex: false, isEqual: true },
      ],
    });
    const ends = Date.parse(silence!.endsAt) - before;
    expect(ends).toBeGreaterThan(3_590_000);
    expect(ends).toBeLessThan(3_610_000);
    expect((await am.client.silences(matchers)).map((s) => s.id)).toEqual([id]);
    expect(
      await am.client.silences([
        { name: 'namespace', value: 'media', isRegex: false, isEqual: true },
      ]),
    ).toEqual([]);

    // Both lab alerts become silenced by it; the media alert (another group) does not.
    const onlySilenced = {
      active: false,
      silenced: true,
      inhibited: false,
      filter: ['alertname="DiskFull"'],
    };
    const silenced = await waitFor('the lab alerts to be silenced', async () => {
      const alerts = await am.client.alerts(onlySilenced);
      return alerts.length === 2 ? alerts : undefined;
    });
    for (const alert of silenced) {
      expect(alert.labels.namespace).toBe('lab');
      expect(alert.status).toEqual({ state: 'suppressed', silencedBy: [id], inhibitedBy: [] });
      expect(alert.receivers).toEqual([{ name: 'bot' }]);
      expect(alert.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    }
    const pi4 = silenced.find((a) => a.labels.node === 'pi4-a')!;
    const pi5 = silenced.find((a) => a.labels.node === 'pi5')!;
    expect(pi4.generatorURL).toBe('http://prometheus:9090/graph');
    expect(pi5.generatorURL).toBeUndefined();
    expect(pi5.annotations).toEqual({ summary: 'disk 91% full' });
    // While firing, the API shows endsAt = last update + resolve_timeout (5m).
    expect(Date.parse(pi5.endsAt) - Date.parse(pi5.updatedAt)).toBe(5 * 60_000);
    const active = await am.client.alerts({ silenced: false, filter: ['alertname="DiskFull"'] });
    expect(active.map((a) => a.labels.namespace)).toEqual(['media']);

    await am.client.expireSilence(id);
    const expired = (await am.silences()).find((s) => s.id === id);
    expect(expired?.status.state).toBe('expired');
    await waitFor('the lab alerts to fire unsilenced again', async () => {
      const alerts = await am.client.alerts({ silenced: false, filter: ['namespace="lab"'] });
      return alerts.length === 2 && alerts.every((a) => a.status.state === 'active');
    });
    // Expiring it again is fine for Alertmanager (200).
    await am.client.expireSilence(id);
  });

  it('refuses to expire a silence that does not exist, as a UserError', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000';
    const err = (await rejection(am.client.expireSilence(unknown))) as UserError;
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toBe(`silence ${unknown} not found (already expired?)`);

    const notAnId = await rejection(am.client.expireSilence('A-12'));
    expect(notAnId).toBeInstanceOf(UserError);
    expect(notAnId.message).toBe('"A-12" is not a silence id');
  });

  it('says what it attempted when Alertmanager refuses a silence', async () => {
    const err = (await rejection(
      am.client.createSilence({
        matchers: [{ name: 'node', value: '(', isRegex: true, isEqual: true }],
        endsAt: new Date(Date.now() + 60_000),
        createdBy: 'alice',
        comment: 'bad regex',
      }),
    )) as AlertmanagerError;
    expect(err).toBeInstanceOf(AlertmanagerError);
    expect(err).not.toBeInstanceOf(UserError);
    expect(err.status).toBe(400);
    expect(err.message).toMatch(
      new RegExp(
        `^while creating a silence on ${am.url}/api/v2/silences: 400 silence invalid: invalid label matcher 0: invalid regular expression`,
      ),
    );

    // What a user gets wrong is caught before it is sent.
    const past = await rejection(
      am.client.createSilence({
        matchers: [{ name: 'alertname', value: 'X', isRegex: false, isEqual: true }],
        endsAt: new Date(Date.now() - 1000),
        createdBy: 'alice',
        comment: '',
      }),
    );
    expect(past).toBeInstanceOf(UserError);
    expect(past.message).toMatch(/^a silence must end in the future/);
    const matchesAll = await rejection(
      am.client.createSilence({
        matchers: [{ name: 'node', value: '.*', isRegex: true, isEqual: true }],
        endsAt: new Date(Date.now() + 60_000),
        createdBy: 'alice',
        comment: '',
      }),
    );
    expect(matchesAll).toBeInstanceOf(UserError);
  });

  it('sends the resolved notification at the next group_interval tick after resolve()', async () => {
    const labels = { alertname: 'PiholeDown', namespace: 'dns', node: 'pi1' };
    const pushed = Date.now();
    await am.push([{ labels }]);
    const firing = await waitFor('the firing notification', () => receiver.of('PiholeDown')[0]);
    // group_wait 1s.
    expect(firing.at - pushed).toBeGreaterThanOrEqual(900);
    expect(firing.at - pushed).toBeLessThan(2500);
    expect(firing.payload.status).toBe('firing');

    const resolvedAt = Date.now();
    await am.resolve([{ labels }]);
    const resolved = await waitFor('the resolved notification', () =>
      receiver.of('PiholeDown').find((r) => r.payload.status === 'resolved'),
    );
    // Sent on the group's group_interval (2s) ticks, counted from the first flush.
    expect(resolved.at - resolvedAt).toBeLessThan(2800);
    const offTick = (resolved.at - firing.at) % 2000;
    expect(Math.min(offTick, 2000 - offTick)).toBeLessThan(300);
    expect(resolved.payload.alerts).toMatchObject([{ status: 'resolved', labels }]);
    expect(Date.parse(resolved.payload.alerts[0]!.endsAt)).toBeGreaterThanOrEqual(resolvedAt - 5);
    expect(await am.client.alerts({ filter: ['alertname="PiholeDown"'] })).toEqual([]);
  });

  it('retries a webhook answer of 5xx, but not of 4xx (that group waits for the next group_interval)', async () => {
    await am.push([
      { labels: { alertname: 'Rejected', namespace: 'lab', answer: '400' } },
      { labels: { alertname: 'Failing', namespace: 'lab', answer: '503' } },
    ]);
    const first = await waitFor('the first 400', () => receiver.of('Rejected')[0]);
    // 5xx: retried within the same flush, with backoff (first retry after 0.25–0.75 s).
    const failing = await waitFor('a retry of the 503', () => {
      const r = receiver.of('Failing');
      return r.length >= 2 ? r : undefined;
    });
    expect(failing[1]!.at - failing[0]!.at).toBeLessThan(1000);
    // 4xx: no retry. It is not logged as delivered either, so the group's next group_interval
    // tick (2s after its first flush) sends the whole group again.
    const second = await waitFor('the 400 group sent again', () => receiver.of('Rejected')[1]);
    expect(second.at - first.at).toBeGreaterThan(1900);
    expect(second.at - first.at).toBeLessThan(2600);
    expect(second.payload.alerts).toMatchObject([{ labels: { alertname: 'Rejected' } }]);
    expect(am.log()).toMatch(/notify retry canceled due to unrecoverable error after 1 attempts/);
    expect(am.log()).toMatch(/Notify attempt failed, will retry later.*status code 503/);
  });
});

describe('a route that groups by nothing, with max_alerts 1', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let am: RunningAlertmanager;

  beforeAll(async () => {
    receiver = await startReceiver();
    am = await startAlertmanager({ webhookUrl: receiver.url, groupBy: [], maxAlerts: 1 });
  });
  afterAll(async () => {
    await am?.stop();
    await receiver?.close();
  });

  it('computes commonLabels over the sent alerts only: groupMatchers refuses a truncated group', async () => {
    const common = { alertname: 'NodeDown', severity: 'critical' };
    await am.push([
      { labels: { ...common, node: 'pi4-a' } },
      { labels: { ...common, node: 'pi4-b' } },
    ]);
    const hook = await waitFor('the notification', () => receiver.received[0]);
    expect(hook.authorization).toBeUndefined();
    const { groupLabels, commonLabels, truncatedAlerts, alerts } = hook.payload;
    expect(groupLabels).toEqual({});
    expect(alerts).toHaveLength(1);
    expect(truncatedAlerts).toBe(1);
    const shown = alerts[0]!.labels.node;
    expect(commonLabels).toEqual({ ...common, node: shown });

    expect(() => groupMatchers(groupLabels, commonLabels, truncatedAlerts)).toThrow(
      /no group labels and 1 of its alerts were not shown/,
    );
    // Why: a silence from those common labels mutes only the alert that was shown.
    const id = await am.client.createSilence({
      matchers: groupMatchers(groupLabels, commonLabels),
      endsAt: new Date(Date.now() + parseDuration('30m')),
      createdBy: 'bob',
      comment: 'maintenance',
    });
    const silenced = await waitFor('the shown alert silenced', async () => {
      const found = await am.client.alerts({ active: false, silenced: true, inhibited: false });
      return found.length > 0 ? found : undefined;
    });
    expect(silenced.map((a) => [a.labels.node, a.status.silencedBy])).toEqual([[shown, [id]]]);
    const stillActive = await am.client.alerts({ silenced: false });
    expect(stillActive.map((a) => a.labels.node)).toEqual([shown === 'pi4-a' ? 'pi4-b' : 'pi4-a']);
  });
});
