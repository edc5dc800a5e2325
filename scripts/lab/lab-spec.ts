/**
 * What the local lab holds: the demo's inventory (src/config/demo.ts) as real sshd nodes, and a
 * cluster like the seed's — K3s on x86, pi5, pi4-a and pi4-b with the pods of the demo's Argo CD
 * apps, Longhorn volumes replicated over the workers — in the fake Kubernetes API.
 */
import { DEMO_CONFIG } from '../../src/config/demo.js';
import type { NodeConfig } from '../../src/config/schema.js';
import type { ApplicationSpec, FakeKubeOptions, PodSpec } from '../../test/fakes/kube/fake-kube.js';
import { kubeNodesFor } from '../../test/helpers/app-fixture.js';
import type { LabNodeSpec } from '../../test/helpers/ssh-lab.js';

type DemoNode = NodeConfig & { description?: string };

/** The demo's nodes (name, os, roles, groups, K3s name, description). */
export const DEMO_NODES = (DEMO_CONFIG.inventory?.nodes ?? []) as DemoNode[];

/** The Pi-hole DNS servers and backup agents (the demo's pihole.instances). */
export const SUPPORT_NODES = (DEMO_CONFIG.pihole?.instances ?? []).map((p) => p.name);

export const labNodeSpecs = (): LabNodeSpec[] =>
  DEMO_NODES.map((n) => ({
    name: n.name,
    os: n.os,
    roles: n.roles,
    groups: n.groups,
    ...(n.k3sName ? { k3sName: n.k3sName } : {}),
  }));

/** Where each demo app runs (namespace, node) and what it stores on Longhorn. */
const APPS: {
  name: string;
  namespace: string;
  node: string;
  kind: 'ReplicaSet' | 'StatefulSet';
}[] = [
  { name: 'cert-manager', namespace: 'cert-manager', node: 'x86', kind: 'ReplicaSet' },
  { name: 'home-assistant', namespace: 'home-assistant', node: 'pi4-a', kind: 'StatefulSet' },
  { name: 'homelab-chatops', namespace: 'chatops', node: 'pi5', kind: 'ReplicaSet' },
  { name: 'longhorn', namespace: 'longhorn-system', node: 'x86', kind: 'ReplicaSet' },
  { name: 'monitoring', namespace: 'monitoring', node: 'x86', kind: 'StatefulSet' },
  { name: 'pihole-exporter', namespace: 'monitoring', node: 'pi4-b', kind: 'ReplicaSet' },
  { name: 'tailscale-operator', namespace: 'tailscale', node: 'pi5', kind: 'ReplicaSet' },
  { name: 'vikunja', namespace: 'vikunja', node: 'pi4-b', kind: 'StatefulSet' },
];

const appNames = DEMO_CONFIG.demo?.argoApps ?? APPS.map((a) => a.name);

function applications(): ApplicationSpec[] {
  return APPS.filter((a) => appNames.includes(a.name)).map((a) => ({
    name: a.name,
    // home-assistant has a new commit waiting: /argo sync has something to do.
    syncStatus: a.name === 'home-assistant' ? 'OutOfSync' : 'Synced',
    health: 'Healthy',
    revision: `${a.name}-v1`,
    ...(a.name === 'home-assistant' ? { headRevision: `${a.name}-v2` } : {}),
    autoSync: a.name === 'longhorn' || a.name === 'cert-manager',
    destinationNamespace: a.namespace,
    repoURL: 'https://git.homelab.local/lab/gitops.git',
    path: `apps/${a.name}`,
    syncOptions: ['CreateNamespace=true'],
  }));
}

function pods(k3sNodes: string[]): PodSpec[] {
  const workloads: PodSpec[] = APPS.map((a) => ({
    namespace: a.namespace,
    name: a.kind === 'StatefulSet' ? `${a.name}-0` : `${a.name}-7d9f8c6b5-x2k4q`,
    node: a.node,
    ownerKind: a.kind,
    ownerName: a.name,
  }));
  // What K3s and Longhorn run on every node: left in place by a drain.
  const daemons: PodSpec[] = k3sNodes.flatMap((node) => [
    { namespace: 'kube-system', name: `svclb-traefik-${node}`, node, ownerKind: 'DaemonSet' },
    {
      namespace: 'longhorn-system',
      name: `longhorn-manager-${node}`,
      node,
      ownerKind: 'DaemonSet',
    },
  ]);
  return [...workloads, ...daemons];
}

/** The fake cluster: its nodes follow the sshd nodes (kubelet-sim) when those run. */
export function kubeSpec(): FakeKubeOptions {
  const k3s = kubeNodesFor(labNodeSpecs());
  const workers = k3s.map((n) => n.name).filter((n) => n !== 'x86');
  return {
    nodes: k3s,
    pods: pods(k3s.map((n) => n.name)),
    applications: applications(),
    longhorn: {
      nodes: workers,
      rebuildMs: 5000,
      volumes: [
        {
          name: 'pvc-home-assistant',
          sizeGiB: 4,
          replicas: ['pi4-a', 'pi4-b', 'pi5'],
          pvc: {
            namespace: 'home-assistant',
            name: 'config-home-assistant-0',
            pods: [{ name: 'home-assistant-0', workload: 'StatefulSet/home-assistant' }],
          },
          backups: [{ ageHours: 5 }],
        },
        {
          name: 'pvc-vikunja',
          sizeGiB: 2,
          replicas: ['pi4-b', 'pi5'],
          pvc: {
            namespace: 'vikunja',
            name: 'data-vikunja-0',
            pods: [{ name: 'vikunja-0', workload: 'StatefulSet/vikunja' }],
          },
          backups: [{ ageHours: 5 }],
        },
      ],
    },
  };
}
