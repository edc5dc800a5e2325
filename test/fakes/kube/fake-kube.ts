/**
 * A fake Kubernetes API server (node:http on 127.0.0.1) for the real, unmodified
 * `@kubernetes/client-node` 1.x: nodes, pods, evictions and Argo CD Applications, with
 * resourceVersions and watches, a simulated kubelet/scheduler and a simulated Argo CD controller.
 *
 *   const kube = await FakeKube.start({
 *     nodes: [{ name: 'pi4-a', ready: true, roles: ['worker'], version: 'v1.31.4+k3s1' }, …],
 *     pods: [{ namespace, name, node, ownerKind?: 'ReplicaSet'|'DaemonSet'|'StatefulSet'|'Job',
 *              ownerName?, mirror?: boolean, phase?, emptyDirs?: ['cache', { name, medium: 'Memory' }] }],
 *       (no ownerKind and no mirror: a bare pod, which nothing recreates once it is evicted)
 *     applications?: [{ name, namespace?: 'argocd', syncStatus, health, revision, headRevision?,
 *                       autoSync?, history?: [{ id, revision | revisions, deployedAt?, source? }],
 *                       resources?, syncOptions?: ['CreateNamespace=true', …], retry?: { limit, backoff? },
 *                       sources?: [{ path?, targetRevision?, revision, headRevision? }] (multi-source),
 *                       destinationNamespace?, destinationNamespaceExists?: false }],
 *   });
 *   Namespaces: default, kube-system, argocd, every pod's and every app's destination namespace
 *   (unless destinationNamespaceExists: false) exist; the Argo controller creates others.
 *   const kc = new KubeConfig(); kc.loadFromFile(kube.kubeconfigFile);   // or Kube.load({ kubeconfig })
 *
 * The kubeconfig has context `fake` (current; the bot's service account token) and
 * `fake-stale-token` (a token the server does not know → 401). The cluster entry has
 * `insecure-skip-tls-verify: true`, which client-node 1.x requires for an http:// server (with
 * `tls: true`: `certificate-authority: kube.caFile`).
 *
 * Authentication and RBAC, as the real API server (see rbac.ts, request-info.ts):
 *   kube.token            the ServiceAccount's token: user
 *                         `system:serviceaccount:chatops:homelab-chatops` (deploy/serviceaccount.yaml)
 *   kube.adminToken, kube.adminKubeconfigFile   a `system:masters` user, for tests that poke
 *                         the fake directly beyond what the bot may do
 *   FakeKube.start({ rbac })   the Roles/ClusterRoles/bindings every request is authorized
 *                         against — by default the ones deploy/ ships (shipped-rbac.ts), so every
 *                         test that runs the bot against the fake proves they suffice. A request
 *                         no rule allows answers 403 Forbidden with the API server's Status
 *                         (`nodes "pi4-a" is forbidden: User "…" cannot patch resource "nodes" in
 *                         API group "" at the cluster scope`).
 *   kube.authorizations   every decision: { user, verb, apiGroup, resource, subresource,
 *                         namespace, name, path, allowed, reason, grant? (the role rule used) }
 *   kube.denied           the decisions that were denials
 *   FakeKube.start({ tls: true })   https with a self-signed certificate for 127.0.0.1 made by
 *                         openssl (tls.ts); kube.caFile is its certificate (an in-cluster ca.crt)
 *
 * Observe:
 *   kube.url, kube.kubeconfigFile, kube.token
 *   kube.requests      every request: { method, path, query, body, contentType, status, user, tls }
 *   kube.unhandled     requests to paths/methods the fake lacks (answered 404/405 Status)
 *   kube.errors        exceptions inside the fake (answered 500): a bug here
 *   kube.node(name), kube.pods(node?), kube.application(name, namespace = 'argocd'), kube.namespace(name)
 *   kube.evictions     every eviction attempt: { namespace, name, node, outcome: evicted|blocked|not-found }
 *   kube.openWatches, kube.watchesOpened   streams open now / opened in all (resumes count)
 *   kube.controller.syncs                  finished Argo operations: { app, revision, phase, attempts }
 *   await kube.waitFor(() => value-or-falsy, timeoutMs = 5000)   on timeout throws with kube.dump()
 * Control:
 *   kube.setPdb({ namespace, name?, blockTimes: number | 'always', pdbName? })
 *       evictions of that pod (or of each pod of the namespace) answer 429 TooManyRequests
 *       `blockTimes` times before one succeeds; kube.clearPdbs()
 *   kube.evictionBehaviour = { deleteAfterMs: 20, reschedule: true }
 *       an evicted/deleted pod is Terminating (deletionTimestamp) for deleteAfterMs, then gone;
 *       with reschedule a ReplicaSet pod comes back under a new name, a StatefulSet pod under its
 *       own, on the Ready schedulable node with the fewest pods (Pending when none); DaemonSet
 *       and mirror pods come back on their own node
 *   kube.setNodeReady(name, ready)   condition Ready True / Unknown (NodeStatusUnknown)
 *   Nodes carry status.nodeInfo.bootID (NodeSpec.bootId; random by default). What the kubelet and
 *   the node controller write around a reboot (new bootID; a stale Ready for the grace period,
 *   then Unknown): node-status.ts, driven from an ssh lab by test/helpers/kubelet-sim.ts
 *   kube.addPod(spec)
 *   kube.dropWatches()   end every open watch stream (clients must resume from their last version)
 *   kube.compact()       forget the change history: resuming a watch from an older version gets
 *                        an ERROR event with a 410 Expired Status (clients must list again)
 *   kube.controller.configure(appName, { ticks?, tickMs?, fail?: { resources: [{ kind, name,
 *       message }] } | null, headRevision? })      see argo-controller.ts for what a sync does
 *   kube.controller.startAutoSync(appName)   what Argo CD's auto-sync does (SetAppOperation): sets
 *       `.operation` {initiatedBy: {automated: true}, …}, clears operationState; refused when an
 *       operation is set
 *   kube.beforeRequest(match, action)   runs action() once, just before the first request that
 *       matches is handled (e.g. an auto-sync starting between a client's read and its write);
 *       a promise it returns holds that request until it settles (a client killed mid-request:
 *       the request is then applied, its answer lost); returns a function removing the hook
 *   kube.store           the object store itself, for anything else
 *   await kube.stop()
 *
 * Longhorn (`longhorn: { nodes, volumes, drainPolicy?, rebuildMs? }`, longhorn/objects.ts):
 *   its CRDs served in longhorn.io/v1beta2 (shapes and validation: Longhorn's published CRDs,
 *   longhorn/*.longhorn.io.yaml, checked by longhorn/crd-validate.ts), and a simulated
 *   longhorn-manager (longhorn/controller.ts): replicas on a node that goes down fail, volumes
 *   degrade, and rebuild with progress once it is back. kube.longhorn.isNodeUp = (node) => …
 *   (default: its Kubernetes node is Ready), .events, .schemaProblems, .reconcile().
 *   Without the option, longhorn.io answers 404 like a cluster without Longhorn.
 *
 * Endpoints: see routes.ts. Lists answer {kind: <Kind>List, metadata.resourceVersion, items};
 * `?watch=true` streams events (watch.ts); fieldSelector (per-resource labels, like the real
 * server: pods spec.nodeName/metadata.name/…, nodes metadata.name, applications metadata.name)
 * and labelSelector filter both. PATCH takes merge-patch+json, strategic-merge-patch+json
 * (built-in kinds only; 415 for Applications) and json-patch+json (a body that is not a list
 * answers 400 — what a client gets when it forgets the patch Content-Type). Errors are Status
 * objects: 401 Unauthorized, 404 NotFound (`nodes "pi9" not found`), 409 Conflict (stale
 * metadata.resourceVersion in a PATCH/PUT), 429 TooManyRequests (eviction blocked by a budget,
 * details.causes[0].reason DisruptionBudget), 400/405/415/422.
 */

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ArgoController } from './argo-controller.js';
import { Cluster, type EvictionBehaviour, type EvictionRecord, type PdbRule } from './cluster.js';
import { dumpFake, type RequestRecord } from './dump.js';
import { writeKubeconfig } from './kubeconfig.js';
import { LonghornController } from './longhorn/controller.js';
import { longhornObjects } from './longhorn/objects.js';
import {
  ADMIN_USER,
  type AuthzDecision,
  BOT_SERVICE_ACCOUNT,
  forbidden,
  RbacAuthorizer,
  type UserInfo,
} from './rbac.js';
import { requestInfo } from './request-info.js';
import { handle } from './routes.js';
import {
  applicationObject,
  type FakeKubeOptions,
  namespaceObject,
  nodeObject,
  type PodSpec,
  podObject,
} from './seed.js';
import { shippedRbac } from './shipped-rbac.js';
import { ApiError, unauthorized } from './status.js';
import { type KObject, ObjectStore, realSetTimeout } from './store.js';
import { selfSignedCert } from './tls.js';
import { WatchHub } from './watch.js';

export type { ControllerConfig, SyncRecord } from './argo-controller.js';
export type { EvictionBehaviour, EvictionRecord, PdbRule } from './cluster.js';
export type { RequestRecord } from './dump.js';
export type { LonghornEvent } from './longhorn/controller.js';
export type { LonghornSpec, LonghornVolumeSpec } from './longhorn/objects.js';
export type { AuthzDecision, Grant, RbacObject, UserInfo } from './rbac.js';
export type {
  AppHistorySpec,
  ApplicationSpec,
  AppResourceSpec,
  AppSourceSpec,
  EmptyDirSpec,
  FakeKubeOptions,
  NodeSpec,
  PodSpec,
} from './seed.js';
export type { KObject } from './store.js';

export class FakeKube {
  url = '';
  kubeconfigFile = '';
  adminKubeconfigFile = '';
  /** With `tls: true`: the server's self-signed certificate (PEM file), its own CA. */
  caFile = '';
  /** The bot's ServiceAccount token. */
  readonly token = `fake-${randomBytes(12).toString('hex')}`;
  readonly adminToken = `fake-admin-${randomBytes(12).toString('hex')}`;
  readonly requests: RequestRecord[] = [];
  readonly unhandled: RequestRecord[] = [];
  readonly errors: string[] = [];
  readonly store = new ObjectStore();
  readonly cluster = new Cluster(this.store);
  readonly controller = new ArgoController(this.store);
  /** The simulated longhorn-manager, when started with `longhorn` (longhorn/controller.ts). */
  longhorn?: LonghornController;
  private readonly crdGroups = new Set<string>();
  private readonly watches = new WatchHub(this.store);
  private readonly hooks: {
    match: (r: RequestRecord) => boolean;
    action: () => void | Promise<void>;
  }[] = [];
  private server!: Server | HttpsServer;
  private dir = '';
  private rbac!: RbacAuthorizer;

  static async start(opts: FakeKubeOptions): Promise<FakeKube> {
    const kube = new FakeKube();
    for (const n of opts.nodes) kube.store.create('nodes', nodeObject(n));
    const namespaces = new Set(['default', 'kube-system', 'argocd']);
    for (const p of opts.pods ?? []) namespaces.add(p.namespace);
    for (const a of opts.applications ?? []) {
      namespaces.add(a.namespace ?? 'argocd');
      if (a.destinationNamespaceExists !== false) namespaces.add(a.destinationNamespace ?? a.name);
    }
    for (const ns of [...namespaces].sort()) kube.store.create('namespaces', namespaceObject(ns));
    for (const p of opts.pods ?? []) kube.addPod(p);
    for (const a of opts.applications ?? []) {
      kube.store.create('applications', applicationObject(a));
      if (a.sources) {
        kube.controller.configure(a.name, {
          headRevisions: a.sources.map((s) => s.headRevision ?? s.revision),
        });
      } else if (a.headRevision || a.syncStatus === 'OutOfSync') {
        kube.controller.configure(a.name, { headRevision: a.headRevision ?? `${a.revision}-head` });
      }
    }
    if (opts.longhorn) {
      const lh = new LonghornController(kube.store, opts.longhorn);
      const ns = opts.longhorn.namespace ?? 'longhorn-system';
      if (!kube.namespace(ns)) kube.store.create('namespaces', namespaceObject(ns));
      for (const [resource, obj] of longhornObjects(opts.longhorn)) {
        lh.check(obj);
        kube.store.create(resource, obj);
      }
      kube.crdGroups.add('longhorn.io');
      kube.longhorn = lh;
      lh.start();
    }
    kube.rbac = new RbacAuthorizer(opts.rbac ?? shippedRbac());
    kube.controller.start();
    kube.dir = mkdtempSync(path.join(tmpdir(), 'fake-kube-'));
    const serve = (req: IncomingMessage, res: ServerResponse) => kube.serve(req, res);
    if (opts.tls) {
      const { cert, key, certFile } = selfSignedCert(kube.dir);
      kube.caFile = certFile;
      kube.server = createHttpsServer({ cert, key }, serve);
    } else {
      kube.server = createServer(serve);
    }
    await new Promise<void>((resolve) => kube.server.listen(0, '127.0.0.1', resolve));
    const port = (kube.server.address() as AddressInfo).port;
    kube.url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    const ca = kube.caFile || undefined;
    kube.kubeconfigFile = writeKubeconfig(kube.dir, kube.url, kube.token, { ca });
    kube.adminKubeconfigFile = writeKubeconfig(kube.dir, kube.url, kube.adminToken, {
      ca,
      file: 'admin-kubeconfig.yaml',
      user: 'fake-admin',
    });
    return kube;
  }

  /** Every authorization decision, in order (admin requests included). */
  get authorizations(): AuthzDecision[] {
    return this.rbac.decisions;
  }

  get denied(): AuthzDecision[] {
    return this.rbac.decisions.filter((d) => !d.allowed);
  }

  get evictions(): EvictionRecord[] {
    return this.cluster.evictions;
  }

  get evictionBehaviour(): EvictionBehaviour {
    return this.cluster.behaviour;
  }

  set evictionBehaviour(b: EvictionBehaviour) {
    this.cluster.behaviour = b;
  }

  get openWatches() {
    return this.watches.open;
  }

  get watchesOpened(): number {
    return this.watches.opened;
  }

  setPdb(rule: PdbRule): void {
    this.cluster.setPdb(rule);
  }

  clearPdbs(): void {
    this.cluster.clearPdbs();
  }

  setNodeReady(name: string, ready: boolean): KObject {
    return this.cluster.setNodeReady(name, ready);
  }

  addPod(spec: PodSpec): KObject {
    return this.store.create('pods', podObject(spec));
  }

  /** Removes a pod at once (as `kubectl delete pod --force --grace-period=0`). */
  deletePod(namespace: string, name: string): KObject | undefined {
    return this.store.delete('pods', namespace, name);
  }

  node(name: string): KObject | undefined {
    return this.store.get('nodes', undefined, name);
  }

  /** Pods (on one node when given), Terminating ones included. */
  pods(node?: string): KObject[] {
    return this.store
      .list('pods')
      .filter((p) => node === undefined || (p.spec as { nodeName?: string }).nodeName === node);
  }

  application(name: string, namespace = 'argocd'): KObject | undefined {
    return this.store.get('applications', namespace, name);
  }

  namespace(name: string): KObject | undefined {
    return this.store.get('namespaces', undefined, name);
  }

  /**
   * Runs `action` once, just before the first request that `match`es is handled; a promise it
   * returns holds that request until it settles (a slow API server, a moment to kill the client).
   */
  beforeRequest(
    match: (r: RequestRecord) => boolean,
    action: () => void | Promise<void>,
  ): () => void {
    const hook = { match, action };
    this.hooks.push(hook);
    return () => {
      const i = this.hooks.indexOf(hook);
      if (i >= 0) this.hooks.splice(i, 1);
    };
  }

  dropWatches(): number {
    return this.watches.dropAll();
  }

  compact(): void {
    this.store.compact();
  }

  async waitFor<T>(probe: () => T | undefined | null | false, timeoutMs = 5000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = probe();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`FakeKube.waitFor timed out\n${this.dump()}`);
      await new Promise((r) => realSetTimeout(r, 10));
    }
  }

  dump(): string {
    const { store, requests, unhandled, errors, denied } = this;
    const openWatches = this.watches.open.length;
    return dumpFake({ store, requests, unhandled, errors, denied, openWatches });
  }

  async stop(): Promise<void> {
    this.controller.stop();
    this.longhorn?.stop();
    this.cluster.stop();
    this.watches.dropAll();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const record: RequestRecord = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      body: undefined,
      contentType: String(req.headers['content-type'] ?? ''),
      status: 0,
      user: '',
      tls: (req.socket as { encrypted?: boolean }).encrypted === true,
    };
    this.requests.push(record);
    const reply = (status: number, body: unknown) => {
      record.status = status;
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    try {
      const raw = await readBody(req);
      // As the API server's filters: authentication, then authorization, then the handler.
      const user = this.authenticate(req.headers.authorization);
      record.user = user.name;
      const info = requestInfo(record.method, url.pathname, url.searchParams);
      const decision = this.rbac.authorize(user, info);
      if (!decision.allowed) throw forbidden(info, decision);
      if (raw) {
        try {
          record.body = JSON.parse(raw);
        } catch {
          throw new ApiError(
            400,
            'BadRequest',
            `the request body is not JSON: ${raw.slice(0, 80)}`,
          );
        }
      }
      const hook = this.hooks.findIndex((h) => h.match(record));
      if (hook >= 0) await this.hooks.splice(hook, 1)[0]!.action();
      const answer = handle(
        {
          store: this.store,
          cluster: this.cluster,
          watches: this.watches,
          crdGroups: this.crdGroups,
        },
        { ...record, res },
      );
      if (answer === 'streamed') record.status = 200;
      else reply(answer.status, answer.body);
    } catch (err) {
      if (err instanceof ApiError) {
        if (err.unhandled) this.unhandled.push(record);
        reply(err.code, err.toStatus());
        return;
      }
      this.errors.push(`${record.method} ${record.path}: ${(err as Error).stack ?? String(err)}`);
      reply(500, new ApiError(500, 'InternalError', String(err)).toStatus());
    }
  }

  private authenticate(header: string | undefined): UserInfo {
    if (header === `Bearer ${this.token}`) return BOT_SERVICE_ACCOUNT;
    if (header === `Bearer ${this.adminToken}`) return ADMIN_USER;
    throw unauthorized();
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
