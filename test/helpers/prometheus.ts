/**
 * A real Prometheus (Debian package `prometheus`, 2.x) on a free loopback port, with its own
 * temp storage, scraping the targets given every `scrapeInterval`, evaluating `rules` every
 * `evaluationInterval` and sending alerts to the Alertmanagers given (prometheus docs:
 * configuration/configuration.md, configuration/alerting_rules.md). `--web.external-url` is its
 * URL, so each alert's generatorURL is `<url>/graph?g0.expr=<rule expr>&g0.tab=1`.
 * Started in ~0.3–1 s (ready when /-/ready answers 200); SIGTERM stops it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { type RunningHttpDaemon, startHttpDaemon } from './http-daemon.js';

const BIN = process.env.PROMETHEUS_BIN ?? 'prometheus';

export interface PrometheusRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface PrometheusOptions {
  /** `host:port` of the targets to scrape (job `lab`). */
  targets: string[];
  /** `host:port` of Alertmanagers to send alerts to. */
  alertmanagers?: string[];
  rules?: PrometheusRule[];
  scrapeInterval?: string;
  evaluationInterval?: string;
}

export type RunningPrometheus = RunningHttpDaemon;

export async function startPrometheus(opts: PrometheusOptions): Promise<RunningPrometheus> {
  const dir = mkdtempSync(path.join(tmpdir(), 'chatops-prometheus-'));
  const rulesFile = path.join(dir, 'rules.yml');
  writeFileSync(rulesFile, stringify({ groups: [{ name: 'lab', rules: opts.rules ?? [] }] }));
  const configFile = path.join(dir, 'prometheus.yml');
  writeFileSync(
    configFile,
    stringify({
      global: {
        scrape_interval: opts.scrapeInterval ?? '1s',
        evaluation_interval: opts.evaluationInterval ?? '1s',
      },
      rule_files: [rulesFile],
      scrape_configs: [{ job_name: 'lab', static_configs: [{ targets: opts.targets }] }],
      ...(opts.alertmanagers?.length
        ? {
            alerting: {
              alertmanagers: [
                { api_version: 'v2', static_configs: [{ targets: opts.alertmanagers }] },
              ],
            },
          }
        : {}),
    }),
  );
  return startHttpDaemon({
    name: 'Prometheus',
    bin: BIN,
    args: (port) => [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(dir, `data-${port}`)}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--web.external-url=http://127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    readyPath: '/-/ready',
    readyTimeoutMs: 20_000,
    installHint: 'install the Debian package prometheus',
    dir,
  });
}

/** A scrape target: `/metrics` in the text exposition format, whatever `metrics()` returns now. */
export async function startMetricsTarget(
  metrics: () => string,
): Promise<{ address: string; stop(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.url?.startsWith('/metrics')) {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(metrics());
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
