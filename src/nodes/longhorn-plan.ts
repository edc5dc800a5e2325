/**
 * Longhorn in proposals and dry runs: the node-drain-policy in force, what happens to each
 * volume with replicas on the node, and the wait for rebuilds the reboot adds after its uncordon.
 */
import type { NodeConfig } from '../config/schema.js';
import type { CommandContext } from '../core/context.js';
import type { Plan } from '../core/reply.js';
import { readLonghorn } from './longhorn-guard.js';
import { impactWarnings, volumesToWaitFor } from './longhorn-impact.js';

export type LonghornPlanKind = 'reboot' | 'drain' | 'update' | 'provision';

/** `plan` with Longhorn's lines added for each node (unchanged without Longhorn). */
export async function withLonghorn(
  ctx: CommandContext,
  plan: Plan,
  nodes: readonly NodeConfig[],
  kind: LonghornPlanKind,
): Promise<Plan> {
  const k3s = nodes.filter((n) => n.k3sName);
  if (k3s.length === 0) return plan;
  let state: Awaited<ReturnType<typeof readLonghorn>>;
  try {
    state = await readLonghorn(await ctx.services.nodeOps(), ctx.config.longhorn, ctx.signal);
  } catch (err) {
    return {
      ...plan,
      warnings: [
        ...(plan.warnings ?? []),
        `Longhorn's state could not be read: ${(err as Error).message}`,
      ],
    };
  }
  if (!state) return plan;
  const s = state;
  const mins = Math.round(ctx.config.longhorn.rebuildTimeoutSeconds / 60);
  const steps = [...plan.steps];
  if (kind === 'reboot') {
    const wait = volumesToWaitFor(s, k3s[0]!.k3sName!);
    if (wait.length > 0) {
      steps.push(
        `poll Longhorn's volumes, replicas and engines until ${wait.join(', ')} are healthy again (rebuild progress in the thread; up to ${mins} min)`,
      );
    }
  }
  if (kind === 'update') {
    steps.push(
      `before each node after the first: wait until no Longhorn volume is degraded (up to ${mins} min); a node whose reboot would take a volume's last healthy replica down is not rebooted`,
    );
  }
  const lines =
    k3s.length === 1
      ? impactWarnings(s, k3s[0]!.k3sName!)
      : [
          impactWarnings(s, k3s[0]!.k3sName!)[0]!,
          ...k3s.flatMap((n) => impactWarnings(s, n.k3sName!).slice(1)),
        ];
  return { ...plan, steps, warnings: [...(plan.warnings ?? []), ...lines] };
}
