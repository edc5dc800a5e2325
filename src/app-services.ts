import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AlertService } from './alerts/alert-service.js';
import type { TaskStore } from './backlog/task-store.js';
import type { Config } from './config/schema.js';
import type { Command } from './core/command.js';
import { UserError } from './core/errors.js';
import type { Logger } from './core/logger.js';
import { redactUrlCredentials } from './core/redact.js';
import type { ArgoApi, PiholeApi, Services } from './core/services.js';
import { DemoArgo } from './demo/demo-argo.js';
import { DemoPihole } from './demo/demo-pihole.js';
import type { Kube } from './infra/kube.js';
import { PiholeClient } from './infra/pihole.js';
import type { SshPool } from './infra/ssh.js';
import { type NodeOps, OperationLock } from './nodes/node-ops.js';
import { OperationJournal } from './ops/journal.js';
import { Operations } from './ops/operations.js';

/** The repository root, from src/ (tests) or dist/src/ (built). */
export function projectRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.basename(path.dirname(here)) === 'dist'
    ? path.resolve(here, '../..')
    : path.resolve(here, '..');
}

/**
 * The integrations behind `ctx.services`, each created on first use (and only once, even
 * when two commands ask at the same time). `close()` stops what was started.
 */
export class AppServices implements Services {
  private taskStore?: Promise<TaskStore>;
  private openStore?: TaskStore;
  private ops?: Promise<NodeOps>;
  private sshPool?: SshPool;
  private argoClient?: Promise<ArgoApi>;
  private piholeClient?: PiholeApi;
  /** One disruptive operation at a time (also taken by an operation resumed at start). */
  readonly lock = new OperationLock();
  /** Set by the app when alerts are enabled. */
  alertService?: AlertService;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly registry: () => readonly Command[],
  ) {}

  alerts(): AlertService | undefined {
    return this.alertService;
  }

  private ops_?: Operations;

  operations(): Operations {
    this.ops_ ??= new Operations(
      new OperationJournal(this.config.state.dir, this.log),
      this.log.child({ component: 'operations' }),
    );
    return this.ops_;
  }

  commands(): readonly Command[] {
    return this.registry();
  }

  /** The configured task repo, or `<state dir>/lab.git` seeded from this repo's `tasks/`. */
  private taskRepo(): string {
    return this.config.tasks.repo ?? path.resolve(this.config.state.dir, 'lab.git');
  }

  /** The repo and branch for plans and messages, without credentials. */
  taskRepoLabel(): string {
    return redactUrlCredentials(`${this.taskRepo()} ${this.config.tasks.branch}`);
  }

  tasks(): Promise<TaskStore> {
    this.taskStore ??= this.openTaskStore().then(
      (store) => (this.openStore = store),
      (err) => {
        this.taskStore = undefined; // try again on the next command
        throw err;
      },
    );
    return this.taskStore;
  }

  tasksIfOpen(): TaskStore | undefined {
    return this.openStore;
  }

  private async openTaskStore(): Promise<TaskStore> {
    const { TaskStore, ensureSeededBareRepo } = await import('./backlog/task-store.js');
    const { tasks, state } = this.config;
    if (!tasks.repo) {
      await ensureSeededBareRepo(
        this.taskRepo(),
        path.join(projectRoot(), 'tasks'),
        tasks.branch,
        tasks.author,
      );
    }
    const store = new TaskStore({
      repo: this.taskRepo(),
      branch: tasks.branch,
      path: tasks.path,
      workDir: path.resolve(state.dir, 'tasks-clone'),
      author: tasks.author,
      logger: this.log,
    });
    await store.init();
    return store;
  }

  /** SSH and Kubernetes for node commands, created on first use (only what is configured). */
  nodeOps(): Promise<NodeOps> {
    this.ops ??= (async () => {
      // The demo describes its lab and contacts none: no SSH, no Kubernetes API.
      const { ssh, kube, nodeOps } = this.config.demo
        ? { ...this.config, ssh: undefined, kube: undefined }
        : this.config;
      // One pool for the bot's life (kept when a broken kubeconfig makes this run again).
      this.sshPool ??= ssh
        ? new (await import('./infra/ssh.js')).SshPool({
            ...ssh,
            logger: this.log.child({ component: 'ssh' }),
          })
        : undefined;
      const sshPool = this.sshPool;
      // A broken kubeconfig must not take SSH-only commands (status, logs, backups) down.
      let kubeApi: Kube | undefined;
      let kubeError: UserError | undefined;
      if (kube) {
        try {
          const { pod, namespace } = this.config.self;
          kubeApi = (await import('./infra/kube.js')).Kube.load(
            { ...kube, ...(pod && namespace ? { self: { namespace, name: pod } } : {}) },
            this.log.child({ component: 'kube' }),
          );
        } catch (err) {
          if (!(err instanceof UserError)) throw err;
          kubeError = err;
          this.log.warn({ err: err.message }, 'Kubernetes API not available');
        }
      }
      const ops: NodeOps = {
        ssh: sshPool,
        kube: kubeApi,
        kubeError,
        lock: this.lock,
        config: nodeOps,
        playbooksDir: nodeOps.ansible.playbooksDir
          ? path.resolve(nodeOps.ansible.playbooksDir)
          : path.join(projectRoot(), 'playbooks'),
        sshFiles: ssh
          ? { privateKeyFile: ssh.privateKeyFile, knownHostsFile: ssh.knownHostsFile }
          : undefined,
      };
      return ops;
    })().then(
      (ops) => {
        // A broken kubeconfig is not kept: the next command loads it again (mounted late, fixed).
        if (ops.kubeError) this.ops = undefined;
        return ops;
      },
      (err: unknown) => {
        // Not cached: the next command tries again.
        this.ops = undefined;
        throw err;
      },
    );
    return this.ops;
  }

  /** Argo CD through the same Kubernetes client as the node commands, created on first use. */
  argo(): Promise<ArgoApi> {
    if (this.config.demo) this.argoClient ??= Promise.resolve(new DemoArgo(this.config));
    this.argoClient ??= (async () => {
      const ops = await this.nodeOps();
      if (ops.kubeError) throw ops.kubeError;
      if (!ops.kube) {
        throw new UserError(
          'Argo CD commands need the Kubernetes API, which is not configured.',
          'Set kube.kubeconfig (or kube.inCluster: true): the bot works with Argo CD through its Application resources.',
        );
      }
      const { Argo } = await import('./infra/argo.js');
      return new Argo(ops.kube, {
        namespace: this.config.argo.namespace,
        logger: this.log.child({ component: 'argo' }),
      });
    })().catch((err) => {
      this.argoClient = undefined; // try again on the next command
      throw err;
    });
    return this.argoClient;
  }

  /** The Pi-holes, created on first use; sessions are opened per instance when needed. */
  pihole(): PiholeApi {
    const conf = this.config.pihole;
    if (!conf) {
      throw new UserError(
        'Pi-hole commands need pihole.instances, which is not configured.',
        'Add pihole.instances (name, url, password or passwordFile) to the config: see docs/pihole.md.',
      );
    }
    if (this.config.demo) this.piholeClient ??= new DemoPihole(conf.instances, this.log);
    this.piholeClient ??= new PiholeClient({
      instances: conf.instances,
      timeoutMs: conf.timeoutMs,
      logger: this.log.child({ component: 'pihole' }),
    });
    return this.piholeClient;
  }

  async close(): Promise<void> {
    await this.piholeClient?.close();
    await this.sshPool?.close();
    const store = await this.taskStore?.catch(() => undefined);
    await store?.close();
  }
}
