import type { AlertService } from '../alerts/alert-service.js';
import type { TaskStore } from '../backlog/task-store.js';
import type { Argo } from '../infra/argo.js';
import type { PiholeClient } from '../infra/pihole.js';
import type { NodeOps } from '../nodes/node-ops.js';
import type { Operations } from '../ops/operations.js';
import type { Command } from './command.js';

/** What commands use of Argo CD: the client's public methods (the demo has a stand-in). */
export type ArgoApi = Pick<Argo, keyof Argo>;
/** What commands use of the Pi-holes: the client's public methods (the demo has a stand-in). */
export type PiholeApi = Pick<PiholeClient, keyof PiholeClient>;

/**
 * Integrations handed to commands. Each is created lazily on first use so that start-up
 * only pays for what the configuration and the commands actually touch.
 */
export interface Services {
  /** The command registry (for `/help`). */
  commands(): readonly Command[];
  /** The Git-backed task backlog (cloned and, in the demo, seeded on first use). */
  tasks(): Promise<TaskStore>;
  /** The task store if it is open already, else undefined — never clones (autocomplete). */
  tasksIfOpen?(): TaskStore | undefined;
  /** A human-readable name of the task repo, for plans: `/var/lib/chatops/lab.git (main)`. */
  taskRepoLabel(): string;
  /** SSH, Kubernetes and the cluster-wide lock for node commands. */
  nodeOps(): Promise<NodeOps>;
  /**
   * Argo CD Applications through the Kubernetes API; a UserError when `kube` is not configured.
   * In the demo, a stand-in that knows the demo's app names and says what it would send.
   */
  argo(): Promise<ArgoApi>;
  /**
   * The configured Pi-holes (sessions created on first use); a UserError when not configured.
   * In the demo, a stand-in that says what it would send to each.
   */
  pihole(): PiholeApi;
  /** The alert pipeline, when alerts are enabled. */
  alerts(): AlertService | undefined;
  /** Long operations: journaled, listed by /ops, resumed after a restart. */
  operations(): Operations;
}
