/**
 * A simulated longhorn-manager (its volume/replica/engine/node controllers, reduced to what a
 * node going down and coming back does — longhorn/longhorn#1958, #5495):
 *
 * - A node goes down (`isNodeUp(node)` false: by default its Kubernetes node is not Ready; in
 *   the ssh lab, its sshd is down — test/helpers/longhorn-sim.ts): each of its replicas fails
 *   at once (the engine loses it): spec.failedAt set, status.currentState `stopped`, the
 *   engine's replicaModeMap `ERR`; its Longhorn node's Ready condition False.
 * - Volume robustness, as Longhorn computes it for attached volumes: every wanted replica
 *   healthy (spec.healthyAt set, failedAt empty) → `healthy`; none → `faulted`; else
 *   `degraded` (status.lastDegradedAt). Detached volumes: `unknown`.
 * - The node is back: a failed replica is reused and rebuilt from a healthy one: failedAt and
 *   healthyAt cleared, mode `WO`, the engine's status.rebuildStatus[address] = {isRebuilding:
 *   true, progress 0…100, state in_progress} over `rebuildMs`; then healthyAt set, mode `RW`,
 *   the rebuild entry gone, the volume healthy again. A volume with no healthy replica left
 *   (faulted) gets its replica back as it was (salvaged) without a rebuild.
 *
 * Every object it writes is checked against Longhorn's CRD schema (crd-validate.ts); problems
 * land in `schemaProblems` (tests assert it stays empty).
 *
 * Observe: `events` — { at, node?, volume?, what: 'replica-failed' | 'rebuild-started' |
 * 'rebuild-progress' | 'rebuilt' | 'robustness', detail }.
 */
import { type KObject, type ObjectStore, realClearTimeout, realSetTimeout } from '../store.js';
import { longhornSchemaProblems } from './crd-validate.js';
import type { LonghornResource } from './objects.js';

export interface LonghornEvent {
  at: number;
  what: 'replica-failed' | 'rebuild-started' | 'rebuild-progress' | 'rebuilt' | 'robustness';
  node?: string;
  volume?: string;
  detail: string;
}

export interface LonghornControllerOptions {
  /** How long a replica's rebuild takes, 0 → 100 %. Default 3000 ms. */
  rebuildMs?: number;
  tickMs?: number;
}

// biome-ignore lint/suspicious/noExplicitAny: Longhorn objects as the CRD schemas shape them, edited field by field
type Any = Record<string, any>;

export class LonghornController {
  readonly events: LonghornEvent[] = [];
  readonly schemaProblems: string[] = [];
  rebuildMs: number;
  private readonly tickMs: number;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  /** replica name → when its rebuild started. */
  private readonly rebuilding = new Map<string, number>();
  isNodeUp: (node: string) => boolean;

  constructor(
    private readonly store: ObjectStore,
    opts: LonghornControllerOptions = {},
  ) {
    this.rebuildMs = opts.rebuildMs ?? 3000;
    this.tickMs = opts.tickMs ?? 100;
    this.isNodeUp = (node) => {
      const n = store.get('nodes', undefined, node) as Any | undefined;
      const ready = (n?.status?.conditions ?? []).find((c: Any) => c.type === 'Ready');
      return ready?.status === 'True';
    };
  }

  /** Checks an object against its CRD and records what is wrong. */
  check(obj: KObject): void {
    for (const p of longhornSchemaProblems(obj)) {
      this.schemaProblems.push(`${obj.kind} ${obj.metadata.name}: ${p}`);
    }
  }

  start(): void {
    this.reconcile();
    const tick = () => {
      if (this.stopped) return;
      this.reconcile();
      this.timer = realSetTimeout(tick, this.tickMs);
    };
    this.timer = realSetTimeout(tick, this.tickMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) realClearTimeout(this.timer);
  }

  private list(r: LonghornResource): Any[] {
    return this.store.list(r) as Any[];
  }

  private write(r: LonghornResource, before: Any, after: Any): void {
    if (JSON.stringify(before) === JSON.stringify(after)) return;
    this.check(after as KObject);
    this.store.update(r, after as KObject);
  }

  private event(e: Omit<LonghornEvent, 'at'>): void {
    this.events.push({ at: Date.now(), ...e });
  }

  /** One pass of every controller; idempotent. */
  reconcile(): void {
    const now = new Date().toISOString();
    const up = new Map<string, boolean>();
    const isUp = (node: string) => {
      if (!up.has(node)) up.set(node, this.isNodeUp(node));
      return up.get(node)!;
    };
    for (const n of this.list('lh-nodes')) {
      const next = structuredClone(n);
      const ok = isUp(n.metadata.name);
      for (const c of next.status?.conditions ?? []) {
        if (c.type === 'Ready' && (c.status === 'True') !== ok) {
          c.status = ok ? 'True' : 'False';
          c.reason = ok ? '' : 'KubernetesNodeNotReady';
          c.lastTransitionTime = now;
        }
      }
      this.write('lh-nodes', n, next);
    }
    const engines = new Map(this.list('lh-engines').map((e) => [e.spec.volumeName, e]));
    const replicas = this.list('lh-replicas');
    for (const r of replicas) {
      const node = r.spec.nodeID;
      const engine = engines.get(r.spec.volumeName);
      if (!engine) continue;
      const name = r.metadata.name;
      const address = `tcp://${r.status.ip}:${r.status.port}`;
      const next = structuredClone(r);
      const e = engine;
      e.spec.replicaAddressMap ??= {};
      e.status.replicaModeMap ??= {};
      e.status.rebuildStatus ??= {};
      if (!isUp(node)) {
        if (!r.spec.failedAt) {
          next.spec.failedAt = now;
          next.spec.lastFailedAt = now;
          next.spec.desireState = 'stopped';
          next.status.currentState = 'stopped';
          next.status.started = false;
          this.rebuilding.delete(name);
          delete e.status.rebuildStatus[address];
          e.status.replicaModeMap[name] = 'ERR';
          delete e.spec.replicaAddressMap[name];
          this.event({ what: 'replica-failed', node, volume: r.spec.volumeName, detail: name });
        }
      } else if (r.spec.failedAt) {
        const sources = replicas.filter(
          (o) =>
            o.spec.volumeName === r.spec.volumeName &&
            o !== r &&
            o.spec.healthyAt &&
            !o.spec.failedAt &&
            isUp(o.spec.nodeID),
        );
        next.spec.failedAt = '';
        next.spec.desireState = 'running';
        next.status.currentState = 'running';
        next.status.started = true;
        e.spec.replicaAddressMap[name] = address;
        if (sources.length === 0) {
          // Nothing to rebuild from: the replica comes back with its data (salvage).
          next.spec.healthyAt = now;
          e.status.replicaModeMap[name] = 'RW';
          this.event({
            what: 'rebuilt',
            node,
            volume: r.spec.volumeName,
            detail: `${name} salvaged`,
          });
        } else {
          next.spec.healthyAt = '';
          e.status.replicaModeMap[name] = 'WO';
          e.status.rebuildStatus[address] = {
            isRebuilding: true,
            progress: 0,
            state: 'in_progress',
            error: '',
            fromReplicaAddressList: sources.map((s) => `tcp://${s.status.ip}:${s.status.port}`),
          };
          this.rebuilding.set(name, Date.now());
          this.event({ what: 'rebuild-started', node, volume: r.spec.volumeName, detail: name });
        }
      } else if (
        this.rebuilding.has(name) ||
        (!r.spec.healthyAt && e.status.rebuildStatus[address])
      ) {
        const started = this.rebuilding.get(name) ?? Date.now();
        this.rebuilding.set(name, started);
        const progress = Math.min(100, Math.floor(((Date.now() - started) / this.rebuildMs) * 100));
        const status = e.status.rebuildStatus[address];
        if (progress >= 100) {
          next.spec.healthyAt = now;
          next.spec.lastHealthyAt = now;
          e.status.replicaModeMap[name] = 'RW';
          delete e.status.rebuildStatus[address];
          this.rebuilding.delete(name);
          this.event({ what: 'rebuilt', node, volume: r.spec.volumeName, detail: name });
        } else if (status && status.progress !== progress) {
          status.progress = progress;
          this.event({
            what: 'rebuild-progress',
            node,
            volume: r.spec.volumeName,
            detail: `${progress}%`,
          });
        }
      }
      this.write('lh-replicas', r, next);
    }
    const original = new Map(this.list('lh-engines').map((e) => [e.spec.volumeName, e]));
    for (const [volume, e] of engines) this.write('lh-engines', original.get(volume)!, e);
    const after = this.list('lh-replicas');
    for (const v of this.list('lh-volumes')) {
      const next = structuredClone(v);
      const healthy = after.filter(
        (r) => r.spec.volumeName === v.metadata.name && r.spec.healthyAt && !r.spec.failedAt,
      ).length;
      const robustness =
        v.status.state !== 'attached'
          ? 'unknown'
          : healthy >= v.spec.numberOfReplicas
            ? 'healthy'
            : healthy === 0
              ? 'faulted'
              : 'degraded';
      if (robustness !== v.status.robustness) {
        next.status.robustness = robustness;
        if (robustness === 'degraded') next.status.lastDegradedAt = now;
        this.event({ what: 'robustness', volume: v.metadata.name, detail: robustness });
      }
      const backups = this.list('lh-backups')
        .filter((b) => b.status?.volumeName === v.metadata.name && b.status?.state === 'Completed')
        .sort((a, b) =>
          String(a.status.backupCreatedAt).localeCompare(String(b.status.backupCreatedAt)),
        );
      const latest = backups.at(-1);
      if (latest) {
        next.status.lastBackup = latest.metadata.name;
        next.status.lastBackupAt = latest.status.backupCreatedAt;
      }
      this.write('lh-volumes', v, next);
    }
  }
}
