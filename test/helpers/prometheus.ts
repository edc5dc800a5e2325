/**
 * A real Prometheus (Debian package `prometheus`, 2.x) on a free loopback port, with its own
 * temp storage, scraping the targets given every `scrapeInterval`, evaluating `rules` every
 * `evaluationInterval` and sending alerts to the Alertmanagers given (prometheus docs:
 * configuration/configuration.md, configuration/alerting_rules.md). `--web.external-url` is its
 * URL, so each alert's generatorURL is `<url>/graph?g0.expr=<rule expr>&g0.tab=1`.
 * Started in ~0.3–1 s (ready when /-/ready answers 200); SIGTERM stops it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { freePort } from './alertmanager.js';

const BIN = process.env.PROMETHEUS_BIN ?? 'prometheus';
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
const READY_TIMEOUT_MS = 20_000;

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

export interface RunningPrometheus {
  url: string;
  log(): string;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

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
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await launch(dir, configFile, await freePort());
    } catch (err) {
      lastError = err;
      if (!/address already in use/i.test(String((err as Error).message))) break;
    }
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError;
}

async function launch(dir: string, configFile: string, port: number): Promise<RunningPrometheus> {
  const url = `http://127.0.0.1:${port}`;
  const args = [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${path.join(dir, `data-${port}`)}`,
    `--web.listen-address=127.0.0.1:${port}`,
    `--web.external-url=${url}`,
    '--log.level=warn',
  ];
  const child = SETPRIV
    ? spawn(SETPRIV, ['--pdeathsig', 'SIGKILL', '--', BIN, ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
      })
    : spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  const keep = (d: Buffer) => {
    output += d.toString();
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  let spawnError: Error | undefined;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
    child.once('error', (err) => {
      spawnError = err;
      exited = true;
      resolve();
    });
  });
  const fail = (why: string) =>
    new Error(`Prometheus (${BIN} ${args.join(' ')}) ${why}\n--- its output ---\n${output.trim()}`);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (exited) {
      running.delete(child);
      throw fail(
        spawnError
          ? `could not be started: ${spawnError.message} (install the Debian package prometheus)`
          : 'exited before it was ready',
      );
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exit;
      running.delete(child);
      throw fail(`was not ready within ${READY_TIMEOUT_MS} ms`);
    }
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  let stopping: Promise<void> | undefined;
  return {
    url,
    log: () => output,
    stop: () => {
      stopping ??= (async () => {
        if (!exited) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exit;
          clearTimeout(timer);
        }
        running.delete(child);
        rmSync(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
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
