/**
 * /storage status and /storage volume (pure renderers): Longhorn volumes with robustness, size,
 * replicas per node, rebuild progress, the latest backup and its age (stale ones flagged), and
 * disk use per Longhorn node.
 */
import { UserError } from '../core/errors.js';
import type { Reply } from '../core/reply.js';
import { closest } from '../core/suggest.js';
import { table } from '../core/table.js';
import {
  formatBytes,
  type LhReplica,
  type LhVolume,
  type LonghornState,
} from '../infra/longhorn-objects.js';
import { drainPolicyText, volumeUsers } from './longhorn-impact.js';

export interface StorageViewOptions {
  now: number;
  staleHours: number;
}

/** `pi4-a ok`, `pi4-b failed`, `pi4-b rebuilding 40%` */
function replicaText(r: LhReplica): string {
  if (r.rebuildProgress !== undefined) return `${r.node} rebuilding ${r.rebuildProgress}%`;
  return `${r.node} ${r.healthy ? 'ok' : r.failed ? 'failed' : r.state}`;
}

function age(ms: number): string {
  const h = ms / 3_600_000;
  if (h < 1) return `${Math.max(0, Math.round(ms / 60_000))} min`;
  if (h < 48) return `${Math.round(h)} h`;
  return `${Math.round(h / 24)} d`;
}

/** The latest completed backup of a volume: its time and whether it is stale. */
export function latestBackup(
  state: LonghornState,
  v: LhVolume,
  opts: StorageViewOptions,
): { text: string; stale: boolean; at?: string } {
  const times = state.backups
    .filter((b) => b.volume === v.name && b.state === 'Completed' && b.createdAt)
    .map((b) => b.createdAt!);
  if (v.lastBackupAt) times.push(v.lastBackupAt);
  const valid = times.filter((t) => !Number.isNaN(Date.parse(t))).sort();
  const at = valid.at(-1);
  if (!at) return { text: 'none', stale: true };
  const ms = opts.now - Date.parse(at);
  const stale = ms > opts.staleHours * 3_600_000;
  return { text: `${age(ms)} ago${stale ? ' (STALE)' : ''}`, stale, at };
}

const replicasOf = (state: LonghornState, v: LhVolume) =>
  state.replicas
    .filter((r) => r.volume === v.name)
    .sort((a, b) => a.node.localeCompare(b.node) || a.name.localeCompare(b.name));

function severityOf(state: LonghornState, staleCount: number): Reply['severity'] {
  if (state.volumes.some((v) => v.robustness === 'faulted')) return 'error';
  if (state.volumes.some((v) => v.robustness === 'degraded') || staleCount > 0) return 'warning';
  return 'success';
}

export function renderStorageStatus(state: LonghornState, opts: StorageViewOptions): Reply {
  const counts = new Map<string, number>();
  for (const v of state.volumes) counts.set(v.robustness, (counts.get(v.robustness) ?? 0) + 1);
  let stale = 0;
  const rows = state.volumes.map((v) => {
    const b = latestBackup(state, v, opts);
    if (b.stale) stale++;
    const replicas = replicasOf(state, v);
    return [
      v.name,
      v.state,
      v.robustness,
      formatBytes(v.sizeBytes),
      `${replicas.filter((r) => r.healthy).length}/${v.replicasWanted}: ${replicas.map(replicaText).join(', ') || 'none'}`,
      b.text,
    ];
  });
  const disks = state.nodes.flatMap((n) =>
    (n.disks.length > 0 ? n.disks : [undefined]).map((d) => [
      n.name,
      `${n.ready ? 'Ready' : 'NotReady'}${n.schedulable ? '' : ',unschedulable'}`,
      d
        ? `${formatBytes(d.maxBytes - d.availableBytes)} / ${formatBytes(d.maxBytes)} used (${d.maxBytes ? Math.round((100 * (d.maxBytes - d.availableBytes)) / d.maxBytes) : 0}%), ${formatBytes(d.scheduledBytes)} scheduled`
        : 'no disk',
    ]),
  );
  const summary = [...counts.entries()].map(([k, n]) => `${n} ${k}`).join(', ');
  return {
    severity: severityOf(state, stale),
    title: `Longhorn: ${state.volumes.length} volume${state.volumes.length === 1 ? '' : 's'}${summary ? ` — ${summary}` : ''}`,
    code: [
      table(['VOLUME', 'STATE', 'ROBUSTNESS', 'SIZE', 'REPLICAS', 'LAST BACKUP'], rows),
      '',
      table(['NODE', 'STATE', 'DISK'], disks),
    ].join('\n'),
    text: [
      `node-drain-policy: ${state.drainPolicy} (${drainPolicyText(state.drainPolicy)}).`,
      ...(stale > 0
        ? [
            `${stale} volume${stale === 1 ? ' has' : 's have'} no backup in the last ${opts.staleHours} h (longhorn.backupStaleHours).`,
          ]
        : []),
    ].join('\n'),
  };
}

export function renderVolume(state: LonghornState, name: string, opts: StorageViewOptions): Reply {
  const v = state.volumes.find((x) => x.name === name);
  if (!v) {
    const names = state.volumes.map((x) => x.name);
    const close = closest(name, names);
    throw new UserError(
      `Longhorn has no volume "${name}".`,
      close ? `Did you mean ${close}?` : `Volumes: ${names.join(', ') || 'none'}.`,
    );
  }
  const replicas = replicasOf(state, v);
  const b = latestBackup(state, v, opts);
  const backups = state.backups.filter((x) => x.volume === v.name);
  return {
    severity:
      v.robustness === 'faulted'
        ? 'error'
        : v.robustness === 'degraded' || b.stale
          ? 'warning'
          : 'success',
    title: `${v.name}: ${v.robustness}, ${v.state}`,
    fields: [
      { name: 'Size', value: formatBytes(v.sizeBytes) },
      {
        name: `Replicas (${replicas.filter((r) => r.healthy).length} of ${v.replicasWanted} healthy)`,
        value: replicas.map((r) => `${replicaText(r)} (${r.name})`).join('\n') || 'none',
      },
      { name: 'Used by', value: volumeUsers(v) },
      {
        name: 'Latest backup',
        value: `${b.at ? `${b.at}, ` : ''}${b.text}; ${backups.length} backup${backups.length === 1 ? '' : 's'} in Longhorn`,
      },
    ],
  };
}
