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
  /** Raspberry Pi power/thermal flags from `vcgencmd get_throttled`, when any is set. */
  power?: { now: string[]; sinceBoot: string[] };
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
    : node.k3sName && ops.kubeError
      ? Promise.resolve({ error: ops.kubeError.message })
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
      const [temp, throttled] = await Promise.all([
        node.os === 'raspios'
          ? ops.ssh.exec(target, ['vcgencmd', 'measure_temp'], { timeoutMs })
          : ops.ssh.exec(target, ['cat', '/sys/class/thermal/thermal_zone0/temp'], { timeoutMs }),
        node.os === 'raspios'
          ? ops.ssh.exec(target, ['vcgencmd', 'get_throttled'], { timeoutMs })
          : undefined,
      ]);
      status.tempC = temp.code === 0 ? parseTemp(temp.stdout) : undefined;
      if (throttled?.code === 0) status.power = parseThrottled(throttled.stdout);
    } catch (err) {
      status.error = (err as Error).message;
    }
  } else status.error = 'SSH not configured';
  if (k3s) status.k3s = await k3s;
  return status;
}

/** The bits of `vcgencmd get_throttled` (Raspberry Pi firmware), now and since boot. */
const THROTTLE_BITS: [number, string][] = [
  [0, 'under-voltage'],
  [1, 'ARM frequency capped'],
  [2, 'throttled'],
  [3, 'soft temperature limit'],
];

/**
 * `throttled=0x50005` → `{ now: ['under-voltage', 'throttled'], sinceBoot: ['under-voltage',
 * 'throttled'] }`; undefined when nothing is set or the output is not understood. Pure.
 */
export function parseThrottled(out: string): NodeStatus['power'] {
  const m = /throttled=0x([0-9a-f]+)/i.exec(out);
  if (!m) return undefined;
  const v = Number.parseInt(m[1]!, 16);
  const now = THROTTLE_BITS.filter(([bit]) => v & (1 << bit)).map(([, name]) => name);
  const sinceBoot = THROTTLE_BITS.filter(([bit]) => v & (1 << (bit + 16))).map(([, name]) => name);
  return now.length || sinceBoot.length ? { now, sinceBoot } : undefined;
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
  const power = statuses.filter((s) => s.power);
  const powerNow = power.filter((s) => s.power!.now.length > 0);
  return {
    severity: down.length || powerNow.length ? 'warning' : 'success',
    title: [
      down.length
        ? `${down.length} of ${statuses.length} nodes unreachable`
        : `${statuses.length} node${statuses.length === 1 ? '' : 's'} up`,
      ...(powerNow.length
        ? [
            `${powerNow.map((s) => s.node).join(', ')}: ${powerNow.length === 1 ? 'a power or heat problem' : 'power or heat problems'} now`,
          ]
        : []),
    ].join('; '),
    code: table(['NODE', 'SSH', 'UPTIME', 'LOAD', 'MEM', 'DISK', 'TEMP', 'K3S'], rows),
    fields: [
      ...down.map((s) => ({ name: s.node, value: s.error ?? 'unreachable' })),
      ...power.map((s) => ({ name: `${s.node}: power and heat`, value: powerAdvice(s.power!) })),
    ],
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
  if (ops.kubeError) return { error: ops.kubeError.message };
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

/** What `get_throttled` flags mean for the owner, and what to do. */
function powerAdvice(p: NonNullable<NodeStatus['power']>): string {
  const parts = [
    ...(p.now.length ? [`now: ${p.now.join(', ')}`] : []),
    ...(p.sinceBoot.length ? [`since boot: ${p.sinceBoot.join(', ')}`] : []),
  ];
  const hints = [
    ...(p.now.includes('under-voltage') || p.sinceBoot.includes('under-voltage')
      ? ['check the power supply and cable (Pi 4: 5.1 V 3 A, Pi 5: 5.1 V 5 A)']
      : []),
    ...(p.now.some((f) => f !== 'under-voltage') || p.sinceBoot.some((f) => f !== 'under-voltage')
      ? ['check cooling (heatsink, fan, case airflow)']
      : []),
  ];
  return `${parts.join('; ')} (vcgencmd get_throttled) — ${hints.join('; ')}.`;
}
