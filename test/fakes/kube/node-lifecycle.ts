/**
 * The node lifecycle controller's tainting of cordoned nodes (kubernetes
 * pkg/controller/nodelifecycle/node_lifecycle_controller.go, doNoScheduleTaintingPass): a node
 * with `spec.unschedulable: true` gets the taint `node.kubernetes.io/unschedulable:NoSchedule`
 * (k8s.io/api core/v1 well_known_taints.go, TaintNodeUnschedulable), which it takes off again
 * on uncordon. The scheduler's NodeUnschedulable plugin lets a pod onto a cordoned node only
 * when it tolerates that taint.
 *
 * Opt-in (the fake's other tests see nodes without it): `const stop = taintCordonedNodes(kube.store)`.
 * Like the controller, it writes after the cordon, as a change of its own (a MODIFIED event).
 */
import type { KObject, ObjectStore } from './store.js';

export const UNSCHEDULABLE_TAINT = {
  key: 'node.kubernetes.io/unschedulable',
  effect: 'NoSchedule',
} as const;

interface Taint {
  key: string;
  value?: string;
  effect: string;
  timeAdded?: string;
}

/** Keeps every node's unschedulable taint in step with its spec.unschedulable; returns stop. */
export function taintCordonedNodes(store: ObjectStore): () => void {
  let stopped = false;
  const reconcile = (name: string) => {
    if (stopped) return;
    store.mutate('nodes', undefined, name, (node) => reconcileTaint(node));
  };
  const unsubscribe = store.subscribe((ev) => {
    if (ev.resource !== 'nodes' || ev.type === 'DELETED') return;
    const name = ev.object.metadata.name;
    queueMicrotask(() => reconcile(name));
  });
  for (const node of store.list('nodes')) reconcile(node.metadata.name);
  return () => {
    stopped = true;
    unsubscribe();
  };
}

/** Adds or removes the taint; `false` when it already matches. */
function reconcileTaint(node: KObject): boolean {
  const spec = node.spec as { unschedulable?: boolean; taints?: Taint[] };
  const taints = spec.taints ?? [];
  const isOurs = (t: Taint) =>
    t.key === UNSCHEDULABLE_TAINT.key && t.effect === UNSCHEDULABLE_TAINT.effect;
  const has = taints.some(isOurs);
  if (Boolean(spec.unschedulable) === has) return false;
  const others = taints.filter((t) => !isOurs(t));
  const next = spec.unschedulable
    ? [
        ...others,
        { ...UNSCHEDULABLE_TAINT, timeAdded: new Date().toISOString().replace(/\.\d+Z$/, 'Z') },
      ]
    : others;
  if (next.length > 0) spec.taints = next;
  else delete spec.taints;
  return true;
}
