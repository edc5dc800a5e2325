/**
 * /node: every subcommand as data — options, side effects, confirmation, preconditions — with
 * its behaviour in src/nodes by family: list (node-list.ts) and status (status.ts), logs
 * (logs.ts), drain/cordon/uncordon (scheduling.ts), reboot, provision and update (reboot.ts,
 * provision.ts, update.ts), and the checks before any disruptive one (start-checks.ts).
 */
import { z } from 'zod';
import { defineAction, defineCommand, type OptionDef } from '../src/core/command.js';
import { labAsks } from '../src/demo/lab-asks.js';
import { demoAware } from '../src/demo/no-lab.js';
import { journalArgv, type LogsArgs, readJournal, UNIT } from '../src/nodes/logs.js';
import { withLonghorn } from '../src/nodes/longhorn-plan.js';
import { listNodes } from '../src/nodes/node-list.js';
import { requireSsh } from '../src/nodes/node-ops.js';
import { cordonPlan, drainPlan, rebootPlan } from '../src/nodes/plans.js';
import { provisionNode, provisionPlan } from '../src/nodes/provision.js';
import { checkRebootGuards, rebootNode } from '../src/nodes/reboot.js';
import { drainNode, k3sNode, setSchedulable } from '../src/nodes/scheduling.js';
import { assertCanStart, assertStorageSafe } from '../src/nodes/start-checks.js';
import { nodeStatuses, renderStatuses } from '../src/nodes/status.js';
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
type NodeArgs = { node: string };

export const command = defineCommand({
  name: 'node',
  description: "Operate the lab's nodes: status, safe reboot, drain, cordon, logs",
  subcommands: [
    defineAction({
      name: 'list',
      description: 'The inventory: nodes with their roles, OS and groups',
      sideEffects: false,
      options: [],
      execute: ({ inventory, services }) => listNodes(inventory, services),
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
      execute: drainNode,
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
        readJournal,
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
