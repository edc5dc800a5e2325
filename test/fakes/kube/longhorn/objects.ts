/**
 * Longhorn's objects as its manager writes them (`longhorn.io/v1beta2`; field shapes from the
 * CRD fixtures beside this file, validated by crd-validate.ts), built from a test's short spec:
 *
 *   longhorn: {
 *     namespace?: 'longhorn-system',
 *     drainPolicy?: 'block-if-contains-last-replica',   // the node-drain-policy setting's value
 *     nodes: ['pi4-a', 'pi4-b'],                          // Longhorn nodes (= Kubernetes nodes), one disk each
 *     disks?: { 'pi4-a': { maxGiB: 58, usedGiB: 12 } },
 *     volumes: [{ name: 'pvc-gitea', sizeGiB?: 8, replicas: ['pi4-a', 'pi4-b'],
 *                 failed?: ['pi4-b'],                     // those replicas have failed already
 *                 state?: 'attached' | 'detached', numberOfReplicas?: replicas.length,
 *                 pvc?: { namespace, name, pods?: [{ name, workload?: 'StatefulSet/gitea' }] },
 *                 backups?: [{ ageHours: 3, state?: 'Completed' }] }],
 *   }
 */
import { createHash } from 'node:crypto';
import type { KObject } from '../store.js';

export interface LonghornVolumeSpec {
  name: string;
  sizeGiB?: number;
  /** Nodes holding a replica, one replica each. */
  replicas: string[];
  /** Nodes whose replica has failed already. */
  failed?: string[];
  state?: 'attached' | 'detached';
  numberOfReplicas?: number;
  pvc?: { namespace: string; name: string; pods?: { name: string; workload?: string }[] };
  backups?: { ageHours: number; state?: string }[];
}

export interface LonghornSpec {
  namespace?: string;
  drainPolicy?: string;
  nodes: string[];
  disks?: Record<string, { maxGiB: number; usedGiB: number }>;
  volumes: LonghornVolumeSpec[];
}

export const LH = 'longhorn.io/v1beta2';
const GiB = 1024 ** 3;
const short = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 8);

export const replicaName = (volume: string, node: string) =>
  `${volume}-r-${short(`${volume}/${node}`)}`;
export const engineName = (volume: string) => `${volume}-e-0`;
export const replicaAddress = (volume: string, node: string) =>
  `tcp://10.42.${parseInt(short(node).slice(0, 2), 16)}.${parseInt(short(volume).slice(0, 2), 16)}:10000`;

const condition = (type: string, ok: boolean, reason = '') => ({
  type,
  status: ok ? 'True' : 'False',
  reason,
  message: '',
  lastProbeTime: '',
  lastTransitionTime: new Date().toISOString(),
});

export function lhNodeObject(
  ns: string,
  name: string,
  disk: { maxGiB: number; usedGiB: number } = { maxGiB: 58, usedGiB: 10 },
): KObject {
  const diskName = `default-disk-${short(name)}`;
  return {
    apiVersion: LH,
    kind: 'Node',
    metadata: { name, namespace: ns },
    spec: {
      name,
      allowScheduling: true,
      evictionRequested: false,
      tags: [],
      disks: {
        [diskName]: {
          path: '/var/lib/longhorn/',
          allowScheduling: true,
          evictionRequested: false,
          storageReserved: Math.round(disk.maxGiB * 0.3 * GiB),
          diskType: 'filesystem',
          tags: [],
        },
      },
    },
    status: {
      conditions: [condition('Ready', true), condition('Schedulable', true)],
      diskStatus: {
        [diskName]: {
          diskName,
          diskPath: '/var/lib/longhorn/',
          diskType: 'filesystem',
          diskUUID: short(`disk/${name}`),
          storageMaximum: disk.maxGiB * GiB,
          storageAvailable: (disk.maxGiB - disk.usedGiB) * GiB,
          storageScheduled: 0,
          conditions: [condition('Ready', true), condition('Schedulable', true)],
          scheduledReplica: {},
        },
      },
      region: '',
      zone: '',
    },
  };
}

export function settingObject(ns: string, name: string, value: string): KObject {
  return {
    apiVersion: LH,
    kind: 'Setting',
    metadata: { name, namespace: ns },
    value,
    status: { applied: true },
  };
}

export function volumeObject(ns: string, v: LonghornVolumeSpec): KObject {
  const pvc = v.pvc;
  return {
    apiVersion: LH,
    kind: 'Volume',
    metadata: { name: v.name, namespace: ns, labels: { longhornvolume: v.name } },
    spec: {
      size: String((v.sizeGiB ?? 2) * GiB),
      numberOfReplicas: v.numberOfReplicas ?? v.replicas.length,
      frontend: 'blockdev',
      dataEngine: 'v1',
      accessMode: 'rwo',
      dataLocality: 'disabled',
      staleReplicaTimeout: 30,
      nodeID: v.state === 'detached' ? '' : v.replicas[0]!,
    },
    status: {
      state: v.state ?? 'attached',
      robustness: 'unknown', // the controller's first pass sets it
      currentNodeID: v.state === 'detached' ? '' : v.replicas[0]!,
      ownerID: v.replicas[0]!,
      kubernetesStatus: pvc
        ? {
            namespace: pvc.namespace,
            pvcName: pvc.name,
            pvName: v.name,
            pvStatus: 'Bound',
            lastPVCRefAt: '',
            lastPodRefAt: '',
            workloadsStatus: (pvc.pods ?? []).map((p) => ({
              podName: p.name,
              podStatus: 'Running',
              workloadName: p.workload?.split('/')[1] ?? '',
              workloadType: p.workload?.split('/')[0] ?? '',
            })),
          }
        : {
            namespace: '',
            pvcName: '',
            pvName: '',
            pvStatus: '',
            lastPVCRefAt: '',
            lastPodRefAt: '',
          },
      lastBackup: '',
      lastBackupAt: '',
      lastDegradedAt: '',
    },
  };
}

export function replicaObject(
  ns: string,
  v: LonghornVolumeSpec,
  node: string,
  now: string,
): KObject {
  const failed = v.failed?.includes(node) ?? false;
  const address = new URL(replicaAddress(v.name, node).replace('tcp:', 'http:'));
  return {
    apiVersion: LH,
    kind: 'Replica',
    metadata: {
      name: replicaName(v.name, node),
      namespace: ns,
      labels: { longhornvolume: v.name, longhornnode: node },
    },
    spec: {
      volumeName: v.name,
      nodeID: node,
      engineName: engineName(v.name),
      volumeSize: String((v.sizeGiB ?? 2) * GiB),
      dataEngine: 'v1',
      active: true,
      desireState: failed ? 'stopped' : 'running',
      diskID: short(`disk/${node}`),
      diskPath: '/var/lib/longhorn/',
      dataDirectoryName: `${v.name}-${short(node)}`,
      healthyAt: now,
      lastHealthyAt: now,
      failedAt: failed ? now : '',
      lastFailedAt: failed ? now : '',
      rebuildRetryCount: 0,
    },
    status: {
      currentState: failed ? 'stopped' : 'running',
      ip: address.hostname,
      storageIP: address.hostname,
      port: Number(address.port),
      instanceManagerName: `instance-manager-${short(node)}`,
      ownerID: node,
      started: !failed,
    },
  };
}

export function engineObject(ns: string, v: LonghornVolumeSpec): KObject {
  const live = v.replicas.filter((n) => !v.failed?.includes(n));
  return {
    apiVersion: LH,
    kind: 'Engine',
    metadata: { name: engineName(v.name), namespace: ns, labels: { longhornvolume: v.name } },
    spec: {
      volumeName: v.name,
      nodeID: v.state === 'detached' ? '' : v.replicas[0]!,
      dataEngine: 'v1',
      active: true,
      desireState: v.state === 'detached' ? 'stopped' : 'running',
      volumeSize: String((v.sizeGiB ?? 2) * GiB),
      replicaAddressMap: Object.fromEntries(
        live.map((n) => [replicaName(v.name, n), replicaAddress(v.name, n)]),
      ),
    },
    status: {
      currentState: v.state === 'detached' ? 'stopped' : 'running',
      replicaModeMap: Object.fromEntries(live.map((n) => [replicaName(v.name, n), 'RW'])),
      rebuildStatus: {},
      ownerID: v.replicas[0]!,
    },
  };
}

export function backupObject(
  ns: string,
  volume: string,
  index: number,
  b: { ageHours: number; state?: string },
  now: number,
): KObject {
  const created = new Date(now - b.ageHours * 3_600_000).toISOString();
  const name = `backup-${short(`${volume}/${index}`)}`;
  return {
    apiVersion: LH,
    kind: 'Backup',
    metadata: { name, namespace: ns, labels: { 'backup-volume': volume } },
    spec: { snapshotName: `snap-${short(name)}`, labels: {} },
    status: {
      state: b.state ?? 'Completed',
      volumeName: volume,
      backupCreatedAt: created,
      snapshotCreatedAt: created,
      snapshotName: `snap-${short(name)}`,
      size: String(GiB),
      progress: 100,
      url: `s3://backups@us-east-1/?backup=${name}&volume=${volume}`,
    },
  };
}

/** Every object of a spec, by store resource. */
export function longhornObjects(
  spec: LonghornSpec,
  now = Date.now(),
): [LonghornResource, KObject][] {
  const ns = spec.namespace ?? 'longhorn-system';
  const at = new Date(now - 3_600_000).toISOString();
  const out: [LonghornResource, KObject][] = [];
  for (const n of spec.nodes) out.push(['lh-nodes', lhNodeObject(ns, n, spec.disks?.[n])]);
  out.push([
    'lh-settings',
    settingObject(ns, 'node-drain-policy', spec.drainPolicy ?? 'block-if-contains-last-replica'),
  ]);
  for (const v of spec.volumes) {
    out.push(['lh-volumes', volumeObject(ns, v)]);
    out.push(['lh-engines', engineObject(ns, v)]);
    for (const n of v.replicas) out.push(['lh-replicas', replicaObject(ns, v, n, at)]);
    (v.backups ?? []).forEach((b, i) => {
      out.push(['lh-backups', backupObject(ns, v.name, i, b, now)]);
    });
  }
  return out;
}

export type LonghornResource =
  | 'lh-volumes'
  | 'lh-replicas'
  | 'lh-engines'
  | 'lh-nodes'
  | 'lh-settings'
  | 'lh-backups';

export const LONGHORN_RESOURCES: readonly LonghornResource[] = [
  'lh-volumes',
  'lh-replicas',
  'lh-engines',
  'lh-nodes',
  'lh-settings',
  'lh-backups',
];
