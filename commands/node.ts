import { z } from 'zod';
import type { NodeConfig } from '../src/config/schema.js';
import { defineAction, defineCommand, type OptionDef } from '../src/core/command.js';
import type { CommandContext } from '../src/core/context.js';
import { UserError } from '../src/core/errors.js';
import { userLabel } from '../src/core/invocation.js';
import { table } from '../src/core/table.js';
import { labAsks } from '../src/demo/lab-asks.js';
import { demoAware } from '../src/demo/no-lab.js';
import { drainProgress, evictedSummary, stayedSummary } from '../src/nodes/drain-report.js';
import { assertLonghornSafe } from '../src/nodes/longhorn-guard.js';
import { withLonghorn } from '../src/nodes/longhorn-plan.js';
import { kubeForNode, requireKube, requireSsh, sshTarget } from '../src/nodes/node-ops.js';
import { cordonPlan, drainPlan, rebootPlan } from '../src/nodes/plans.js';
import { provisionNode, provisionPlan } from '../src/nodes/provision.js';
import { checkRebootGuards, rebootNode } from '../src/nodes/reboot.js';
import { k3sStates, nodeStatuses, renderStatuses } from '../src/nodes/status.js';
import { updateNodes, updatePlan, updateTargets } from '../src/nodes/update.js';

const nodeOption: OptionDef = {
  name: 'node',
  description: 'A node from the inventory, e.g. pi4-a',
  type: 'string',
  required: true,
  autocomplete: 'nodes',
  schema: z.string().regex(/^[a-z0-9-]{1,32}$/, 'a node name like pi4-a'),
};
const forceOption: OptionDef = {
  name: 'force',
  description:
    "Also for the bot's node, the only control plane, or a Longhorn volume's last healthy replica",
  type: 'boolean',
};
const longhornForceOption: OptionDef = {
  name: 'force',
  description: 'Even if a Longhorn volume is degraded or has its last healthy replica there',
  type: 'boolean',
};
const evictUnmanagedOption: OptionDef = {
  name: 'evict_unmanaged',
  description: 'Also evict pods no controller will recreate — they are gone for good',
  type: 'boolean',
};
type DrainArgs = { evict_unmanaged?: boolean };
type ForceArgs = { force?: boolean };

/**
 * The Longhorn precondition of a drain, reboot, update or provision: refuses (naming volumes,
 * PVCs, pods and the node-drain-policy) unless force:true. Not for dry runs.
 */
async function assertStorageSafe(
  ctx: CommandContext<ForceArgs>,
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
/** systemd unit names: letters, digits and @._:- only (never passed through a shell anyway). */
const UNIT = /^[A-Za-z0-9@._:-]{1,128}$/;

type NodeArgs = { node: string };
type LogsArgs = NodeArgs & { unit: string; lines?: number };

/** What /node logs runs on the node. */
const journalArgv = ({ unit, lines }: LogsArgs) => [
  'sudo',
  '-n',
  'journalctl',
  '-u',
  unit,
  '-n',
  String(lines ?? 50),
  '--no-pager',
  '-o',
  'short-iso',
];

/**
 * The preconditions of the disruptive node actions (the dispatcher runs them before proposing
 * and again before running): no other node operation runs (execute takes the lock), a drain
 * would not delete pods for good, and each node it will SSH to presents its pinned host key and
 * takes the bot's login (so nobody confirms a reboot of a host the bot may not talk to).
 */
async function assertCanStart(
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

/** The node, which must be in the K3s cluster for Kubernetes actions. */
function k3sNode(ctx: CommandContext<NodeArgs>): NodeConfig {
  const node = ctx.inventory.node(ctx.args.node);
  if (!node.k3sName) {
    const k3s = ctx.inventory.nodes.filter((n) => n.k3sName).map((n) => n.name);
    throw new UserError(`${node.name} is not a K3s node.`, `K3s nodes: ${k3s.join(', ')}`);
  }
  return node;
}

async function setSchedulable(ctx: CommandContext<NodeArgs>, schedulable: boolean) {
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

export const command = defineCommand({
  name: 'node',
  description: "Operate the lab's nodes: status, safe reboot, drain, cordon, logs",
  subcommands: [
    defineAction({
      name: 'list',
      description: 'The inventory: nodes with their roles, OS and groups',
      sideEffects: false,
      options: [],
      execute: async ({ inventory, services }) => {
        // K3s state from one API call when the API is configured; the inventory alone otherwise.
        const k3s = await k3sStates(() => services.nodeOps());
        return {
          title: `${inventory.nodes.length} nodes`,
          code: table(
            ['NODE', 'HOST', 'OS', 'ROLES', 'K3S', 'GROUPS'],
            inventory.nodes.map((n) => [
              n.name,
              n.port === 22 ? n.host : `${n.host}:${n.port}`,
              n.os,
              n.roles.join(',') || '-',
              n.k3sName
                ? (k3s.states?.get(n.k3sName) ??
                  (k3s.states ? `${n.k3sName}: not in cluster` : n.k3sName))
                : '-',
              n.groups.join(',') || '-',
            ]),
          ),
          text: k3s.error ? `K3s state unknown: ${k3s.error}` : undefined,
        };
      },
    }),
    defineAction<{ target?: string }>({
      name: 'status',
      description:
        'Reachable, uptime, load, memory, disk, temperature, K3s state — all nodes in parallel',
      sideEffects: false,
      options: [
        {
          name: 'target',
          description: 'A node, a group, or all (default)',
          type: 'string',
          autocomplete: 'node-targets',
        },
      ],
      execute: demoAware(
        (ctx) => labAsks.nodeStatus(ctx.inventory.select(ctx.args.target ?? 'all')),
        async (ctx) => {
          const nodes = ctx.inventory.select(ctx.args.target ?? 'all');
          const ops = await ctx.services.nodeOps();
          requireSsh(ops, 'Checking the nodes', { readOnly: true });
          await ctx.progress.update({
            title: `Checking ${nodes.length} node${nodes.length === 1 ? '' : 's'}…`,
          });
          return renderStatuses(await nodeStatuses(nodes, ops));
        },
      ),
    }),
    defineAction<NodeArgs & DrainArgs & ForceArgs>({
      name: 'reboot',
      description: 'Drain, reboot over SSH, wait until Ready, uncordon',
      sideEffects: true,
      confirm: true,
      options: [nodeOption, forceOption, evictUnmanagedOption],
      preconditions: async (ctx) => {
        const node = ctx.inventory.node(ctx.args.node);
        const guards = checkRebootGuards(
          node,
          ctx.inventory.nodes,
          ctx.args.force ?? false,
          ctx.config.self,
        );
        await assertCanStart(ctx, { node, evictUnmanaged: ctx.args.evict_unmanaged }, [node]);
        const storage = await assertStorageSafe(
          ctx,
          [node],
          'rebooting',
          (n) => `/node reboot ${n.name} force:true`,
        );
        return [...guards, ...storage];
      },
      plan: async (ctx) => {
        const node = ctx.inventory.node(ctx.args.node);
        const plan = rebootPlan(node, ctx.inventory.nodes, {
          evictUnmanaged: ctx.args.evict_unmanaged,
          timeouts: ctx.config.nodeOps,
          self: ctx.config.self,
        });
        return withLonghorn(ctx, plan, [node], 'reboot');
      },
      execute: async (ctx) => {
        const node = ctx.inventory.node(ctx.args.node);
        return rebootNode(ctx, node, await ctx.services.nodeOps(), {
          evictUnmanaged: ctx.args.evict_unmanaged,
        });
      },
    }),
    defineAction<NodeArgs & DrainArgs & ForceArgs>({
      name: 'drain',
      operation: 'node.drain',
      description: 'Cordon the node and evict its pods (DaemonSets stay)',
      sideEffects: true,
      confirm: true,
      options: [nodeOption, evictUnmanagedOption, longhornForceOption],
      preconditions: async (ctx) => {
        const node = k3sNode(ctx);
        await assertCanStart(ctx, { node, evictUnmanaged: ctx.args.evict_unmanaged });
        return assertStorageSafe(
          ctx,
          [node],
          'draining',
          (n) => `/node drain ${n.name} force:true`,
        );
      },
      plan: async (ctx) => {
        const node = k3sNode(ctx);
        const plan = drainPlan(node, {
          evictUnmanaged: ctx.args.evict_unmanaged,
          timeouts: ctx.config.nodeOps,
          self: ctx.config.self,
        });
        return withLonghorn(ctx, plan, [node], 'drain');
      },
      execute: async (ctx) => {
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
      },
    }),
    defineAction<NodeArgs>({
      name: 'cordon',
      description: 'Stop scheduling new pods on the node',
      sideEffects: true,
      options: [nodeOption],
      plan: (ctx) => cordonPlan(k3sNode(ctx), true),
      execute: (ctx) => setSchedulable(ctx, false),
    }),
    defineAction<NodeArgs>({
      name: 'uncordon',
      description: 'Allow scheduling on the node again',
      sideEffects: true,
      options: [nodeOption],
      plan: (ctx) => cordonPlan(k3sNode(ctx), false),
      execute: (ctx) => setSchedulable(ctx, true),
    }),
    defineAction<LogsArgs>({
      name: 'logs',
      description: "A systemd unit's journal on a node",
      sideEffects: false,
      // Any unit's journal, read with sudo: secrets and addresses end up there.
      needsRole: true,
      options: [
        nodeOption,
        {
          name: 'unit',
          description: 'A systemd unit, e.g. k3s-agent',
          type: 'string',
          required: true,
          schema: z
            .string()
            .regex(UNIT, 'a systemd unit name like k3s-agent or restic-backup.service'),
        },
        {
          name: 'lines',
          description: 'How many lines (default 50, at most 1000)',
          type: 'integer',
          schema: z.number().int().min(1).max(1000),
        },
      ],
      execute: demoAware(
        (ctx) => labAsks.nodeCommand(ctx.inventory.node(ctx.args.node), journalArgv(ctx.args)),
        async (ctx) => {
          const node = ctx.inventory.node(ctx.args.node);
          const ssh = requireSsh(await ctx.services.nodeOps(), `Reading logs on ${node.name}`, {
            readOnly: true,
          });
          const lines = ctx.args.lines ?? 50;
          const r = await ssh.exec(sshTarget(node), journalArgv(ctx.args), { signal: ctx.signal });
          if (r.code !== 0) {
            throw new UserError(
              `journalctl on ${node.name} exited with ${r.code}.`,
              r.stderr.trim().slice(0, 500) || undefined,
            );
          }
          return {
            title: `${ctx.args.unit} on ${node.name} (last ${lines} lines)`,
            code: r.stdout.trimEnd() || '(no entries)',
          };
        },
      ),
    }),
    defineAction<NodeArgs & ForceArgs & { check?: boolean }>({
      name: 'provision',
      operation: 'node.provision',
      description:
        'Pis: the Ansible playbook; the NixOS server: nixos-rebuild switch (check:true only shows changes)',
      sideEffects: true,
      confirm: true,
      options: [
        nodeOption,
        { name: 'check', description: 'Only show what would change', type: 'boolean' },
        longhornForceOption,
      ],
      preconditions: async (ctx) => {
        const node = ctx.inventory.node(ctx.args.node);
        await assertCanStart(ctx, undefined, [node]);
        // check:true changes nothing on the node: no reason to refuse it.
        if (ctx.args.check) return [];
        return assertStorageSafe(
          ctx,
          [node],
          'provisioning',
          (n) => `/node provision ${n.name} force:true`,
        );
      },
      plan: async (ctx) => {
        const node = ctx.inventory.node(ctx.args.node);
        const plan = await provisionPlan(ctx, node, ctx.args.check ?? false);
        return ctx.args.check ? plan : withLonghorn(ctx, plan, [node], 'provision');
      },
      execute: async (ctx) =>
        provisionNode(
          ctx,
          ctx.inventory.node(ctx.args.node),
          await ctx.services.nodeOps(),
          ctx.args.check ?? false,
        ),
    }),
    defineAction<ForceArgs & { target: string }>({
      name: 'update',
      operation: 'node.update',
      description: 'OS updates on Pis, one node at a time; reboots safely when a node asks for it',
      sideEffects: true,
      confirm: true,
      options: [
        {
          name: 'target',
          description: 'A node or a group of Pis',
          type: 'string',
          required: true,
          autocomplete: 'node-targets',
        },
        longhornForceOption,
      ],
      preconditions: async (ctx) => {
        const nodes = updateTargets(ctx, ctx.args.target);
        await assertCanStart(ctx, undefined, nodes);
        return assertStorageSafe(
          ctx,
          nodes,
          'updating',
          () => `/node update ${ctx.args.target} force:true`,
        );
      },
      plan: (ctx) =>
        withLonghorn(
          ctx,
          updatePlan(ctx, ctx.args.target),
          updateTargets(ctx, ctx.args.target),
          'update',
        ),
      execute: async (ctx) =>
        updateNodes(ctx, updateTargets(ctx, ctx.args.target), await ctx.services.nodeOps(), {
          force: ctx.args.force,
        }),
    }),
  ],
});
