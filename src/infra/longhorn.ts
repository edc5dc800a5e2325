/**
 * Longhorn through the Kubernetes API: its custom resources in `longhorn.io/v1beta2`
 * (volumes, replicas, engines, nodes, settings, backups) in its namespace (`longhorn-system` by
 * default), read with list calls only (deploy/clusterrole.yaml). A cluster without Longhorn
 * answers 404 for the group: `state()` is then undefined and callers skip Longhorn cleanly.
 * What is read of each object: longhorn-objects.ts.
 */
import { CustomObjectsApi } from '@kubernetes/client-node';
import type { Kube } from './kube.js';
import { callKube, hasStatus } from './kube-api.js';
import {
  DEFAULT_DRAIN_POLICY,
  type LhVolume,
  type LonghornState,
  rebuildProgress,
  toBackup,
  toNode,
  toReplica,
  toVolume,
} from './longhorn-objects.js';

export const LONGHORN_GROUP = 'longhorn.io';
export const LONGHORN_VERSION = 'v1beta2';

/** What is read, with list calls only (test/deploy/rbac.test.ts reads this list). */
export const LONGHORN_PLURALS = [
  'volumes',
  'replicas',
  'engines',
  'nodes',
  'settings',
  'backups',
] as const;
type Plural = (typeof LONGHORN_PLURALS)[number];

/** Thrown inside: the group is not served (Longhorn not installed). */
class NotInstalled extends Error {}

export class Longhorn {
  private readonly api: CustomObjectsApi;

  constructor(
    private readonly kube: Kube,
    readonly namespace = 'longhorn-system',
  ) {
    this.api = kube.config.makeApiClient(CustomObjectsApi);
  }

  /** Everything the node commands and /storage need; undefined when Longhorn is not installed. */
  async state(signal?: AbortSignal): Promise<LonghornState | undefined> {
    try {
      // Volumes first: its 404 says "not installed" before the other five are asked.
      const volumes = await this.list('volumes', signal);
      const [replicas, engines, nodes, settings, backups] = await Promise.all([
        this.list('replicas', signal),
        this.list('engines', signal),
        this.list('nodes', signal),
        this.list('settings', signal),
        this.list('backups', signal),
      ]);
      const progress = rebuildProgress(engines);
      const setting = (name: string) =>
        settings.find((s) => (s as { metadata?: { name?: string } }).metadata?.name === name) as
          | { value?: unknown }
          | undefined;
      const policy = setting('node-drain-policy')?.value;
      return {
        volumes: volumes.map(toVolume).sort((a, b) => a.name.localeCompare(b.name)),
        replicas: replicas.map((r) => toReplica(r, progress)),
        nodes: nodes.map(toNode).sort((a, b) => a.name.localeCompare(b.name)),
        backups: backups.map(toBackup),
        drainPolicy: typeof policy === 'string' && policy ? policy : DEFAULT_DRAIN_POLICY,
      };
    } catch (err) {
      if (err instanceof NotInstalled) return undefined;
      throw err;
    }
  }

  /** The volumes alone (autocomplete); [] when Longhorn is not installed. */
  async volumes(signal?: AbortSignal): Promise<LhVolume[]> {
    try {
      return (await this.list('volumes', signal)).map(toVolume);
    } catch (err) {
      if (err instanceof NotInstalled) return [];
      throw err;
    }
  }

  private async list(plural: Plural, signal?: AbortSignal): Promise<unknown[]> {
    const what = `listing Longhorn ${plural} in ${this.namespace}`;
    try {
      const list = (await callKube(what, this.kube.server, () =>
        this.api.listNamespacedCustomObject({
          group: LONGHORN_GROUP,
          version: LONGHORN_VERSION,
          namespace: this.namespace,
          plural,
        }),
      )) as { items?: unknown[] };
      return list.items ?? [];
    } catch (err) {
      if (signal?.aborted) throw err;
      if (hasStatus(err, 404)) throw new NotInstalled();
      throw err;
    }
  }
}

/** One client per Kube (the node commands' and /storage's), made on first use. */
const clients = new WeakMap<Kube, Longhorn>();

export function longhornFor(kube: Kube, namespace: string): Longhorn {
  let c = clients.get(kube);
  if (!c || c.namespace !== namespace) {
    c = new Longhorn(kube, namespace);
    clients.set(kube, c);
  }
  return c;
}
