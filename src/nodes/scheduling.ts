/** /node drain, cordon and uncordon: whether, and what, the K3s scheduler may put on a node. */
import type { NodeConfig } from '../config/schema.js';
import type { CommandContext } from '../core/context.js';
import { UserError } from '../core/errors.js';
import { userLabel } from '../core/invocation.js';
import type { Reply } from '../core/reply.js';
import { drainProgress, evictedSummary, stayedSummary } from './drain-report.js';
import { requireKube } from './node-ops.js';

/** The node, which must be in the K3s cluster for Kubernetes actions. */
export function k3sNode(ctx: CommandContext<{ node: string }>): NodeConfig {
  const node = ctx.inventory.node(ctx.args.node);
  if (!node.k3sName) {
    const k3s = ctx.inventory.nodes.filter((n) => n.k3sName).map((n) => n.name);
    throw new UserError(`${node.name} is not a K3s node.`, `K3s nodes: ${k3s.join(', ')}`);
  }
  return node;
}

/** Cordons (`schedulable: false`) or uncordons the node. */
export async function setSchedulable(ctx: CommandContext<{ node: string }>, schedulable: boolean) {
  const node = k3sNode(ctx);
  const kube = requireKube(
    await ctx.services.nodeOps(),
    `${schedulable ? 'Uncordoning' : 'Cordoning'} ${node.name}`,
  );
  if (schedulable) await kube.uncordon(node.k3sName!);
  else await kube.cordon(node.k3sName!);
  return {
    severity: 'success' as const,
    title: `${node.name} ${schedulable ? 'uncordoned: new pods may be scheduled' : 'cordoned: no new pods'}`,
  };
}

/** Cordons the node and evicts its pods, under the operation lock; it stays cordoned. */
export async function drainNode(
  ctx: CommandContext<{ node: string; evict_unmanaged?: boolean }>,
): Promise<Reply> {
  const node = k3sNode(ctx);
  const ops = await ctx.services.nodeOps();
  const kube = requireKube(ops, `Draining ${node.name}`);
  const release = ops.lock.acquire(`Drain of ${node.name}`, userLabel(ctx.invocation.user));
  try {
    const r = await kube.drain(node.k3sName!, {
      timeoutMs: ops.config.drainTimeoutSeconds * 1000,
      signal: ctx.signal,
      evictUnmanaged: ctx.args.evict_unmanaged,
      ...drainProgress(ctx.progress),
    });
    return {
      severity: 'success',
      title: `${node.name} drained`,
      text: `${evictedSummary(r.evicted)}; ${stayedSummary(r.skipped, r.kept)}. It stays cordoned: /node uncordon ${node.name} when done.`,
    };
  } finally {
    release();
  }
}
