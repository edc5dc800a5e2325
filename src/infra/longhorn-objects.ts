/**
 * Longhorn's custom resources (`longhorn.io/v1beta2`, Longhorn's published CRDs:
 * chart/templates/crds.yaml) read into what the bot needs. Fields used:
 * - Volume: spec.size (bytes, a string), spec.numberOfReplicas, status.state (attached |
 *   detached | …), status.robustness (healthy | degraded | faulted | unknown),
 *   status.kubernetesStatus {namespace, pvcName, workloadsStatus[] {podName, workloadName,
 *   workloadType}} — Longhorn's own PVC → pods link, status.lastBackup / lastBackupAt.
 * - Replica: spec.volumeName, spec.nodeID, spec.healthyAt, spec.failedAt, status.currentState.
 *   Healthy as Longhorn counts it: healthyAt set and failedAt empty.
 * - Engine: spec.volumeName, spec.replicaAddressMap {replica → tcp://ip:port},
 *   status.replicaModeMap {replica → RW | WO | ERR}, status.rebuildStatus {address → {progress,
 *   isRebuilding, state}} — where rebuild progress is.
 * - Node: status.conditions (Ready, Schedulable), status.diskStatus {disk → storageMaximum,
 *   storageAvailable, storageScheduled}.
 * - Setting: `value` (a string), e.g. node-drain-policy.
 * - Backup: status.volumeName, status.state (Completed …), status.backupCreatedAt, status.size.
 */

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' ? (v as Obj) : {});
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v) || 0);

export type Robustness = 'healthy' | 'degraded' | 'faulted' | 'unknown';

export interface Workload {
  pod: string;
  /** `StatefulSet/gitea`, or the pod alone when Longhorn names no workload. */
  workload?: string;
}

export interface LhVolume {
  name: string;
  sizeBytes: number;
  replicasWanted: number;
  state: string;
  robustness: Robustness;
  /** `gitea/data-gitea-0` when a PVC is bound to it. */
  pvc?: string;
  workloads: Workload[];
  lastBackup?: string;
  lastBackupAt?: string;
}

export interface LhReplica {
  name: string;
  volume: string;
  node: string;
  healthy: boolean;
  failed: boolean;
  state: string;
  /** While it rebuilds: 0–100, from the engine's rebuildStatus. */
  rebuildProgress?: number;
}

export interface LhDisk {
  name: string;
  maxBytes: number;
  availableBytes: number;
  scheduledBytes: number;
}

export interface LhNode {
  name: string;
  ready: boolean;
  schedulable: boolean;
  disks: LhDisk[];
}

export interface LhBackup {
  name: string;
  volume: string;
  state: string;
  createdAt?: string;
  sizeBytes: number;
}

/** What the cluster's Longhorn looks like at one moment. */
export interface LonghornState {
  volumes: LhVolume[];
  replicas: LhReplica[];
  nodes: LhNode[];
  backups: LhBackup[];
  /** The `node-drain-policy` setting (Longhorn's default when the setting is missing). */
  drainPolicy: string;
}

/** Longhorn's default node-drain-policy (chart/questions.yaml). */
export const DEFAULT_DRAIN_POLICY = 'block-if-contains-last-replica';

const ROBUSTNESS: readonly string[] = ['healthy', 'degraded', 'faulted', 'unknown'];

export function toVolume(o: unknown): LhVolume {
  const v = obj(o);
  const spec = obj(v.spec);
  const status = obj(v.status);
  const k8s = obj(status.kubernetesStatus);
  const robustness = str(status.robustness);
  const ns = str(k8s.namespace);
  const pvc = str(k8s.pvcName);
  const workloads = (Array.isArray(k8s.workloadsStatus) ? k8s.workloadsStatus : [])
    .map(obj)
    .filter((w) => str(w.podName))
    .map((w) => ({
      pod: `${ns ? `${ns}/` : ''}${str(w.podName)}`,
      ...(str(w.workloadName)
        ? { workload: `${str(w.workloadType) || 'workload'}/${str(w.workloadName)}` }
        : {}),
    }));
  return {
    name: str(obj(v.metadata).name),
    sizeBytes: num(spec.size),
    replicasWanted: num(spec.numberOfReplicas) || 3,
    state: str(status.state) || 'unknown',
    robustness: (ROBUSTNESS.includes(robustness) ? robustness : 'unknown') as Robustness,
    ...(pvc ? { pvc: ns ? `${ns}/${pvc}` : pvc } : {}),
    workloads,
    ...(str(status.lastBackup) ? { lastBackup: str(status.lastBackup) } : {}),
    ...(str(status.lastBackupAt) ? { lastBackupAt: str(status.lastBackupAt) } : {}),
  };
}

/** Rebuild progress of each replica of each engine: replica name → percent. */
export function rebuildProgress(engines: readonly unknown[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of engines.map(obj)) {
    const addresses = obj(obj(e.spec).replicaAddressMap);
    const rebuild = obj(obj(e.status).rebuildStatus);
    for (const [replica, address] of Object.entries(addresses)) {
      const r = obj(rebuild[str(address)]);
      if (r.isRebuilding === true) out.set(replica, num(r.progress));
    }
  }
  return out;
}

export function toReplica(o: unknown, progress: ReadonlyMap<string, number>): LhReplica {
  const r = obj(o);
  const spec = obj(r.spec);
  const name = str(obj(r.metadata).name);
  const failed = str(spec.failedAt) !== '';
  const p = progress.get(name);
  return {
    name,
    volume: str(spec.volumeName),
    node: str(spec.nodeID),
    healthy: !failed && str(spec.healthyAt) !== '',
    failed,
    state: str(obj(r.status).currentState) || 'unknown',
    ...(p !== undefined ? { rebuildProgress: p } : {}),
  };
}

export function toNode(o: unknown): LhNode {
  const n = obj(o);
  const status = obj(n.status);
  const conditions = (Array.isArray(status.conditions) ? status.conditions : []).map(obj);
  const cond = (type: string) => conditions.find((c) => c.type === type)?.status === 'True';
  return {
    name: str(obj(n.metadata).name),
    ready: cond('Ready'),
    schedulable: cond('Schedulable'),
    disks: Object.entries(obj(status.diskStatus)).map(([name, d]) => ({
      name,
      maxBytes: num(obj(d).storageMaximum),
      availableBytes: num(obj(d).storageAvailable),
      scheduledBytes: num(obj(d).storageScheduled),
    })),
  };
}

export function toBackup(o: unknown): LhBackup {
  const b = obj(o);
  const status = obj(b.status);
  const labels = obj(obj(b.metadata).labels);
  return {
    name: str(obj(b.metadata).name),
    volume: str(status.volumeName) || str(labels['backup-volume']),
    state: str(status.state) || 'unknown',
    ...(str(status.backupCreatedAt) ? { createdAt: str(status.backupCreatedAt) } : {}),
    sizeBytes: num(status.size),
  };
}

/** `8 GiB`, `512 MiB` */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 10 || i === 0 ? Math.round(v) : Number(v.toFixed(1))} ${units[i]}`;
}
