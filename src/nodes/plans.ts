import type { Config, NodeConfig } from '../config/schema.js';
import type { Plan } from '../core/reply.js';

/** How a step list names SSH: exactly the connection the bot will open. */
export function sshTarget(node: NodeConfig): string {
  return `ssh -p ${node.port} ${node.user}@${node.host}`;
}

const nodePath = (node: NodeConfig) => `/api/v1/nodes/${node.k3sName}`;

export function cordonStep(node: NodeConfig, unschedulable: boolean): string {
  return `PATCH ${nodePath(node)} {"spec":{"unschedulable":${unschedulable}}}${unschedulable ? ' (cordon)' : ' (uncordon)'}`;
}

export interface DrainPlanOptions {
  /** evict_unmanaged:true — pods no controller recreates are evicted (deleted for good). */
  evictUnmanaged?: boolean;
  /** The configured timeouts the plan quotes (nodeOps). */
  timeouts: {
    drainTimeoutSeconds: number;
    rebootTimeoutSeconds: number;
    readyTimeoutSeconds: number;
  };
  /** Where the bot runs (downward API): its own pod is never evicted. */
  self?: Config['self'];
}

/** The node runs this bot: its `bot-host` role, or the node its pod runs on (NODE_NAME). */
export function isBotHost(node: NodeConfig, self?: Config['self']): boolean {
  return (
    node.roles.includes('bot-host') || (self?.node !== undefined && node.k3sName === self.node)
  );
}

/** `chatops/homelab-chatops-7d9f-abcde`, when the bot's own pod runs on `node`. */
function ownPodOn(node: NodeConfig, self?: Config['self']): string | undefined {
  return self?.pod && self.namespace && self.node === node.k3sName
    ? `${self.namespace}/${self.pod}`
    : undefined;
}

/** `5 min`, `90 s` */
function duration(seconds: number): string {
  return seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
}

export function drainSteps(node: NodeConfig, opts: DrainPlanOptions, reboot = false): string[] {
  const own = ownPodOn(node, opts.self);
  return [
    `GET /api/v1/pods?fieldSelector=spec.nodeName=${node.k3sName} (skip DaemonSet, mirror and finished pods; ${
      opts.evictUnmanaged
        ? 'pods without a controller are evicted too'
        : 'a pod without a controller stops the drain here, before anything changes'
    })`,
    cordonStep(node, true),
    `POST /api/v1/namespaces/{namespace}/pods/{pod}/eviction for each of them (emptyDir data goes with its pod); retry with backoff while a PodDisruptionBudget answers 429, give up after ${duration(opts.timeouts.drainTimeoutSeconds)}`,
    `wait until no evictable pod is left on ${node.k3sName}`,
    ...(own
      ? [
          `leave ${own} (this bot) running: every other pod goes first${reboot ? '; the reboot takes the bot down last' : ''}`,
        ]
      : []),
  ];
}

/** What the plan warns about when evict_unmanaged:true is given. */
function drainWarnings(node: NodeConfig, opts: DrainPlanOptions): string[] {
  return opts.evictUnmanaged
    ? [
        `evict_unmanaged:true: pods on ${node.name} that no controller manages (bare pods) are evicted too and deleted for good — nothing recreates them.`,
      ]
    : [];
}

/** The node is the cluster's one control-plane node: the Kubernetes API goes with it. */
export function isOnlyControlPlane(node: NodeConfig, inventory: readonly NodeConfig[]): boolean {
  return (
    node.roles.includes('control-plane') &&
    inventory.filter((n) => n.roles.includes('control-plane')).length === 1
  );
}

/** Why rebooting this node is riskier than usual; `force:true` territory. */
export function rebootWarnings(
  node: NodeConfig,
  inventory: readonly NodeConfig[],
  self?: Config['self'],
): string[] {
  const warnings: string[] = [];
  if (isBotHost(node, self)) {
    warnings.push(
      `${node.name} runs this bot: the bot goes down with it and finishes the reboot from its journal once it is back.`,
    );
  }
  if (isOnlyControlPlane(node, inventory)) {
    warnings.push(
      `${node.name} is the only control-plane node: the Kubernetes API is down until it is back.`,
    );
  }
  return warnings;
}

export function rebootPlan(
  node: NodeConfig,
  inventory: readonly NodeConfig[],
  opts: DrainPlanOptions,
): Plan {
  const inCluster = Boolean(node.k3sName);
  const t = opts.timeouts;
  const steps = [
    ...(inCluster ? drainSteps(node, opts, true) : []),
    `${sshTarget(node)} -- sudo -n systemctl reboot`,
    `wait for ${node.host}:${node.port} to stop answering SSH, then to answer again with the pinned host key (up to ${duration(t.rebootTimeoutSeconds)})`,
    ...(inCluster
      ? [
          `watch ${nodePath(node)} until condition Ready=True (up to ${duration(t.readyTimeoutSeconds)})`,
          cordonStep(node, false),
        ]
      : []),
  ];
  return {
    summary: inCluster
      ? `Reboot ${node.name}: drain it, reboot it over SSH, wait until it is Ready, uncordon it.`
      : `Reboot ${node.name} over SSH and wait until it answers again (not a K3s node).`,
    steps,
    warnings: [
      ...rebootWarnings(node, inventory, opts.self),
      ...(inCluster ? drainWarnings(node, opts) : []),
    ],
  };
}

export function drainPlan(node: NodeConfig, opts: DrainPlanOptions): Plan {
  const warnings = drainWarnings(node, opts);
  return {
    summary: `Cordon ${node.name} and evict its pods.`,
    steps: drainSteps(node, opts),
    ...(warnings.length > 0 ? { warnings } : {}),
  };
}

export function cordonPlan(node: NodeConfig, unschedulable: boolean): Plan {
  return {
    summary: unschedulable
      ? `Mark ${node.name} unschedulable; running pods stay.`
      : `Mark ${node.name} schedulable again.`,
    steps: [cordonStep(node, unschedulable)],
  };
}
