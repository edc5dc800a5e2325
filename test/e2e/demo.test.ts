import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { postWebhook } from '../alerts/pipeline-helpers.js';
import { CLI, runDemo, tempStateDir } from '../helpers/cli.js';

const NO_LAB = 'ℹ Demo: there is no lab to ask. This would';
const CONNECT =
  'in a config file (npm start -- --config FILE), or start the local lab: npm run lab.';

function audit(stateDir: string): { command: string; result: string }[] {
  return readFileSync(path.join(stateDir, 'audit.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

/** The answer that starts at the line beginning with `head`, up to the next answer. */
function answer(stdout: string, head: string): string {
  const at = stdout.indexOf(head);
  expect(at, `no answer starting with ${head}`).toBeGreaterThanOrEqual(0);
  const next = stdout.slice(at + head.length).search(/\n[ℹ✖✔⚠…]/);
  return stdout.slice(at, next < 0 ? undefined : at + head.length + next);
}

describe('the demo (npm start without a config): every command family answers', () => {
  it('actions show their exact plans as dry runs; reads say what they would ask', async () => {
    const { state, ...r } = await runDemo(
      [
        '/argo list',
        '/argo status home-assistant',
        '/argo sync home-assistant',
        '/argo sync home-asistant',
        '/pihole status',
        '/pihole disable',
        '/backup status',
        '/backup run pi1 dry_run:true',
        '/alert list',
        '/node status',
        '/node logs pi4-a k3s-agent',
        '/storage status',
        '/pihole disable 10m dry_run:false',
      ].join('\n'),
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout + r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).not.toContain('not configured');

    // Argo CD: the list and status requests; the sync's PATCH of `operation`.
    expect(r.stdout).toContain(
      `${NO_LAB} send GET /apis/argoproj.io/v1alpha1/namespaces/argocd/applications to the Kubernetes API.\n  To ask a real lab, set kube.kubeconfig or kube.inCluster ${CONNECT}`,
    );
    expect(r.stdout).toContain(
      `${NO_LAB} send GET /apis/argoproj.io/v1alpha1/namespaces/argocd/applications/home-assistant to the Kubernetes API.`,
    );
    const sync = answer(r.stdout, 'ℹ Dry run: /argo sync app:home-assistant');
    expect(sync).toContain(
      '1. PATCH /apis/argoproj.io/v1alpha1/namespaces/argocd/applications/home-assistant (application/merge-patch+json) {"metadata":{"resourceVersion":"<metadata.resourceVersion>"},"operation":{"initiatedBy":{"username":"console:',
    );
    expect(sync).toContain(
      '"sync":{"revision":"<spec.source.targetRevision>","prune":false,"syncStrategy":{"hook":{}},"syncOptions":"<spec.syncPolicy.syncOptions>"},"retry":"<spec.syncPolicy.retry>"}}',
    );
    expect(r.stdout).toContain(
      '✖ The demo lab runs no Argo CD application "home-asistant". Did you mean "home-assistant"?',
    );
    expect(r.stdout).toMatch(
      /Its applications: .*home-assistant, .*longhorn, monitoring, .*vikunja\./,
    );

    // Pi-hole: the stats request on each instance; the POST with its timer to each.
    expect(r.stdout).toContain(
      `${NO_LAB} send GET http://192.168.1.31/api/stats/summary, GET http://192.168.1.32/api/stats/summary, GET http://192.168.1.33/api/stats/summary (and GET /api/dns/blocking to each).`,
    );
    const disable = answer(r.stdout, 'ℹ Dry run: /pihole disable\n');
    for (const [i, pi] of ['pi1', 'pi2', 'pi3'].entries()) {
      expect(disable).toContain(
        `${i + 1}. ${pi}: POST http://192.168.1.3${i + 1}/api/dns/blocking {"blocking":false,"timer":300}`,
      );
    }
    // Run for real, it says what it would have sent, and sends nothing.
    expect(r.stdout).toContain(
      '✖ Demo: there is no lab to change. This would send POST http://192.168.1.31/api/dns/blocking {"blocking":false,"timer":600}, POST http://192.168.1.32/api/dns/blocking',
    );

    // Backups: restic over SSH on each backup agent.
    const restic = `-- sh -c 'set -a && . "$1" && set +a && shift && exec restic "$@"' restic-env /etc/restic/env`;
    expect(r.stdout).toContain(
      `${NO_LAB} run ssh -p 22 pi@192.168.1.31 ${restic} snapshots --no-lock --json --latest 1 (and likewise on pi2, pi3).`,
    );
    expect(answer(r.stdout, 'ℹ Dry run: /backup run target:pi1 dry_run:true')).toContain(
      `1. ssh -p 22 pi@192.168.1.31 ${restic} backup --json /etc/pihole /etc/dnsmasq.d /home/pi`,
    );

    // Alerts, nodes, storage.
    expect(r.stdout).toContain(
      `${NO_LAB} send GET http://alertmanager.monitoring.svc:9093/api/v2/alerts?active=true&silenced=true&inhibited=true to Alertmanager.\n  To ask a real lab, set alerts.alertmanager.url ${CONNECT}`,
    );
    expect(r.stdout).toContain(
      `${NO_LAB} run ssh -p 22 admin@192.168.1.10 -- sh -c 'cat /proc/uptime /proc/loadavg; free -b; df -P -B1 /' (and likewise on pi5, pi4-a, pi4-b, pi1, pi2, pi3)`,
    );
    expect(r.stdout).toContain(
      `${NO_LAB} run ssh -p 22 pi@192.168.1.21 -- sudo -n journalctl -u k3s-agent -n 50 --no-pager -o short-iso.`,
    );
    expect(r.stdout).toContain(
      `${NO_LAB} send GET /apis/longhorn.io/v1beta2/namespaces/longhorn-system/volumes, then the replicas, engines, nodes, settings and backups there, to the Kubernetes API.`,
    );

    expect(audit(state).map((l) => [l.command, l.result])).toEqual([
      ['argo list', 'ok'],
      ['argo status', 'ok'],
      ['argo sync', 'dry-run'],
      ['argo sync', 'user-error'],
      ['pihole status', 'ok'],
      ['pihole disable', 'dry-run'],
      ['backup status', 'ok'],
      ['backup run', 'dry-run'],
      ['alert list', 'ok'],
      ['node status', 'ok'],
      ['node logs', 'ok'],
      ['storage status', 'ok'],
      ['pihole disable', 'user-error'],
    ]);
  });

  it('an alert posted to the demo shows the silence it would create', async () => {
    const state = tempStateDir();
    const child = spawn(process.execPath, [CLI], {
      env: {
        PATH: process.env.PATH,
        CHATOPS_STATE_DIR: state,
        CHATOPS_HTTP_PORT: '0',
        CHATOPS_LOG_LEVEL: 'info',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const seen = (pattern: RegExp, stream: () => string, source: NodeJS.ReadableStream) =>
      new Promise<RegExpExecArray>((resolve) => {
        const check = () => {
          const m = pattern.exec(stream());
          if (m) {
            source.off('data', check);
            resolve(m);
          }
        };
        source.on('data', check);
        check();
      });
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const port = Number((await seen(/"port":(\d+)/, () => stderr, child.stderr))[1]);
    const payload = readFileSync(
      path.resolve(import.meta.dirname, '../fixtures/alertmanager/firing-single.json'),
      'utf8',
    );
    const res = await postWebhook(port, payload);
    expect(res.status).toBe(200);
    const ref = (await seen(/\b(A-\d+)\b/, () => stdout, child.stdout))[1]!;
    child.stdin.end(`/alert silence ${ref} 1h\n/alert silence ${ref} 1h dry_run:false\n`);
    expect(await exited).toBe(0);
    const plan = answer(stdout, `ℹ Dry run: /alert silence ref:${ref} duration:1h`);
    expect(plan).toContain(
      `1. POST http://alertmanager.monitoring.svc:9093/api/v2/silences {matchers: [alertname="KubePodCrashLooping", namespace="home-assistant"], endsAt: now + 60 min, createdBy: "console:`,
    );
    expect(stdout).toContain(
      '✖ Demo: there is no lab to change. This would send POST http://alertmanager.monitoring.svc:9093/api/v2/silences to Alertmanager.',
    );
  });
});
