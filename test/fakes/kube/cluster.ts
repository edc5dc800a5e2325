/**
 * What the cluster does besides storing objects: node readiness (the kubelet), evictions
 * checked against PodDisruptionBudgets, graceful pod deletion, and controllers that replace
 * deleted pods (a ReplicaSet/StatefulSet elsewhere, a DaemonSet or static pod on the same node).
 */
import { readyCondition, replacementPod } from './seed.js';
import { ApiError, badRequest, notFound, successStatus } from './status.js';
import { type KObject, type ObjectStore, realClearTimeout, realSetTimeout } from './store.js';

export interface PdbRule {
  namespace: string;
  /** One pod; without it the rule covers every pod of the namespace (counted per pod). */
  name?: string;
  /** How many eviction attempts of each pod answer 429 before one succeeds, or 'always'. */
  blockTimes: number | 'always';
  /** The budget's name in the 429 message (default `<namespace>-pdb`). */
  pdbName?: string;
}

export interface EvictionBehaviour {
  /** How long an evicted (or deleted) pod stays Terminating before it is gone. Default 20. */
  deleteAfterMs: number;
  /** Whether controllers replace a deleted pod (ReplicaSet/StatefulSet on another node). Default true. */
  reschedule: boolean;
}

export interface EvictionRecord {
  namespace: string;
  name: string;
  node: string;
  outcome: 'evicted' | 'blocked' | 'not-found';
  at: number;
}

const FINISHED = ['Succeeded', 'Failed'];
const podKey = (ns: string, name: string) => `${ns}/${name}`;

export class Cluster {
  readonly evictions: EvictionRecord[] = [];
  behaviour: EvictionBehaviour = { deleteAfterMs: 20, reschedule: true };
  private pdbs: PdbRule[] = [];
  private readonly attempts = new Map<string, number>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(private readonly store: ObjectStore) {}

  setPdb(rule: PdbRule): void {
    this.pdbs = this.pdbs.filter((r) => !(r.namespace === rule.namespace && r.name === rule.name));
    this.pdbs.push(rule);
    for (const k of [...this.attempts.keys()]) {
      if (k.startsWith(`${rule.namespace}/`)) this.attempts.delete(k);
    }
  }

  clearPdbs(): void {
    this.pdbs = [];
    this.attempts.clear();
  }

  setNodeReady(name: string, ready: boolean): KObject {
    const node = this.store.mutate('nodes', undefined, name, (n) => {
      const status = n.status as { conditions: Record<string, unknown>[] };
      const at = status.conditions.findIndex((c) => c.type === 'Ready');
      const next = readyCondition(ready);
      const old = status.conditions[at];
      if (old && old.status === next.status)
        next.lastTransitionTime = String(old.lastTransitionTime);
      if (at >= 0) status.conditions[at] = next;
      else status.conditions.push(next);
    });
    if (!node) throw new Error(`FakeKube.setNodeReady: no node ${name}`);
    return node;
  }

  /** POST …/pods/{name}/eviction: 201, 404, 400 (bad body) or 429 (a budget blocks). */
  evict(namespace: string, name: string, body: unknown): object {
    const pod = this.store.get('pods', namespace, name);
    const node = String((pod?.spec as { nodeName?: string } | undefined)?.nodeName ?? '');
    const record = (outcome: EvictionRecord['outcome']) =>
      this.evictions.push({ namespace, name, node, outcome, at: Date.now() });
    const eviction = body as { kind?: string; metadata?: { name?: string } } | undefined;
    if (eviction?.kind !== 'Eviction') {
      throw badRequest(
        `expected an Eviction object (policy/v1), got kind ${String(eviction?.kind)}`,
      );
    }
    if (eviction.metadata?.name !== name) {
      throw badRequest('name in URL does not match name in Eviction object');
    }
    if (!pod) {
      record('not-found');
      throw notFound('pods', name);
    }
    const phase = (pod.status as { phase?: string }).phase ?? '';
    if (!pod.metadata.deletionTimestamp && !FINISHED.includes(phase)) {
      const rule =
        this.pdbs.find((r) => r.namespace === namespace && r.name === name) ??
        this.pdbs.find((r) => r.namespace === namespace && r.name === undefined);
      if (rule) {
        const k = podKey(namespace, name);
        const n = this.attempts.get(k) ?? 0;
        if (rule.blockTimes === 'always' || n < rule.blockTimes) {
          this.attempts.set(k, n + 1);
          record('blocked');
          const pdb = rule.pdbName ?? `${namespace}-pdb`;
          throw new ApiError(
            429,
            'TooManyRequests',
            "Cannot evict pod as it would violate the pod's disruption budget.",
            {
              causes: [
                {
                  reason: 'DisruptionBudget',
                  message: `The disruption budget ${pdb} needs 1 healthy pods and has 1 currently`,
                },
              ],
            },
          );
        }
      }
    }
    record('evicted');
    this.deletePod(namespace, name);
    return successStatus(201);
  }

  /** Graceful deletion: Terminating (deletionTimestamp) now, gone after deleteAfterMs. */
  deletePod(namespace: string, name: string): KObject {
    const pod = this.store.mutate('pods', namespace, name, (p) => {
      if (p.metadata.deletionTimestamp) return false;
      p.metadata.deletionTimestamp = new Date(Date.now() + 30_000).toISOString();
      p.metadata.deletionGracePeriodSeconds = 30;
    });
    if (!pod) throw notFound('pods', name);
    this.later(this.behaviour.deleteAfterMs, () => {
      const gone = this.store.delete('pods', namespace, name);
      if (gone && gone.metadata.uid === pod.metadata.uid && this.behaviour.reschedule) {
        this.replace(gone);
      }
    });
    return pod;
  }

  /** Timers still pending are dropped (at stop). */
  stop(): void {
    for (const t of this.timers) realClearTimeout(t);
    this.timers.clear();
  }

  private replace(gone: KObject): void {
    const owner = gone.metadata.ownerReferences?.[0]?.kind;
    const oldNode = String((gone.spec as { nodeName?: string }).nodeName ?? '');
    if (owner === 'DaemonSet' || owner === 'Node') {
      // The DaemonSet controller (or the kubelet, for a static pod) puts it back on its node.
      this.store.create('pods', replacementPodOnSameNode(gone));
      return;
    }
    if (owner !== 'ReplicaSet' && owner !== 'StatefulSet') return;
    this.store.create('pods', replacementPod(gone, this.pickNode(oldNode)));
  }

  /** A Ready, schedulable node other than `except`, the one with the fewest pods. */
  private pickNode(except: string): string {
    const pods = this.store.list('pods');
    const candidates = this.store
      .list('nodes')
      .filter((n) => n.metadata.name !== except)
      .filter((n) => !(n.spec as { unschedulable?: boolean }).unschedulable)
      .filter((n) =>
        (n.status as { conditions?: { type: string; status: string }[] }).conditions?.some(
          (c) => c.type === 'Ready' && c.status === 'True',
        ),
      )
      .map((n) => ({
        name: n.metadata.name,
        load: pods.filter((p) => (p.spec as { nodeName?: string }).nodeName === n.metadata.name)
          .length,
      }))
      .sort((a, b) => a.load - b.load || a.name.localeCompare(b.name));
    return candidates[0]?.name ?? '';
  }

  private later(ms: number, fn: () => void): void {
    const t = realSetTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }
}

function replacementPodOnSameNode(gone: KObject): KObject {
  const copy = replacementPod(gone, String((gone.spec as { nodeName?: string }).nodeName ?? ''));
  if (gone.metadata.ownerReferences?.[0]?.kind === 'Node') {
    copy.metadata.name = gone.metadata.name;
    copy.metadata.annotations = gone.metadata.annotations ?? {};
  }
  return copy;
}
