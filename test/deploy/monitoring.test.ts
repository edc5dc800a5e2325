/**
 * deploy/monitoring: the ServiceMonitor scrapes the bot's Service, the PrometheusRule uses
 * only metrics the bot registers, and the Alertmanager receiver works — the plain
 * alertmanager.yml fragment is checked by the real `amtool` and run by the real Alertmanager
 * (Debian's prometheus-alertmanager 0.25), which posts to a loopback stand-in of the bot's
 * webhook with the Bearer token read from its credentials_file.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { Metrics } from '../../src/http/metrics.js';
import { runAlertmanager } from '../helpers/alertmanager.js';
import type { RunningHttpDaemon } from '../helpers/http-daemon.js';
import { baseResources, DEPLOY, type Obj, one, ROOT } from './manifests.js';

/**
 * Named in the rules before the bot registers it (operations interrupted by a restart);
 * to be added to src/http/metrics.ts.
 */
const PENDING_METRICS = new Set(['chatops_operations_interrupted_total']);

const resources = baseResources();
const service = one(resources, 'Service', 'homelab-chatops');
const rule = one(resources, 'PrometheusRule');
const webhookUrl = `http://${service.metadata.name}.${service.metadata.namespace}.svc:${service.spec.ports[0].port}/hooks/alertmanager`;

/** Every series name the bot's /metrics can expose. */
async function registeredNames(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const m of await new Metrics().registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === 'histogram')
      for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s);
    if (String(m.type) === 'summary') for (const s of ['_sum', '_count']) names.add(m.name + s);
  }
  return names;
}

describe('ServiceMonitor and PrometheusRule', () => {
  it('the ServiceMonitor scrapes /metrics on the Service’s http port', () => {
    const sm = one(resources, 'ServiceMonitor');
    expect(service.metadata.labels).toMatchObject(sm.spec.selector.matchLabels);
    expect(sm.spec.namespaceSelector.matchNames).toContain(service.metadata.namespace);
    const names = (service.spec.ports as Obj[]).map((p) => p.name);
    for (const e of sm.spec.endpoints as Obj[]) {
      expect(names).toContain(e.port);
      expect(e.path).toBe('/metrics');
    }
    // Without jobLabel, Prometheus' job label is the Service's name: what the rules select.
    expect(sm.spec.jobLabel).toBeUndefined();
  });

  it('alerts on down, failing deliveries, a growing backlog and interrupted operations', () => {
    const alerts = (rule.spec.groups as Obj[]).flatMap((g) => g.rules as Obj[]);
    expect(alerts.map((a) => a.alert)).toEqual([
      'ChatopsDown',
      'ChatopsAbsent',
      'ChatopsAlertDeliveryFailing',
      'ChatopsAlertWebhookRejected',
      'ChatopsAlertBacklog',
      'ChatopsOperationsInterrupted',
    ]);
    for (const a of alerts) {
      expect(a.expr, a.alert).toContain(`job="${service.metadata.name}"`);
      expect(a.labels.severity).toMatch(/^(critical|warning)$/);
      expect(a.annotations.summary).toBeTruthy();
    }
    expect(alerts[0]!.expr).toMatch(/^up\{.*\} == 0$/);
    expect(alerts[1]!.expr).toMatch(/^absent\(up\{.*\}\)$/);
  });

  it('uses only metric names the bot registers', async () => {
    const registered = await registeredNames();
    expect(registered).toContain('chatops_alert_dead_letters_total');
    const used = new Set<string>();
    for (const g of rule.spec.groups as Obj[]) {
      for (const r of g.rules as Obj[]) {
        // A metric name is what stands before a label selector: name{…}
        for (const [, name] of String(r.expr).matchAll(/([a-zA-Z_:][\w:]*)\{/g)) used.add(name!);
      }
    }
    const unknown = [...used].filter(
      (n) => n !== 'up' && !registered.has(n) && !PENDING_METRICS.has(n),
    );
    expect(unknown).toEqual([]);
    expect([...used].filter((n) => n.startsWith('chatops_')).length).toBeGreaterThanOrEqual(3);
  });
});

describe('the Alertmanager receiver', () => {
  const fragment = readFileSync(path.join(DEPLOY, 'monitoring/alertmanager.yml'), 'utf8');
  const config = parse(fragment) as Obj;
  const webhook = config.receivers[0].webhook_configs[0];
  const amc = one(resources, 'AlertmanagerConfig');
  const tmp = mkdtempSync(path.join(tmpdir(), 'chatops-am-'));
  afterAll(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  it('both snippets post to the bot’s Service with a Bearer token, as the docs say', () => {
    expect(config.route.receiver).toBe(config.receivers[0].name);
    expect(webhook).toMatchObject({ url: webhookUrl, send_resolved: true });
    expect(webhook.http_config.authorization.type).toBe('Bearer');
    expect(webhook.http_config.authorization.credentials_file).toMatch(/^\//);
    const w = amc.spec.receivers[0].webhookConfigs[0];
    expect(amc.spec.route.receiver).toBe(amc.spec.receivers[0].name);
    expect(w).toMatchObject({ url: webhookUrl, sendResolved: true, maxAlerts: webhook.max_alerts });
    expect(w.httpConfig.authorization.type).toBe('Bearer');
    for (const doc of ['docs/alerts.md', 'docs/deployment.md'])
      expect(readFileSync(path.join(ROOT, doc), 'utf8')).toContain(webhookUrl);
  });

  it('amtool accepts the alertmanager.yml fragment', () => {
    const out = execFileSync(
      'amtool',
      ['check-config', path.join(DEPLOY, 'monitoring/alertmanager.yml')],
      {
        encoding: 'utf8',
      },
    );
    expect(out).toContain('SUCCESS');
  });

  it('the real Alertmanager delivers with it: POST /hooks/alertmanager, Bearer token from the file', async () => {
    const received: { url: string; auth: string; body: Obj }[] = [];
    const bot = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        received.push({
          url: req.url ?? '',
          auth: req.headers.authorization ?? '',
          body: JSON.parse(body),
        });
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => bot.listen(0, '127.0.0.1', resolve));
    let am: RunningHttpDaemon | undefined;
    try {
      const botPort = (bot.address() as AddressInfo).port;
      const tokenFile = path.join(tmp, 'chatops-token');
      writeFileSync(tokenFile, 's3cret-token\n');
      // The fragment as it is, pointed at the stand-in; only group_wait shortened for the test.
      const local = structuredClone(config);
      const w = local.receivers[0].webhook_configs[0];
      w.url = w.url.replace(/^http:\/\/[^/]+/, `http://127.0.0.1:${botPort}`);
      w.http_config.authorization.credentials_file = tokenFile;
      local.route.group_wait = '1s';
      const configFile = path.join(tmp, 'alertmanager.yml');
      writeFileSync(configFile, stringify(local));

      am = await runAlertmanager(configFile, path.join(tmp, 'am'));
      const res = await fetch(`${am.url}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([{ labels: { alertname: 'NodeDown', namespace: 'kube-system' } }]),
      });
      expect(res.status).toBe(200);
      for (let i = 0; received.length === 0 && i < 200; i++) await sleep(50);
      expect(received).toHaveLength(1);
      expect(received[0]!.url).toBe('/hooks/alertmanager');
      expect(received[0]!.auth).toBe('Bearer s3cret-token');
      expect(received[0]!.body).toMatchObject({
        version: '4',
        status: 'firing',
        receiver: 'chatops',
        groupLabels: { alertname: 'NodeDown', namespace: 'kube-system' },
      });
    } finally {
      await am?.stop();
      await new Promise((resolve) => bot.close(resolve));
    }
  });
});
