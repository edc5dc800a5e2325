/**
 * The K3s cluster through the Kubernetes API (@kubernetes/client-node 1.x): nodes, cordon,
 * drain, waiting for Ready. Argo CD Applications go through the same KubeConfig (`kube.config`).
 * Client-node facts (patch content types, error shapes): kube-api.ts; watches: kube-watch.ts.
 */
import { CoreV1Api, KubeConfig, type V1Node, type V1Pod } from '@kubernetes/client-node';
import { UserError } from '../core/errors.js';
import { type Logger, silentLogger } from '../core/logger.js';
import { callKube, kubeError, kubeStatus, MERGE_PATCH } from './kube-api.js';
import {
  checkDrainable,
  cordonForDrain,
  type DrainApi,
  type DrainCheckOptions,
  type DrainOptions,
  type DrainResult,
  drainNode,
  type EvictOutcome,
  evictCordoned,
  type PodRef,
} from './kube-drain.js';
import {
  describeConditions,
  formatMs,
  isFinished,
  type NodeInfo,
  type PodInfo,
  podName,
  toNodeInfo,
  toPodInfo,
} from './kube-objects.js';
import { follow } from './kube-watch.js';

export type { DrainCheckOptions, DrainOptions, DrainResult } from './kube-drain.js';
export { UnmanagedPodsError } from './kube-drain.js';
export type { NodeInfo, PodInfo } from './kube-objects.js';

export interface KubeLoadOptions {
  /** A kubeconfig file; none → $KUBECONFIG or ~/.kube/config (client-node's default lookup). */
  kubeconfig?: string;
  /** A context of that kubeconfig instead of its current-context. */
  context?: string;
  /** Use the pod's service account (the bot running in the cluster). */
  inCluster?: boolean;
  /** Where the service account files are (`<root>/var/run/secrets/…`); default `/`. For tests. */
  inClusterRoot?: string;
  /** The bot's own pod, when it runs in the cluster: drains never evict it. */
  self?: { namespace: string; name: string };
  logger?: Logger;
}

export interface WaitReadyOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /**
   * After a reboot: the boot id the node had before it (/proc/sys/kernel/random/boot_id, read
   * over SSH — the kubelet reports the same id as `status.nodeInfo.bootID`). Only Ready with
   * another bootID counts then: the node controller leaves the Ready=True of before the reboot
   * in place for node-monitor-grace-period (40 s by default), and a reboot is often quicker.
   * `null`: rebooted, but the id before is not known. Not given: any Ready counts.
   */
  notBootId?: string | null;
  /** Every change of the node's conditions/schedulability seen (the first state included). */
  onChange?: (n: NodeInfo) => void;
}

export class Kube {
  readonly core: CoreV1Api;
  private readonly log: Logger;

  static load(opts: KubeLoadOptions, logger?: Logger): Kube {
    const kc = new KubeConfig();
    try {
      if (opts.inCluster) kc.loadFromCluster(opts.inClusterRoot?.replace(/\/$/, '') ?? '');
      else if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
      else kc.loadFromDefault();
    } catch (err) {
      throw new UserError(
        `Cannot load the kubeconfig${opts.kubeconfig ? ` ${opts.kubeconfig}` : ''}: ${(err as Error).message}`,
        'Check kube.kubeconfig in the config (or set kube.inCluster: true inside the cluster).',
      );
    }
    if (opts.context) {
      if (!kc.getContextObject(opts.context)) {
        throw new UserError(
          `The kubeconfig has no context "${opts.context}".`,
          `Contexts: ${
            kc
              .getContexts()
              .map((c) => c.name)
              .join(', ') || 'none'
          }.`,
        );
      }
      kc.setCurrentContext(opts.context);
    }
    if (!kc.getCurrentCluster()) {
      throw new UserError('The kubeconfig names no cluster for its current context.');
    }
    return new Kube(kc, logger ?? opts.logger ?? silentLogger(), opts.self);
  }

  constructor(
    readonly config: KubeConfig,
    logger: Logger,
    /** The bot's own pod: every drain leaves it (see kube-drain.ts `keep`). */
    readonly self?: { namespace: string; name: string },
  ) {
    this.core = config.makeApiClient(CoreV1Api);
    this.log = logger;
  }

  private withSelf<T extends DrainCheckOptions>(opts: T): T {
    return this.self ? { ...opts, keep: this.self } : opts;
  }

  /** The API server's URL (for messages). */
  get server(): string {
    return this.config.getCurrentCluster()?.server ?? '(no cluster)';
  }

  async nodes(): Promise<NodeInfo[]> {
    const list = await this.call('listing nodes', () => this.core.listNode());
    return list.items.map(toNodeInfo).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** One node; an unknown name is a UserError that lists the nodes there are. */
  async node(name: string): Promise<NodeInfo> {
    return toNodeInfo(
      await this.call(`reading node ${name}`, () => this.core.readNode({ name }), name),
    );
  }

  cordon(name: string): Promise<void> {
    return this.setUnschedulable(name, true);
  }

  uncordon(name: string): Promise<void> {
    return this.setUnschedulable(name, false);
  }

  /** Every pod on the node, in all namespaces. */
  async podsOn(name: string): Promise<PodInfo[]> {
    return (await this.podRefs(name)).map((p) => p.info);
  }

  /** Pods on the node that have not finished (what `kubectl describe node` calls non-terminated). */
  async podCount(name: string): Promise<number> {
    return (await this.podsOn(name)).filter((p) => !isFinished(p)).length;
  }

  /**
   * Refuses (changing nothing) when evicting would delete pods for good, unless
   * `evictUnmanaged`; then cordons, evicts and waits. See kube-drain.ts.
   */
  drain(name: string, opts: DrainOptions): Promise<DrainResult> {
    return drainNode(this.drainApi, name, this.withSelf(opts));
  }

  /** The check `drain` starts with, alone: throws UnmanagedPodsError; changes nothing. */
  checkDrainable(name: string, opts: DrainCheckOptions): Promise<PodInfo[]> {
    return checkDrainable(this.drainApi, name, this.withSelf(opts));
  }

  /** The first half of `drain`: the check, then the cordon. Returns the bare pods to evict. */
  cordonForDrain(name: string, opts: DrainCheckOptions): Promise<PodInfo[]> {
    return cordonForDrain(this.drainApi, name, this.withSelf(opts));
  }

  /** The second half of `drain`, for a node `cordonForDrain` cordoned. */
  evictCordoned(name: string, opts: DrainOptions): Promise<DrainResult> {
    return evictCordoned(this.drainApi, name, this.withSelf(opts));
  }

  private get drainApi(): DrainApi {
    return {
      log: this.log,
      cordon: (n) => this.cordon(n),
      pods: (n) => this.podRefs(n),
      evict: (p) => this.evict(p),
      waitGone: (n, uids, deadline, signal) => this.waitGone(n, uids, deadline, signal),
    };
  }

  /**
   * Watches the node (list, then a watch from the list's resourceVersion, resumed whenever the
   * stream ends) until its Ready condition is True — with a new bootID when `notBootId` is
   * given. Times out with a UserError that shows the last conditions seen.
   */
  async waitReady(name: string, opts: WaitReadyOptions): Promise<NodeInfo> {
    const started = Date.now();
    const afterReboot = opts.notBootId !== undefined;
    let last: NodeInfo | undefined;
    let lastKey = '';
    let listedOnce = false;
    let sawNotReady = false;
    /**
     * Whether this Ready is the node's state since the reboot. Without both boot ids to compare
     * (no bootID reported, or the id before unknown) the fallback is "not Ready seen by this
     * wait, then Ready": a stale Ready never passes, but a node that was back before the node
     * controller marked it Unknown (and that this wait never saw NotReady) runs into the timeout.
     */
    const isNewBoot = (info: NodeInfo): boolean =>
      info.bootId && opts.notBootId ? info.bootId !== opts.notBootId : sawNotReady;
    const see = (node: V1Node | undefined): boolean => {
      if (!node) return false;
      const info = toNodeInfo(node);
      const key = JSON.stringify(info);
      if (key !== lastKey) opts.onChange?.(info);
      last = info;
      lastKey = key;
      if (!info.ready) sawNotReady = true;
      return info.ready && (!afterReboot || isNewBoot(info));
    };
    const fieldSelector = `metadata.name=${name}`;
    const ready = await this.call(
      `waiting for node ${name} to be Ready`,
      () =>
        follow<V1Node>({
          kc: this.config,
          log: this.log,
          path: '/api/v1/nodes',
          fieldSelector,
          list: async () => {
            const list = await this.core.listNode({ fieldSelector });
            if (list.items.length === 0 && !listedOnce) throw await this.unknownNode(name);
            listedOnce = true;
            return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
          },
          onList: (items) => see(items[0]),
          // A node deleted while it reboots registers again: keep waiting.
          onEvent: (type, node) => type !== 'DELETED' && see(node),
          deadline: started + opts.timeoutMs,
          ...(opts.signal ? { signal: opts.signal } : {}),
        }),
      name,
      opts.signal,
    );
    if (ready && last) return last;
    let stale = '';
    if (afterReboot && last?.ready) {
      stale =
        last.bootId && opts.notBootId
          ? ` — that Ready is from before the reboot (boot id still ${last.bootId.slice(0, 8)}…)`
          : ` — ${last.bootId ? 'the boot id before the reboot is not known' : 'the node reports no bootID'} and it was not seen NotReady, so that Ready may be from before the reboot`;
    }
    throw new UserError(
      `${name} did not become Ready${afterReboot ? ' with a new boot id' : ''} within ${formatMs(opts.timeoutMs)}.`,
      last
        ? `Last known conditions: ${describeConditions(last)}${stale}.`
        : `The Kubernetes API at ${this.server} never answered in that time.`,
    );
  }

  private async setUnschedulable(name: string, unschedulable: boolean): Promise<void> {
    const what = `${unschedulable ? 'cordoning' : 'uncordoning'} ${name}`;
    await this.call(
      what,
      () => this.core.patchNode({ name, body: { spec: { unschedulable } } }, MERGE_PATCH),
      name,
    );
    this.log.info({ node: name, unschedulable }, unschedulable ? 'cordoned' : 'uncordoned');
  }

  private async podRefs(name: string): Promise<PodRef[]> {
    const list = await this.call(`listing the pods on ${name}`, () =>
      this.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${name}` }),
    );
    return list.items.map((p) => ({ info: toPodInfo(p), uid: p.metadata?.uid ?? '' }));
  }

  /** One eviction attempt: 201 → evicted, 404 → already gone, 429 → blocked (with the reason). */
  private async evict(pod: PodInfo): Promise<EvictOutcome> {
    const { namespace, name } = pod;
    try {
      await this.core.createNamespacedPodEviction({
        name,
        namespace,
        body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace } },
      });
      return 'evicted';
    } catch (err) {
      const status = kubeStatus(err);
      if (status?.code === 404) return 'gone';
      if (status?.code === 429) {
        return { blocked: status.causes[0]?.message || status.message || 'TooManyRequests' };
      }
      throw kubeError(`evicting ${podName(pod)} from ${pod.node}`, err, this.server);
    }
  }

  /** Watches the pods on the node until none of `uids` is left; removes the ones that go. */
  private waitGone(
    node: string,
    uids: Set<string>,
    deadline: number,
    signal?: AbortSignal,
  ): Promise<boolean> {
    const fieldSelector = `spec.nodeName=${node}`;
    return this.call(
      `waiting for the evicted pods to leave ${node}`,
      () =>
        follow<V1Pod>({
          kc: this.config,
          log: this.log,
          path: '/api/v1/pods',
          fieldSelector,
          list: async () => {
            const list = await this.core.listPodForAllNamespaces({ fieldSelector });
            return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
          },
          onList: (pods) => {
            const present = new Set(pods.map((p) => p.metadata?.uid));
            for (const uid of [...uids]) if (!present.has(uid)) uids.delete(uid);
            return uids.size === 0;
          },
          onEvent: (type, pod) => {
            if (type === 'DELETED') uids.delete(pod.metadata?.uid ?? '');
            return uids.size === 0;
          },
          deadline,
          ...(signal ? { signal } : {}),
        }),
      undefined,
      signal,
    );
  }

  private async unknownNode(name: string): Promise<UserError> {
    let known = '';
    try {
      known = (await this.nodes()).map((n) => n.name).join(', ');
    } catch {
      // the 404 is what matters
    }
    return new UserError(
      `Kubernetes has no node "${name}".`,
      known ? `Known nodes: ${known}.` : undefined,
    );
  }

  /**
   * Runs a call; a 404 for `node` becomes the unknown-node UserError, an abort passes through
   * as it is, the rest goes through `kubeError`.
   */
  private call<T>(
    what: string,
    fn: () => Promise<T>,
    node?: string,
    signal?: AbortSignal,
  ): Promise<T> {
    return callKube(what, this.server, fn, {
      signal,
      notFound: node === undefined ? undefined : () => this.unknownNode(node),
    });
  }
}
