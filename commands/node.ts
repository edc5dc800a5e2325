import { z } from 'zod';
import type { NodeConfig } from '../src/config/schema.js';
import { defineAction, defineCommand, type OptionDef } from '../src/core/command.js';
import type { CommandContext } from '../src/core/context.js';
import { UserError } from '../src/core/errors.js';
import { table } from '../src/core/table.js';
import { cordonPlan, drainPlan, rebootPlan } from '../src/nodes/plans.js';

const nodeOption: OptionDef = {
  name: 'node',
  description: 'A node from the inventory, e.g. pi4-a',
  type: 'string',
  required: true,
  autocomplete: 'nodes',
  schema: z.string().regex(/^[a-z0-9-]{1,32}$/, 'a node name like pi4-a'),
};

type NodeArgs = { node: string };

/** The node, which must be in the K3s cluster for Kubernetes actions. */
function k3sNode(ctx: CommandContext<NodeArgs>): NodeConfig {
  const node = ctx.inventory.node(ctx.args.node);
  if (!node.k3sName) {
    const k3s = ctx.inventory.nodes.filter((n) => n.k3sName).map((n) => n.name);
    throw new UserError(`${node.name} is not a K3s node.`, `K3s nodes: ${k3s.join(', ')}`);
  }
  return node;
}

/**
 * Running node actions for real needs the SSH and Kubernetes integrations; until they are
 * configured the bot shows plans only, and says so instead of pretending.
 */
function notConnected(what: string): never {
  throw new UserError(
    `${what} cannot run yet: this bot has no SSH/Kubernetes connection to the nodes configured.`,
    'Add dry_run:true to see exactly what it would do.',
  );
}

export const command = defineCommand({
  name: 'node',
  description: "Operate the lab's nodes: list, reboot safely, drain, cordon",
  subcommands: [
    defineAction({
      name: 'list',
      description: 'The inventory: nodes with their roles, OS and groups',
      sideEffects: false,
      options: [],
      execute: ({ inventory }) => ({
        title: `${inventory.nodes.length} nodes`,
        code: table(
          ['NODE', 'HOST', 'OS', 'ROLES', 'K3S', 'GROUPS'],
          inventory.nodes.map((n) => [
            n.name,
            n.port === 22 ? n.host : `${n.host}:${n.port}`,
            n.os,
            n.roles.join(',') || '-',
            n.k3sName ?? '-',
            n.groups.join(',') || '-',
          ]),
        ),
      }),
    }),
    defineAction<NodeArgs>({
      name: 'reboot',
      description: 'Drain, reboot over SSH, wait until Ready, uncordon',
      sideEffects: true,
      confirm: true,
      options: [nodeOption],
      plan: (ctx) => rebootPlan(ctx.inventory.node(ctx.args.node), ctx.inventory.nodes),
      execute: (ctx) => notConnected(`Rebooting ${ctx.inventory.node(ctx.args.node).name}`),
    }),
    defineAction<NodeArgs>({
      name: 'drain',
      description: 'Cordon the node and evict its pods (DaemonSets stay)',
      sideEffects: true,
      confirm: true,
      options: [nodeOption],
      plan: (ctx) => drainPlan(k3sNode(ctx)),
      execute: (ctx) => notConnected(`Draining ${k3sNode(ctx).name}`),
    }),
    defineAction<NodeArgs>({
      name: 'cordon',
      description: 'Stop scheduling new pods on the node',
      sideEffects: true,
      options: [nodeOption],
      plan: (ctx) => cordonPlan(k3sNode(ctx), true),
      execute: (ctx) => notConnected(`Cordoning ${k3sNode(ctx).name}`),
    }),
    defineAction<NodeArgs>({
      name: 'uncordon',
      description: 'Allow scheduling on the node again',
      sideEffects: true,
      options: [nodeOption],
      plan: (ctx) => cordonPlan(k3sNode(ctx), false),
      execute: (ctx) => notConnected(`Uncordoning ${k3sNode(ctx).name}`),
    }),
  ],
});
