import type { V1Node, V1Pod } from '@kubernetes/client-node';

/** A K3s node as the bot shows it. */
export interface NodeInfo {
  name: string;
  /** Condition Ready=True. */
  ready: boolean;
  /** Cordoned. */
  unschedulable: boolean;
  kubeletVersion: string;
  /**
   * status.nodeInfo.bootID: the kubelet reports /proc/sys/kernel/random/boot_id, new after every
   * boot. '' when the node reports none.
   */
  bootId: string;
  /** From the labels node-role.kubernetes.io/<role> (K3s workers often have none). */
  roles: string[];
  conditions: { type: string; status: string; reason?: string; message?: string }[];
}

export interface PodInfo {
  namespace: string;
  name: string;
  node: string;
  phase: string;
  /**
   * Kind of the controlling owner (the ownerReference with controller: true): ReplicaSet,
   * StatefulSet, DaemonSet, Job, Node (static pod)… None: a bare pod that nothing recreates.
   */
  ownerKind?: string;
  daemonSet: boolean;
  /** The API mirror of a static pod (annotation kubernetes.io/config.mirror). */
  mirror: boolean;
  /** Names of the pod's emptyDir volumes (disk or memory): their data goes with the pod. */
  emptyDirs: string[];
}

const ROLE_LABEL = 'node-role.kubernetes.io/';
const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';
const FINISHED_PHASES = ['Succeeded', 'Failed'];

/**
 * Works on both the typed objects the API classes return and the plain JSON a watch delivers
 * (same field names; only timestamps differ, and they are not read here).
 */
export function toNodeInfo(node: V1Node): NodeInfo {
  const labels = node.metadata?.labels ?? {};
  const roles = Object.keys(labels)
    .filter((k) => k.startsWith(ROLE_LABEL))
    .map((k) => k.slice(ROLE_LABEL.length))
    .filter(Boolean)
    .sort();
  const conditions = (node.status?.conditions ?? []).map((c) => ({
    type: c.type,
    status: c.status,
    ...(c.reason ? { reason: c.reason } : {}),
    ...(c.message ? { message: c.message } : {}),
  }));
  return {
    name: node.metadata?.name ?? '',
    ready: conditions.some((c) => c.type === 'Ready' && c.status === 'True'),
    unschedulable: node.spec?.unschedulable === true,
    kubeletVersion: node.status?.nodeInfo?.kubeletVersion ?? '',
    bootId: node.status?.nodeInfo?.bootID ?? '',
    roles,
    conditions,
  };
}

export function toPodInfo(pod: V1Pod): PodInfo {
  const owner = (pod.metadata?.ownerReferences ?? []).find((o) => o.controller === true);
  return {
    namespace: pod.metadata?.namespace ?? '',
    name: pod.metadata?.name ?? '',
    node: pod.spec?.nodeName ?? '',
    phase: pod.status?.phase ?? 'Unknown',
    ...(owner ? { ownerKind: owner.kind } : {}),
    daemonSet: owner?.kind === 'DaemonSet',
    mirror: pod.metadata?.annotations?.[MIRROR_ANNOTATION] !== undefined,
    emptyDirs: (pod.spec?.volumes ?? []).filter((v) => v.emptyDir).map((v) => v.name),
  };
}

/** No controller will recreate it (not a mirror pod either): evicting it deletes it for good. */
export const isUnmanaged = (p: PodInfo) => !p.ownerKind && !p.mirror;

/** Succeeded or Failed: nothing runs any more. */
export const isFinished = (p: PodInfo) => FINISHED_PHASES.includes(p.phase);

export const podName = (p: Pick<PodInfo, 'namespace' | 'name'>) => `${p.namespace}/${p.name}`;

/** `Ready=False (KubeletNotReady: container runtime is down), MemoryPressure=False` */
export function describeConditions(n: NodeInfo): string {
  if (n.conditions.length === 0) return 'none reported';
  return n.conditions
    .map((c) => {
      const why = [c.reason, c.message].filter(Boolean).join(': ');
      const show = why && (c.type === 'Ready' || c.status !== 'False');
      return `${c.type}=${c.status}${show ? ` (${why})` : ''}`;
    })
    .join(', ');
}

/** `300 ms`, `45 s`, `5 min`, `1 h 30 min`. */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  const s = Math.round(ms / 1000);
  if (s < 90) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 90) return `${m} min`;
  return `${Math.floor(m / 60)} h${m % 60 ? ` ${m % 60} min` : ''}`;
}
