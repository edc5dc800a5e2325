import type { Config, NodeConfig } from '../config/schema.js';
import { UserError } from '../core/errors.js';
import type { Kube } from '../infra/kube.js';
import type { SshPool, SshTarget } from '../infra/ssh.js';

/** What node commands need: SSH (required to act), Kubernetes (optional), the cluster-wide lock. */
export interface NodeOps {
  ssh?: SshPool;
  kube?: Kube;
  /** Set when `kube` is configured but could not be loaded: K3s steps refuse with it. */
  kubeError?: UserError;
  lock: OperationLock;
  config: Config['nodeOps'];
  /** Where provision-pi.yml and update.yml are. */
  playbooksDir: string;
  /** For Ansible: the same key and pinned host keys as the bot's own SSH. */
  sshFiles?: { privateKeyFile: string; knownHostsFile: string };
}

export function sshTarget(node: NodeConfig): SshTarget {
  return { name: node.name, host: node.host, port: node.port, user: node.user };
}

/**
 * The SSH pool, or why node actions cannot run here. `readOnly` commands (status, logs) have
 * no plan to show, so the hint does not offer dry_run:true for them.
 */
export function requireSsh(ops: NodeOps, what: string, opts: { readOnly?: boolean } = {}): SshPool {
  if (!ops.ssh) {
    throw new UserError(
      `${what} cannot run: this bot has no SSH access to the nodes configured.`,
      opts.readOnly
        ? 'Configure ssh.privateKeyFile and ssh.knownHostsFile (docs/nodes.md). Until then, actions that change something can show their plans with dry_run:true.'
        : 'Configure ssh.privateKeyFile and ssh.knownHostsFile (docs/nodes.md), or add dry_run:true to see the plan.',
    );
  }
  return ops.ssh;
}

export function requireKube(ops: NodeOps, what: string): Kube {
  if (ops.kubeError) throw ops.kubeError;
  if (!ops.kube) {
    throw new UserError(
      `${what} needs the Kubernetes API, which is not configured.`,
      'Set kube.kubeconfig (or kube.inCluster: true).',
    );
  }
  return ops.kube;
}

/**
 * The Kubernetes client for a K3s node's steps: undefined when `kube` is not configured (the
 * steps are skipped, as documented), but a kubeconfig that is configured and broken refuses
 * rather than, say, rebooting a node without draining it.
 */
export function kubeForNode(ops: NodeOps, node: NodeConfig): Kube | undefined {
  if (!node.k3sName) return undefined;
  if (ops.kubeError) throw ops.kubeError;
  return ops.kube;
}

/**
 * One disruptive operation in the cluster at a time (reboots, drains): a second one is
 * refused with who holds the lock and since when, instead of queueing behind it.
 */
export class OperationLock {
  private holder?: { what: string; by: string; since: number };

  /** Throws what `acquire` would while something holds the lock (to refuse before proposing). */
  assertFree(now = Date.now()): void {
    if (this.holder) this.acquire('', '', now);
  }

  acquire(what: string, by: string, now = Date.now()): () => void {
    if (this.holder) {
      const mins = Math.max(0, Math.round((now - this.holder.since) / 60_000));
      throw new UserError(
        `${this.holder.what} is in progress (started by ${this.holder.by} ${mins === 0 ? 'just now' : `${mins} min ago`}); one reboot, drain, provision or update at a time.`,
        'Wait for it to finish, then try again.',
      );
    }
    const mine = { what, by, since: now };
    this.holder = mine;
    return () => {
      if (this.holder === mine) this.holder = undefined;
    };
  }

  current(): string | undefined {
    return this.holder?.what;
  }
}
