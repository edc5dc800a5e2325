import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { AlertGraphs, pickSeries } from '../../src/alerts/graph/alert-graphs.js';
import { PrometheusClient, type RangeSeries } from '../../src/alerts/graph/prometheus-client.js';
import type { GroupState } from '../../src/alerts/types.js';
import { freePort } from '../helpers/alertmanager.js';
import { pngHeader } from '../helpers/png.js';

const log = pino({ level: 'silent' });
const NOW = new Date('2026-01-01T12:00:00Z');

function group(expr?: string, status: 'firing' | 'resolved' = 'firing'): GroupState {
  return {
    ref: 'A-3',
    groupKey: '{}:{alertname="HighLoad"}',
    receiver: 'bot',
    status,
    groupLabels: { alertname: 'HighLoad' },
    commonLabels: { alertname: 'HighLoad' },
    commonAnnotations: {},
    externalURL: 'http://am',
    truncatedAlerts: 0,
    alerts: [
      {
        fingerprint: 'f1',
        status,
        labels: { alertname: 'HighLoad', instance: 'pi1:9100' },
        annotations: {},
        startsAt: '2026-01-01T11:40:00Z',
        generatorURL: expr ? `http://prom/graph?g0.expr=${encodeURIComponent(expr)}&g0.tab=1` : '',
      },
    ],
    firingSince: '2026-01-01T11:40:00Z',
    ...(status === 'resolved' ? { resolvedAt: '2026-01-01T11:55:00Z' } : {}),
    refires: 0,
  };
}

const series = (n: number): RangeSeries[] =>
  Array.from({ length: n }, (_, i) => ({
    metric: { __name__: 'node_load1', instance: `pi${i}:9100`, job: 'node' },
    values: [
      [1, i],
      [2, i + 1],
    ],
  }));

const servers: Server[] = [];
afterAll(() => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

describe('AlertGraphs', () => {
  it('queries the expression without its comparison, over the range, and draws a PNG', async () => {
    const queries: { expr: string; start: Date; end: Date; stepSeconds: number }[] = [];
    const graphs = new AlertGraphs({
      prometheus: {
        url: 'http://prom',
        queryRange: async (q) => {
          queries.push(q);
          return series(7);
        },
      },
      rangeSeconds: 3600,
      timeoutMs: 5000,
      log,
      now: () => NOW,
    });
    const image = await graphs.forGroup(group('node_load1 > 4'));
    expect(queries).toEqual([
      { expr: 'node_load1', start: new Date('2026-01-01T11:00:00Z'), end: NOW, stepSeconds: 15 },
    ]);
    expect(pngHeader(image!.data)).toMatchObject({ width: 800, height: 400 });
    expect(image!.alt).toBe(
      'HighLoad: node_load1 over 60 min until 12:00 UTC, threshold > 4; 7 series',
    );
    // The same state again (Matrix after Discord, an ack edit): the same picture, no new query.
    expect(await graphs.forGroup(group('node_load1 > 4'))).toBe(image);
    // Resolved: drawn once more, up to a little after it resolved, both marks in.
    const resolved = await graphs.forGroup(group('node_load1 > 4', 'resolved'));
    expect(queries).toHaveLength(2);
    expect(queries[1]!.end).toEqual(NOW);
    expect(resolved!.key).not.toBe(image!.key);
  });

  it('keeps the 5 series worth seeing and counts the rest; legend without shared labels', () => {
    const { series: shown, more } = pickSeries(
      series(8),
      { expr: 'node_load1', threshold: { op: '>', value: 4 } },
      5,
    );
    expect(more).toBe(3);
    expect(shown.map((s) => s.label)).toEqual([
      'node_load1{instance="pi7:9100"}',
      'node_load1{instance="pi6:9100"}',
      'node_load1{instance="pi5:9100"}',
      'node_load1{instance="pi4:9100"}',
      'node_load1{instance="pi3:9100"}',
    ]);
    const low = pickSeries(series(8), { expr: 'x', threshold: { op: '<', value: 1 } }, 2);
    expect(low.series.map((s) => s.label)).toEqual([
      'node_load1{instance="pi0:9100"}',
      'node_load1{instance="pi1:9100"}',
    ]);
  });

  it('no expression → no picture, and /alert graph says why', async () => {
    const graphs = new AlertGraphs({
      prometheus: { url: 'http://prom', queryRange: async () => [] },
      rangeSeconds: 3600,
      timeoutMs: 1000,
      log,
    });
    expect(await graphs.forGroup(group())).toBeUndefined();
    await expect(graphs.draw(group())).rejects.toThrow(/carry no Prometheus expression/);
  });

  it('Prometheus down (connection refused) → no picture', async () => {
    const port = await freePort();
    const graphs = new AlertGraphs({
      prometheus: new PrometheusClient({ url: `http://127.0.0.1:${port}`, timeoutMs: 2000 }),
      rangeSeconds: 3600,
      timeoutMs: 2000,
      log,
    });
    expect(await graphs.forGroup(group('up == 0'))).toBeUndefined();
    await expect(graphs.draw(group('up == 0'))).rejects.toThrow();
  });

  it('Prometheus that never answers → no picture once timeoutMs has passed', async () => {
    const server = createServer(() => {
      // accepts the request, never answers
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const graphs = new AlertGraphs({
      prometheus: new PrometheusClient({ url: `http://127.0.0.1:${port}`, timeoutMs: 60_000 }),
      rangeSeconds: 3600,
      timeoutMs: 300,
      log,
    });
    // Resolves (undefined) although the client's own timeout is a minute: the bound is timeoutMs.
    expect(await graphs.forGroup(group('up == 0'))).toBeUndefined();
  });

  it('a Prometheus error (bad expression) is reported with its message', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'parse error at char 3' }),
      );
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const client = new PrometheusClient({ url: `http://127.0.0.1:${port}/`, timeoutMs: 2000 });
    await expect(
      client.queryRange({ expr: 'up ==', start: NOW, end: NOW, stepSeconds: 15 }),
    ).rejects.toThrow(/400: bad_data parse error at char 3/);
  });

  it('a redirect is not followed: the error says where it leads', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(308, { location: 'https://prom.example/api/v1/query_range' });
      res.end();
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const client = new PrometheusClient({ url: `http://127.0.0.1:${port}`, timeoutMs: 2000 });
    await expect(
      client.queryRange({ expr: 'up', start: NOW, end: NOW, stepSeconds: 15 }),
    ).rejects.toThrow(
      `Prometheus http://127.0.0.1:${port} answered 308, a redirect to https://prom.example/api/v1/query_range (not followed): point alerts.prometheus.url at where it leads`,
    );
  });
});
