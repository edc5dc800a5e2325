/**
 * What the two writers of a node's status put there (the simulated kubelet in
 * test/helpers/kubelet-sim.ts calls these):
 *
 * - the kubelet (kubernetes `pkg/kubelet/nodestatus/setters.go`: `MachineInfo` fills
 *   `nodeInfo.bootID` from /proc/sys/kernel/random/boot_id, `ReadyCondition` posts Ready=True
 *   `KubeletReady` "kubelet is posting ready status" with a fresh lastHeartbeatTime);
 * - the node lifecycle controller (kubernetes
 *   `pkg/controller/nodelifecycle/node_lifecycle_controller.go`, `tryUpdateNodeHealth`): once a
 *   node has been silent for node-monitor-grace-period (40 s by default) it sets Ready and the
 *   pressure conditions to Unknown, reason `NodeStatusUnknown`, "Kubelet stopped posting node
 *   status.", keeping lastHeartbeatTime (the last time it heard from the kubelet) and stamping
 *   lastTransitionTime. Until then the last status stays as it was: a Ready=True from before a
 *   reboot, with the old bootID.
 */
import { now, pressureConditions, readyCondition } from './seed.js';
import type { KObject, ObjectStore } from './store.js';

interface Condition {
  type: string;
  status: string;
  lastHeartbeatTime?: string;
  lastTransitionTime?: string;
  [k: string]: unknown;
}

interface NodeStatus {
  conditions?: Condition[];
  nodeInfo?: Record<string, unknown>;
}

/** The node's status.nodeInfo.bootID ('' when it reports none). */
export function bootIdOf(node: KObject | undefined): string {
  return String((node?.status as NodeStatus | undefined)?.nodeInfo?.bootID ?? '');
}

/** Ready=True from the kubelet's condition list, as `kubectl get node` reads it. */
export function isReady(node: KObject | undefined): boolean {
  return Boolean(
    (node?.status as NodeStatus | undefined)?.conditions?.some(
      (c) => c.type === 'Ready' && c.status === 'True',
    ),
  );
}

/**
 * A kubelet that runs on a healthy node posts its status: the pressure conditions False, Ready
 * True, the boot id of the running kernel. lastTransitionTime stays where the status did not
 * change. Undefined when there is no such node.
 */
export function postKubeletStatus(
  store: ObjectStore,
  name: string,
  bootId: string,
): KObject | undefined {
  return store.mutate('nodes', undefined, name, (n) => {
    const status = n.status as NodeStatus;
    const before = new Map((status.conditions ?? []).map((c) => [c.type, c]));
    const posted: Condition[] = [...pressureConditions(), readyCondition(true)];
    for (const c of posted) {
      const old = before.get(c.type);
      if (old && old.status === c.status) c.lastTransitionTime = old.lastTransitionTime;
    }
    const others = (status.conditions ?? []).filter((c) => !posted.some((p) => p.type === c.type));
    status.conditions = [...others, ...posted];
    status.nodeInfo = { ...status.nodeInfo, bootID: bootId };
  });
}

/** The kubelet-owned conditions the node lifecycle controller marks Unknown. */
const KUBELET_CONDITIONS = ['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure'];

/**
 * The node lifecycle controller gave up on a silent node: Ready and the pressure conditions
 * Unknown (NodeStatusUnknown), lastHeartbeatTime kept. nodeInfo (bootID included) is left alone:
 * only the kubelet writes it. Undefined when there is no such node.
 */
export function markNodeStatusUnknown(store: ObjectStore, name: string): KObject | undefined {
  return store.mutate('nodes', undefined, name, (n) => {
    const status = n.status as NodeStatus;
    let changed = false;
    const at = now();
    status.conditions = (status.conditions ?? []).map((c) => {
      if (!KUBELET_CONDITIONS.includes(c.type) || c.status === 'Unknown') return c;
      changed = true;
      return {
        type: c.type,
        status: 'Unknown',
        reason: 'NodeStatusUnknown',
        message: 'Kubelet stopped posting node status.',
        lastHeartbeatTime: c.lastHeartbeatTime ?? at,
        lastTransitionTime: at,
      };
    });
    if (!changed) return false;
  });
}
