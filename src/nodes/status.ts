import type { NodeConfig } from '../config/schema.js';
import { beforeDeadline } from '../core/deadline.js';
import type { Reply } from '../core/reply.js';
import { table } from '../core/table.js';
import { type NodeOps, sshTarget } from './node-ops.js';

export interface NodeStatus {
  node: string;
  reachable: boolean;
  error?: string;
  uptimeSeconds?: number;
  load1?: number;
  memUsedPct?: number;
  diskUsedPct?: number;
  tempC?: number;
  k3s?:
    | { ready: boolean; version: string; unschedulable: boolean; pods: number }
    | { error: string };
}

/** Parses `cat /proc/uptime /proc/loadavg; free -b; df -P -B1 /` output. Pure. */
export function parseProbe(
  out: string,
): Pick<NodeStatus, 'uptimeSeconds' | 'load1' | 'memUsedPct' | 'diskUsedPct'> {
  const lines = out.split('\n');
  const uptime = Number.parseFloat(lines[0]?.split(/\s+/)[0] ?? '');
  const load = Number.parseFloat(lines[1]?.split(/\s+/)[0] ?? '');
  const mem = lines.find((l) => l.startsWith('Mem:'))?.split(/\s+/);
  const disk = lines.find((l) => /\s\/$/.test(l))?.split(/\s+/);
  const pct = (used?: string, total?: string) =>
    used && total && Number(total) > 0
      ? Math.round((Number(used) / Number(total)) * 100)
      : undefined;
  return {
    uptimeSeconds: Number.isFinite(uptime) ? uptime : undefined,
    load1: Number.isFinite(load) ? load : undefined,
    memUsedPct: pct(mem?.[2], mem?.[1]),
    diskUsedPct: pct(disk?.[2], disk?.[1]),
  };
}

/** `temp=48.3'C` (vcgencmd) or `48312` (millidegrees from a thermal zone). Pure. */
export function parseTemp(out: string): number | undefined {
  const v = /temp=([\d.]+)/.exec(out)?.[1];
  if (v) return Number(v);
  const milli = Number.parseInt(out.trim().split('\n')[0] ?? '', 10);
  return Number.isFinite(milli) ? Math.round(milli / 100) / 10 : undefined;
}

async function probe(node: NodeConfig, ops: NodeOps, timeoutMs: number): Promise<NodeStatus> {
  const status: NodeStatus = { node: node.name, reachable: false };
  const kube = node.k3sName ? ops.kube : undefined;
  const k3s = kube
    ? Promise.all([kube.node(node.k3sName!), kube.podCount(node.k3sName!)]).then(
        ([n, pods]) => ({
          ready: n.ready,
          version: n.kubeletVersion,
          unschedulable: n.unschedulable,
          pods,
        }),
        (err: Error) => ({ error: err.message }),
      )
    : undefined;
  if (ops.ssh) {
    try {
      const target = sshTarget(node);
      const base = await ops.ssh.exec(
        target,
        ['sh', '-c', 'cat /proc/uptime /proc/loadavg; free -b; df -P -B1 /'],
        { timeoutMs },
      );
      Object.assign(status, parseProbe(base.stdout), { reachable: true });
      const temp =
        node.os === 'raspios'
          ? await ops.ssh.exec(target, ['vcgencmd', 'measure_temp'], { timeoutMs })
          : await ops.ssh.exec(target, ['cat', '/sys/class/thermal/thermal_zone0/temp'], {
              timeoutMs,
            });
      status.tempC = temp.code === 0 ? parseTemp(temp.stdout) : undefined;
    } catch (err) {
      status.error = (err as Error).message;
    }
  } else status.error = 'SSH not configured';
  if (k3s) status.k3s = await k3s;
  return status;
}

/** Every node in parallel, each with its own timeout: a dead node never holds up the others. */
export async function nodeStatuses(nodes: NodeConfig[], ops: NodeOps): Promise<NodeStatus[]> {
  const timeoutMs = ops.config.statusTimeoutSeconds * 1000;
  return Promise.all(
    nodes.map(async (n) => {
      const r = await beforeDeadline(probe(n, ops, timeoutMs), Date.now() + timeoutMs + 1000);
      return r === 'deadline'
        ? {
            node: n.name,
            reachable: false,
            error: `no answer within ${ops.config.statusTimeoutSeconds} s`,
          }
        : r;
    }),
  );
}

function duration(s?: number): string {
  if (s === undefined) return '-';
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : `${m}m`;
}

export function renderStatuses(statuses: NodeStatus[]): Reply {
  const down = statuses.filter((s) => !s.reachable);
  const rows = statuses.map((s) => {
    const k3s = !s.k3s
      ? '-'
      : 'error' in s.k3s
        ? 'API error'
        : `${k3sLabel(s.k3s)} ${s.k3s.pods} pods`;
    const pct = (v?: number) => (v === undefined ? '-' : `${v}%`);
    return [
      s.node,
      s.reachable ? 'up' : 'DOWN',
      duration(s.uptimeSeconds),
      s.load1?.toFixed(2) ?? '-',
      pct(s.memUsedPct),
      pct(s.diskUsedPct),
      s.tempC === undefined ? '-' : `${s.tempC}°C`,
      k3s,
    ];
  });
  return {
    severity: down.length ? 'warning' : 'success',
    title: down.length
      ? `${down.length} of ${statuses.length} nodes unreachable`
      : `${statuses.length} nodes up`,
    code: table(['NODE', 'SSH', 'UPTIME', 'LOAD', 'MEM', 'DISK', 'TEMP', 'K3S'], rows),
    fields: down.map((s) => ({ name: s.node, value: s.error ?? 'unreachable' })),
  };
}

/**
 * Every K3s node's state for /node list, from one API call (`Ready v1.31.4+k3s1`,
 * `NotReady,cordoned v…`); no `states` without a configured API, `error` when it did not answer
 * within the status timeout.
 */
export async function k3sStates(
  getOps: () => Promise<NodeOps>,
): Promise<{ states?: Map<string, string>; error?: string }> {
  let ops: NodeOps;
  try {
    ops = await getOps();
  } catch (err) {
    return { error: (err as Error).message };
  }
  if (!ops.kube) return {};
  try {
    const nodes = await beforeDeadline(
      ops.kube.nodes(),
      Date.now() + ops.config.statusTimeoutSeconds * 1000,
    );
    if (nodes === 'deadline') {
      return {
        error: `no answer from the Kubernetes API within ${ops.config.statusTimeoutSeconds} s`,
      };
    }
    return {
      states: new Map(
        nodes.map((n) => [
          n.name,
          k3sLabel({ ready: n.ready, unschedulable: n.unschedulable, version: n.kubeletVersion }),
        ]),
      ),
    };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** `Ready v1.31.4+k3s1`, `NotReady,cordoned v1.31.4+k3s1` */
function k3sLabel(k: { ready: boolean; unschedulable: boolean; version: string }): string {
  return `${k.ready ? 'Ready' : 'NotReady'}${k.unschedulable ? ',cordoned' : ''} ${k.version}`;
}
