/** Start options of the fake, and the Kubernetes-shaped objects built from them. */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { LonghornControllerOptions } from './longhorn/controller.js';
import type { LonghornSpec } from './longhorn/objects.js';
import type { RbacObject } from './rbac.js';
import type { KObject } from './store.js';

export interface NodeSpec {
  name: string;
  ready?: boolean;
  /** Each role becomes the label node-role.kubernetes.io/<role>=true. */
  roles?: string[];
  version?: string;
  unschedulable?: boolean;
  arch?: string;
  /**
   * status.nodeInfo.bootID (the kubelet reports /proc/sys/kernel/random/boot_id); a random UUID
   * by default, `null` for a node that reports none.
   */
  bootId?: string | null;
}

export type OwnerKind = 'ReplicaSet' | 'DaemonSet' | 'StatefulSet' | 'Job';

export interface PodSpec {
  namespace: string;
  name: string;
  /** Empty: a Pending pod no node took. */
  node: string;
  /**
   * The controlling owner (ownerReference with controller: true). None (and not `mirror`): a
   * bare pod — nothing recreates it once it is evicted or deleted.
   */
  ownerKind?: OwnerKind;
  /** The owner's name; by default the pod name without its last `-suffix`. */
  ownerName?: string;
  /** A static pod's mirror (annotation kubernetes.io/config.mirror, owned by the Node). */
  mirror?: boolean;
  /** Running by default; Succeeded/Failed pods are finished. */
  phase?: string;
  /** emptyDir volumes, mounted in the container: a name, or `{ name, medium: 'Memory' }` (tmpfs). */
  emptyDirs?: (string | EmptyDirSpec)[];
}

export interface EmptyDirSpec {
  name: string;
  medium?: 'Memory';
  sizeLimit?: string;
}

export interface AppResourceSpec {
  kind: string;
  name: string;
  group?: string;
  version?: string;
  namespace?: string;
}

export interface AppHistorySpec {
  id: number;
  /** Single-source apps. */
  revision?: string;
  /** Multi-source apps: one revision per source (the entry also records the app's sources). */
  revisions?: string[];
  deployedAt?: string;
  source?: Record<string, unknown>;
}

/** One source of a multi-source app (spec.sources[]). */
export interface AppSourceSpec {
  repoURL?: string;
  path?: string;
  /** What the source tracks (default HEAD). */
  targetRevision?: string;
  /** The revision deployed now (status.sync.revisions[i]). */
  revision: string;
  /** What its target resolves to; by default `revision`. */
  headRevision?: string;
}

export interface ApplicationSpec {
  name: string;
  namespace?: string;
  syncStatus: 'Synced' | 'OutOfSync' | 'Unknown';
  health: 'Healthy' | 'Progressing' | 'Degraded' | 'Suspended' | 'Missing' | 'Unknown';
  /**
   * The revision deployed now (status.sync.revision); a 40-hex sha is made from a short name.
   * Ignored for a multi-source app (`sources`).
   */
  revision: string;
  /** The revision HEAD resolves to; by default `revision` (or a new one when OutOfSync). */
  headRevision?: string;
  autoSync?: boolean;
  history?: AppHistorySpec[];
  /** What a sync applies; by default a Deployment, a Service and a ConfigMap named after the app. */
  resources?: AppResourceSpec[];
  repoURL?: string;
  path?: string;
  /** spec.source.targetRevision (default HEAD): what the app tracks, e.g. a release tag. */
  targetRevision?: string;
  destinationNamespace?: string;
  /** false: the destination namespace does not exist yet (syncs need CreateNamespace=true). */
  destinationNamespaceExists?: boolean;
  /** A multi-source app: spec.sources instead of spec.source. */
  sources?: AppSourceSpec[];
  /** spec.syncPolicy.syncOptions, e.g. ['CreateNamespace=true', 'ServerSideApply=true']. */
  syncOptions?: string[];
  /** spec.syncPolicy.retry, e.g. { limit: 3, backoff: { duration: '5s', factor: 2 } }. */
  retry?: Record<string, unknown>;
}

export interface FakeKubeOptions {
  nodes: NodeSpec[];
  pods?: PodSpec[];
  applications?: ApplicationSpec[];
  /**
   * The Roles, ClusterRoles and bindings every request is authorized against (parsed YAML);
   * default: what deploy/ ships (shipped-rbac.ts). See rbac.ts.
   */
  rbac?: RbacObject[];
  /** Serve https with a self-signed certificate for 127.0.0.1 (kube.caFile); default http. */
  tls?: boolean;
  /**
   * Longhorn installed (its CRDs served, objects seeded, a simulated longhorn-manager): see
   * longhorn/objects.ts and longhorn/controller.ts. Without it, longhorn.io answers 404 as a
   * cluster without Longhorn does.
   */
  longhorn?: LonghornSpec & LonghornControllerOptions;
}

export const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

/** A git-like sha for a short revision name ("v1" → 40 hex digits); shas stay as they are. */
export function sha(revision: string): string {
  return /^[0-9a-f]{40}$/.test(revision)
    ? revision
    : createHash('sha1').update(revision).digest('hex');
}

export function readyCondition(ready: boolean) {
  const t = now();
  return ready
    ? {
        type: 'Ready',
        status: 'True',
        reason: 'KubeletReady',
        message: 'kubelet is posting ready status',
        lastHeartbeatTime: t,
        lastTransitionTime: t,
      }
    : {
        type: 'Ready',
        status: 'Unknown',
        reason: 'NodeStatusUnknown',
        message: 'Kubelet stopped posting node status.',
        lastHeartbeatTime: t,
        lastTransitionTime: t,
      };
}

/** MemoryPressure, DiskPressure, PIDPressure: False, as the kubelet posts them on a healthy node. */
export function pressureConditions() {
  const pressure = (type: string, reason: string) => ({
    type,
    status: 'False',
    reason,
    message: `kubelet has no ${type.replace('Pressure', '').toLowerCase()} pressure`,
    lastHeartbeatTime: now(),
    lastTransitionTime: now(),
  });
  return [
    pressure('MemoryPressure', 'KubeletHasSufficientMemory'),
    pressure('DiskPressure', 'KubeletHasNoDiskPressure'),
    pressure('PIDPressure', 'KubeletHasSufficientPID'),
  ];
}

export function nodeObject(spec: NodeSpec): KObject {
  const labels: Record<string, string> = {
    'kubernetes.io/hostname': spec.name,
    'kubernetes.io/os': 'linux',
    'kubernetes.io/arch': spec.arch ?? 'arm64',
  };
  for (const role of spec.roles ?? []) labels[`node-role.kubernetes.io/${role}`] = 'true';
  const bootId = spec.bootId === undefined ? randomUUID() : spec.bootId;
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: spec.name, labels, annotations: { 'k3s.io/hostname': spec.name } },
    spec: {
      providerID: `k3s://${spec.name}`,
      ...(spec.unschedulable ? { unschedulable: true } : {}),
    },
    status: {
      conditions: [...pressureConditions(), readyCondition(spec.ready ?? true)],
      nodeInfo: {
        ...(bootId === null ? {} : { bootID: bootId }),
        kubeletVersion: spec.version ?? 'v1.31.4+k3s1',
        kubeProxyVersion: spec.version ?? 'v1.31.4+k3s1',
        containerRuntimeVersion: 'containerd://1.7.23-k3s2',
        operatingSystem: 'linux',
        architecture: spec.arch ?? 'arm64',
      },
      addresses: [{ type: 'Hostname', address: spec.name }],
    },
  };
}

const suffix = () => randomBytes(3).toString('hex').slice(0, 5);

export function ownerNameOf(spec: PodSpec): string {
  return spec.ownerName ?? spec.name.replace(/-[^-]+$/, '');
}

export function podObject(spec: PodSpec): KObject {
  const metadata: KObject['metadata'] = { name: spec.name, namespace: spec.namespace, labels: {} };
  if (spec.mirror) {
    metadata.annotations = { 'kubernetes.io/config.mirror': randomBytes(16).toString('hex') };
    metadata.ownerReferences = [
      { apiVersion: 'v1', kind: 'Node', name: spec.node, uid: randomUUID(), controller: true },
    ];
  } else if (spec.ownerKind) {
    metadata.ownerReferences = [
      {
        apiVersion: spec.ownerKind === 'Job' ? 'batch/v1' : 'apps/v1',
        kind: spec.ownerKind,
        name: ownerNameOf(spec),
        uid: randomUUID(),
        controller: true,
      },
    ];
  }
  metadata.labels = { app: ownerNameOf(spec) };
  const phase = spec.phase ?? (spec.node ? 'Running' : 'Pending');
  const volumes = podVolumes(spec);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata,
    spec: {
      ...(spec.node ? { nodeName: spec.node } : {}),
      containers: [
        {
          name: 'main',
          image: `registry.lab/${ownerNameOf(spec)}:latest`,
          ...(volumes.length > 0 ? { volumeMounts: volumes.map((v) => v.mount) } : {}),
        },
      ],
      ...(volumes.length > 0 ? { volumes: volumes.map((v) => v.volume) } : {}),
      restartPolicy: 'Always',
      schedulerName: 'default-scheduler',
    },
    status: { phase, ...(phase === 'Running' ? { startTime: now() } : {}) },
  };
}

/**
 * The pod's volumes as the API server returns them: the emptyDirs asked for, and (like the
 * ServiceAccount admission plugin adds to every pod but static ones) a projected API token.
 */
function podVolumes(spec: PodSpec): { volume: object; mount: object }[] {
  const emptyDirs = (spec.emptyDirs ?? []).map((e) => {
    const { name, ...source } = typeof e === 'string' ? { name: e } : e;
    return {
      volume: { name, emptyDir: source },
      mount: { name, mountPath: `/${name}` },
    };
  });
  if (spec.mirror) return emptyDirs;
  const token = `kube-api-access-${suffix()}`;
  return [
    ...emptyDirs,
    {
      volume: {
        name: token,
        projected: {
          defaultMode: 420,
          sources: [
            { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
            { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
          ],
        },
      },
      mount: {
        name: token,
        mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
        readOnly: true,
      },
    },
  ];
}

/** The pod a controller would create to replace an evicted one (same name for a StatefulSet). */
export function replacementPod(old: KObject, node: string): KObject {
  const owner = old.metadata.ownerReferences?.[0];
  const name =
    owner?.kind === 'StatefulSet' ? old.metadata.name : `${owner?.name ?? 'pod'}-${suffix()}`;
  const spec = { ...(old.spec as Record<string, unknown>) };
  delete spec.nodeName;
  if (node) spec.nodeName = node;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: old.metadata.namespace!,
      labels: old.metadata.labels ?? {},
      ...(old.metadata.ownerReferences ? { ownerReferences: old.metadata.ownerReferences } : {}),
    },
    spec,
    status: node ? { phase: 'Running', startTime: now() } : { phase: 'Pending' },
  };
}

export function defaultResources(spec: ApplicationSpec): AppResourceSpec[] {
  return [
    { group: 'apps', version: 'v1', kind: 'Deployment', name: spec.name },
    { version: 'v1', kind: 'Service', name: spec.name },
    { version: 'v1', kind: 'ConfigMap', name: `${spec.name}-config` },
  ];
}

export function namespaceObject(name: string): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { 'kubernetes.io/metadata.name': name } },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  };
}

/** A multi-source app's spec.sources. */
export function sourcesOf(spec: ApplicationSpec) {
  return spec.sources?.map((s, i) => ({
    repoURL: s.repoURL ?? 'https://git.lab/homelab/gitops.git',
    path: s.path ?? `apps/${spec.name}/source-${i}`,
    targetRevision: s.targetRevision ?? 'HEAD',
  }));
}

export function applicationObject(spec: ApplicationSpec): KObject {
  const source = {
    repoURL: spec.repoURL ?? 'https://git.lab/homelab/gitops.git',
    path: spec.path ?? `apps/${spec.name}`,
    targetRevision: spec.targetRevision ?? 'HEAD',
  };
  const sources = sourcesOf(spec);
  const destination = {
    server: 'https://kubernetes.default.svc',
    namespace: spec.destinationNamespace ?? spec.name,
  };
  const revision = sha(spec.revision);
  const revisions = spec.sources?.map((s) => sha(s.revision));
  const deployed: AppHistorySpec = revisions
    ? { id: 0, revisions: spec.sources!.map((s) => s.revision) }
    : { id: 0, revision: spec.revision };
  // Like Argo CD's persistRevisionHistory: multi-source entries carry revisions/sources only.
  const history = (spec.history ?? [deployed]).map((h) => ({
    id: h.id,
    ...(sources
      ? { revisions: (h.revisions ?? []).map(sha), sources }
      : { revision: sha(h.revision ?? spec.revision), source: h.source ?? source }),
    deployedAt: h.deployedAt ?? now(),
    deployStartedAt: h.deployedAt ?? now(),
  }));
  const resources = (spec.resources ?? defaultResources(spec)).map((r) => ({
    ...(r.group ? { group: r.group } : {}),
    version: r.version ?? 'v1',
    kind: r.kind,
    namespace: r.namespace ?? destination.namespace,
    name: r.name,
    status: spec.syncStatus,
    health: { status: spec.health },
  }));
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: { name: spec.name, namespace: spec.namespace ?? 'argocd', generation: 1 },
    spec: {
      project: 'default',
      ...(sources ? { sources } : { source }),
      destination,
      syncPolicy: {
        ...(spec.autoSync ? { automated: { prune: false, selfHeal: false } } : {}),
        ...(spec.syncOptions ? { syncOptions: spec.syncOptions } : {}),
        ...(spec.retry ? { retry: spec.retry } : {}),
      },
    },
    status: {
      sync: sources
        ? { status: spec.syncStatus, revisions, comparedTo: { sources, destination } }
        : { status: spec.syncStatus, revision, comparedTo: { source, destination } },
      health: { status: spec.health },
      history,
      reconciledAt: now(),
      resources,
      sourceType: 'Directory',
      summary: {},
    },
  };
}
