/**
 * The preconditions of the disruptive node actions (/node reboot, drain, provision, update): the
 * dispatcher runs them before proposing and again before running. Not for dry runs.
 */
import type { NodeConfig } from '../config/schema.js';
import type { CommandContext } from '../core/context.js';
import { assertLonghornSafe } from './longhorn-guard.js';
import { kubeForNode, sshTarget } from './node-ops.js';

/**
 * No other node operation runs (execute takes the lock), a drain would not delete pods for good,
 * and each node it will SSH to presents its pinned host key and takes the bot's login (so nobody
 * confirms a reboot of a host the bot may not talk to).
 */
export async function assertCanStart(
  ctx: CommandContext,
  drain?: { node: NodeConfig; evictUnmanaged?: boolean },
  sshTo: readonly NodeConfig[] = [],
): Promise<void> {
  if (ctx.dryRun) return;
  const ops = await ctx.services.nodeOps();
  ops.lock.assertFree();
  if (ops.ssh) {
    const ssh = ops.ssh;
    await Promise.all(
      sshTo.map((n) => ssh.exec(sshTarget(n), ['true'], { timeoutMs: 10_000, signal: ctx.signal })),
    );
  }
  const drainKube = drain ? kubeForNode(ops, drain.node) : undefined;
  if (drain?.node.k3sName && drainKube) {
    await drainKube.checkDrainable(drain.node.k3sName, { evictUnmanaged: drain.evictUnmanaged });
  }
}

/**
 * The Longhorn precondition of a drain, reboot, update or provision: refuses (naming volumes,
 * PVCs, pods and the node-drain-policy) unless force:true. Returns what force:true overrode.
 */
export async function assertStorageSafe(
  ctx: CommandContext<{ force?: boolean }>,
  nodes: readonly NodeConfig[],
  verb: string,
  retry: (node: NodeConfig) => string,
): Promise<string[]> {
  if (ctx.dryRun) return [];
  return assertLonghornSafe(await ctx.services.nodeOps(), ctx.config.longhorn, nodes, {
    force: ctx.args.force ?? false,
    verb,
    retry,
    signal: ctx.signal,
  });
}
