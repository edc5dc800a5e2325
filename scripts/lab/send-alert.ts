/**
 * `npm run lab -- --alert`: one sample alert through the running lab's Alertmanager
 * (`POST /api/v2/alerts`), which groups it and posts it to the bot's webhook after group_wait.
 * A lab without Alertmanager gets the webhook notification Alertmanager would send (payload
 * version 4, with the lab's bearer token) posted to the bot directly.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

interface LabFile {
  http?: { host?: string; port?: number };
  alerts?: { webhook?: { token?: string }; alertmanager?: { url?: string } };
}

export const SAMPLE_ALERT = {
  labels: {
    alertname: 'NodeHighTemperature',
    severity: 'warning',
    namespace: 'monitoring',
    instance: 'pi4-a:9100',
    node: 'pi4-a',
  },
  annotations: {
    summary: 'pi4-a is at 78 °C',
    description: 'The SoC of pi4-a has been above 75 °C for 5 minutes; it throttles at 80 °C.',
  },
};

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${url} answered ${res.status} ${text}`.trim());
}

/** What it did, in a line; throws when the lab (or the bot, without Alertmanager) does not answer. */
export async function sendSampleAlert(configFile: string): Promise<string> {
  let config: LabFile;
  try {
    config = parse(readFileSync(configFile, 'utf8')) as LabFile;
  } catch {
    throw new Error(`no lab config at ${configFile}: start the lab first (npm run lab)`);
  }
  const startsAt = new Date().toISOString();
  const amUrl = config.alerts?.alertmanager?.url;
  const what = `${SAMPLE_ALERT.labels.alertname} (${SAMPLE_ALERT.labels.node})`;
  if (amUrl) {
    try {
      await post(`${amUrl}/api/v2/alerts`, [{ ...SAMPLE_ALERT, startsAt }]);
    } catch (err) {
      throw new Error(
        `Alertmanager at ${amUrl} did not take it (is the lab running?): ${msg(err)}`,
      );
    }
    return `Sent ${what} to Alertmanager at ${amUrl}; it posts it to the bot within a few seconds (group_wait 2s). /alert list shows it.`;
  }
  const hook = `http://${config.http?.host ?? '127.0.0.1'}:${config.http?.port}/hooks/alertmanager`;
  const alert = {
    status: 'firing',
    ...SAMPLE_ALERT,
    startsAt,
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: '',
    fingerprint: randomBytes(8).toString('hex'),
  };
  const groupLabels = { alertname: alert.labels.alertname, namespace: alert.labels.namespace };
  try {
    await post(
      hook,
      {
        receiver: 'bot',
        status: 'firing',
        alerts: [alert],
        groupLabels,
        commonLabels: alert.labels,
        commonAnnotations: alert.annotations,
        externalURL: 'http://127.0.0.1:9093',
        version: '4',
        groupKey: `{}:{alertname="${groupLabels.alertname}", namespace="${groupLabels.namespace}"}`,
        truncatedAlerts: 0,
      },
      { authorization: `Bearer ${config.alerts?.webhook?.token ?? ''}` },
    );
  } catch (err) {
    throw new Error(`the bot's webhook ${hook} did not take it (is the bot running?): ${msg(err)}`);
  }
  return `Posted ${what} to the bot's webhook ${hook} (the lab has no Alertmanager).`;
}

function msg(err: unknown): string {
  const e = err as Error & { cause?: { code?: string } };
  return e.cause?.code ?? e.message;
}
