/**
 * /node update: playbooks/update.yml on one Pi at a time; a Pi that asks for a reboot is
 * rebooted through the same safe path as /node reboot before the next one is touched. The
 * whole rolling update holds the cluster-wide operation lock, so nobody reboots or drains
 * another node meanwhile.
 */
import type { NodeConfig } from '../config/schema.js';
import type { CommandContext } from '../core/context.js';
import { isUserError, UserError } from '../core/errors.js';
import { userLabel } from '../core/invocation.js';
import type { Plan, Reply } from '../core/reply.js';
import type { PlaybookResult } from '../infra/ansible.js';
import {
  playbookSkipTags,
  renderPlaybookResult,
  runLabPlaybook,
  skipTagsArg,
} from './ansible-run.js';
import { degradedNames, readLonghorn, waitVolumesHealthy } from './longhorn-guard.js';
import { refusalReasons } from './longhorn-impact.js';
import type { NodeOps } from './node-ops.js';
import { rebootWarnings } from './plans.js';
import { rebootNode } from './reboot.js';

/** Before the next node: waits until no Longhorn volume is degraded; a UserError on timeout. */
async function waitNoDegraded(
  ctx: CommandContext,
  ops: NodeOps,
  next: NodeConfig,
  previous: string,
): Promise<void> {
  if (!next.k3sName || !ops.kube) return;
  const state = await readLonghorn(ops, ctx.config.longhorn, ctx.signal);
  const degraded = state ? degradedNames(state) : [];
  if (degraded.length === 0) return;
  await ctx.progress.step(
    `Longhorn: ${degraded.join(', ')} not healthy yet; ${next.name} waits until they are`,
  );
  const note = await waitVolumesHealthy(ops, ctx.config.longhorn, degraded, {
    timeoutMs: ctx.config.longhorn.rebuildTimeoutSeconds * 1000,
    signal: ctx.signal,
    progress: ctx.progress,
    node: previous,
  });
  await ctx.progress.step(note);
}

/** Why rebooting this node now would hurt Longhorn volumes ([] when it would not, or no Longhorn). */
async function longhornRefusals(
  ctx: CommandContext,
  ops: NodeOps,
  node: NodeConfig,
): Promise<string[]> {
  if (!node.k3sName || !ops.kube) return [];
  const state = await readLonghorn(ops, ctx.config.longhorn, ctx.signal);
  return state ? refusalReasons(state, node.k3sName) : [];
}

/** The Raspberry Pi OS nodes of a target (a node, a group or all). */
export function updateTargets(ctx: CommandContext, target: string): NodeConfig[] {
  const nodes = ctx.inventory.select(target).filter((n) => n.os === 'raspios');
  if (nodes.length === 0) {
    throw new UserError(
      `${target} has no Raspberry Pi OS nodes; the NixOS server updates with /node provision.`,
    );
  }
  return nodes;
}

export function updatePlan(ctx: CommandContext, target: string): Plan {
  const nodes = updateTargets(ctx, target);
  const skip = playbookSkipTags(ctx.config);
  return {
    summary: `Update ${nodes.map((n) => n.name).join(', ')} one at a time; reboot (safely) those that ask for it.`,
    steps: nodes.flatMap((n) => [
      `ansible-playbook playbooks/update.yml --limit ${n.name}${skipTagsArg(skip)}`,
      `if ${n.name} reports REBOOT_REQUIRED=true: /node reboot ${n.name} (cordon, drain, reboot, Ready, uncordon)`,
    ]),
    warnings: [
      'The first node that fails stops the update; the nodes after it are not touched.',
      ...nodes.flatMap((n) => {
        const risks = rebootWarnings(n, ctx.inventory.nodes, ctx.config.self);
        return risks.length > 0
          ? [
              `${n.name} is not rebooted automatically (${risks.join(' ')}); if it asks for a reboot you are told.`,
            ]
          : [];
      }),
      ...(skip.length > 0 ? [`Skipped tags (nodeOps.ansible.skipTags): ${skip.join(', ')}.`] : []),
    ],
  };
}

/**
 * What a rolling update journals on its own record (flat, as journal data is), so that after a
 * restart during a Pi's reboot its answer can still say what happened to every node.
 */
export type UpdateData = {
  /** Every node of the update, in order, comma-separated. */
  nodes?: string;
  /** The node it is at, and what it does there. */
  node?: string;
  phase?: 'update.yml' | 'reboot';
  /** The result lines of the nodes before it, newline-separated. */
  lines?: string;
  /** Nodes that still need a reboot / may need one, comma-separated. */
  pending?: string;
  unknown?: string;
};

/** The answer of an update that went through every node. */
export function updateSummary(
  n: number,
  lines: readonly string[],
  pending: readonly string[],
  unknown: readonly string[],
): Reply {
  const notes = [
    ...(pending.length > 0
      ? [`${pending.join(', ')} still need${pending.length === 1 ? 's' : ''} a reboot`]
      : []),
    ...(unknown.length > 0 ? [`${unknown.join(', ')} may need a reboot`] : []),
  ];
  return {
    severity: notes.length > 0 ? 'warning' : 'success',
    title: `Updated ${n} node${n === 1 ? '' : 's'}${notes.map((t) => `; ${t}`).join('')}`,
    text: lines.join('\n'),
  };
}

export async function updateNodes(
  ctx: CommandContext,
  nodes: NodeConfig[],
  ops: NodeOps,
  opts: { force?: boolean } = {},
): Promise<Reply> {
  const release = ops.lock.acquire(
    `Update of ${nodes.map((n) => n.name).join(', ')}`,
    userLabel(ctx.invocation.user),
  );
  const lines: string[] = [];
  const pending: string[] = [];
  const unknown: string[] = [];
  // The update's own record (journaled by the dispatcher): where it is, what it did so far.
  const update = ctx.services.operations().reportingTo(ctx.progress.ref?.());
  const journal = (node: NodeConfig, phase: UpdateData['phase']) =>
    update?.note({
      data: {
        nodes: nodes.map((n) => n.name).join(','),
        node: node.name,
        phase,
        lines: lines.join('\n'),
        pending: pending.join(','),
        unknown: unknown.join(','),
      } satisfies UpdateData,
    });
  try {
    for (const [i, node] of nodes.entries()) {
      const notTouched = nodes
        .slice(i + 1)
        .map((n) => n.name)
        .join(', ');
      const stopped = (failed: Reply): Reply => ({
        ...failed,
        text: [
          `Stopped at ${node.name}; not touched: ${notTouched || 'none'}.`,
          ...lines,
          failed.text,
        ]
          .filter(Boolean)
          .join('\n'),
      });
      if (i > 0) {
        // Never the next node while a volume is degraded: wait (bounded) for the rebuilds.
        try {
          await waitNoDegraded(ctx, ops, node, nodes[i - 1]!.name);
        } catch (err) {
          if (!isUserError(err)) throw err;
          return stopped({ severity: 'error', title: err.message, text: err.hint });
        }
      }
      let r: PlaybookResult;
      await journal(node, 'update.yml');
      try {
        r = await runLabPlaybook(ctx, ops, { playbook: 'update.yml', nodes: [node] });
      } catch (err) {
        // A timeout, an abort, Ansible missing: still say what was done and what was not.
        if (!isUserError(err)) throw err;
        return stopped({
          severity: 'error',
          title: `update.yml on ${node.name}: ${err.message}`,
          text: err.hint,
        });
      }
      if (r.exitCode !== 0) return stopped(renderPlaybookResult(`update.yml on ${node.name}`, r));
      const marker = r.rebootMarkers[node.name];
      if (marker === undefined) {
        lines.push(
          `${node.name}: updated, but it did not say whether it needs a reboot (no REBOOT_REQUIRED line); check /var/run/reboot-required on it`,
        );
        unknown.push(node.name);
        continue;
      }
      if (!marker) {
        lines.push(`${node.name}: updated, no reboot needed`);
        continue;
      }
      const risks = rebootWarnings(node, ctx.inventory.nodes, ctx.config.self);
      if (risks.length > 0) {
        lines.push(
          `${node.name}: updated; needs a reboot, not done automatically: ${risks.join(' ')} When it suits: /node reboot ${node.name} force:true`,
        );
        pending.push(node.name);
        continue;
      }
      const hurts = opts.force ? [] : await longhornRefusals(ctx, ops, node);
      if (hurts.length > 0) {
        lines.push(
          `${node.name}: updated; needs a reboot, not done — it would hurt Longhorn volumes: ${hurts.join('; ')}. When they are healthy: /node reboot ${node.name}`,
        );
        pending.push(node.name);
        continue;
      }
      await journal(node, 'reboot');
      const reboot = await rebootNode(ctx, node, ops, { underLock: true, partOf: update });
      if (ctx.signal.aborted) {
        // The bot is stopping (SIGTERM, its pod evicted) during the reboot: both records stay,
        // and the next start finishes the reboot and answers for the update (update-resume.ts).
        return {
          ...reboot,
          severity: 'warning',
          title: `/node update: the bot is stopping during the reboot of ${node.name}; it picks this up when it starts again`,
        };
      }
      if (reboot.severity !== 'error') {
        lines.push(`${node.name}: updated, then rebooted safely (it asked for a reboot)`);
      } else if (reboot.nodeUnchanged) {
        // Refused before anything changed (e.g. pods no controller would recreate): the node
        // is updated and as it was; the next one can go ahead.
        lines.push(
          `${node.name}: updated; needs a reboot, not done — ${reboot.text?.split('\n')[0] ?? reboot.title}`,
        );
        pending.push(node.name);
      } else {
        lines.push(`${node.name}: updated; the reboot it asked for failed (below)`);
        return stopped(reboot);
      }
    }
  } finally {
    release();
  }
  return updateSummary(nodes.length, lines, pending, unknown);
}
