/**
 * What each read-only command would ask the lab — the exact requests, built with the same
 * helpers the real clients and plans use — for the demo's answers. Pure.
 */
import type { Config, NodeConfig } from '../config/schema.js';
import { UserError } from '../core/errors.js';
import { didYouMean } from '../core/suggest.js';
import { appPath } from '../infra/argo-objects.js';
import { callLine } from '../infra/pihole.js';
import { shellQuote } from '../infra/ssh-errors.js';
import { type BackupConfig, resticArgv } from '../nodes/backup.js';
import { sshTarget } from '../nodes/plans.js';
import type { LabAsk } from './no-lab.js';

const KUBE = 'kube.kubeconfig or kube.inCluster';
const SSH = 'ssh.privateKeyFile and ssh.knownHostsFile';

/** `ssh -p 22 pi@192.168.1.31 -- <argv>` on the first node, `(and likewise on pi2, pi3)`. */
function onEach(nodes: readonly NodeConfig[], argv: (n: NodeConfig) => string[]): string {
  const [first, ...rest] = nodes;
  if (!first) return 'nothing (no nodes selected)';
  const more = rest.length ? ` (and likewise on ${rest.map((n) => n.name).join(', ')})` : '';
  return `run ${sshTarget(first)} -- ${shellQuote(argv(first))}${more}`;
}

/** The app, which must be one the demo lab runs. */
export function demoApp(config: Config, name: string): string {
  const apps = config.demo?.argoApps ?? [];
  if (!apps.includes(name)) {
    throw new UserError(
      `The demo lab runs no Argo CD application "${name}".${didYouMean(name, apps)}`,
      `Its applications: ${apps.join(', ')}.`,
    );
  }
  return name;
}

export const labAsks = {
  argoList: (config: Config): LabAsk => ({
    asks: `send GET ${appPath(config.argo.namespace)} to the Kubernetes API`,
    connect: KUBE,
  }),
  argoApp: (config: Config, app: string): LabAsk => ({
    asks: `send GET ${appPath(config.argo.namespace, demoApp(config, app))} to the Kubernetes API`,
    connect: KUBE,
  }),
  /** `targets`: the Pi-holes asked (all, or the one named). */
  piholeStatus: (targets: readonly { name: string; url: string }[]): LabAsk => ({
    asks: `send ${targets.map((t) => callLine(t.url, { method: 'GET', path: '/api/stats/summary' })).join(', ')} (and GET /api/dns/blocking to each)`,
    connect: 'pihole.instances (name, url, password)',
  }),
  backupSnapshots: (conf: BackupConfig, nodes: readonly NodeConfig[], count: number): LabAsk => ({
    asks: onEach(nodes, () =>
      resticArgv(conf, ['snapshots', '--no-lock', '--json', '--latest', String(count)]),
    ),
    connect: `${SSH}, and backup.nodes`,
  }),
  alertList: (config: Config): LabAsk => ({
    asks: `send GET ${config.alerts.alertmanager.url ?? '<alerts.alertmanager.url>'}/api/v2/alerts?active=true&silenced=true&inhibited=true to Alertmanager`,
    connect: 'alerts.alertmanager.url',
  }),
  alertGraph: (config: Config, ref: string): LabAsk => ({
    asks: `send GET ${config.alerts.prometheus.url ?? '<alerts.prometheus.url>'}/api/v1/query_range with ${ref}'s expression to Prometheus`,
    connect: 'alerts.prometheus.url',
  }),
  nodeStatus: (nodes: readonly NodeConfig[]): LabAsk => {
    const k3s = nodes.filter((n) => n.k3sName).map((n) => n.k3sName!);
    const probe = ['sh', '-c', 'cat /proc/uptime /proc/loadavg; free -b; df -P -B1 /'];
    const kube =
      k3s.length === 1
        ? `GET /api/v1/nodes/${k3s[0]}`
        : `GET /api/v1/nodes/{name} for ${k3s.join(', ')}`;
    return {
      asks: `${onEach(nodes, () => probe)}, then read the temperature (vcgencmd on the Pis)${k3s.length ? `, and send ${kube} to the Kubernetes API` : ''}`,
      connect: `${SSH}, and ${KUBE} for the K3s state`,
    };
  },
  nodeCommand: (node: NodeConfig, argv: string[]): LabAsk => ({
    asks: onEach([node], () => argv),
    connect: SSH,
  }),
  longhorn: (config: Config, volume?: string): LabAsk => ({
    asks: `send GET /apis/longhorn.io/v1beta2/namespaces/${config.longhorn.namespace}/volumes${volume ? ` (for ${volume})` : ''}, then the replicas, engines, nodes, settings and backups there, to the Kubernetes API`,
    connect: KUBE,
  }),
};
