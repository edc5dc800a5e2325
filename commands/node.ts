import { z } from 'zod';
import type { NodeConfig } from '../src/config/schema.js';
import { defineAction, defineCommand, type OptionDef } from '../src/core/command.js';
import type { CommandContext } from '../src/core/context.js';
import { UserError } from '../src/core/errors.js';
import { userLabel } from '../src/core/invocation.js';
import { table } from '../src/core/table.js';
import { renderPlaybookResult, runLabPlaybook } from '../src/nodes/ansible-run.js';
import { evictedStep, evictedSummary } from '../src/nodes/drain-report.js';
import { requireKube, requireSsh, sshTarget } from '../src/nodes/node-ops.js';
import { cordonPlan, drainPlan, rebootPlan, sshTarget as sshLine } from '../src/nodes/plans.js';
import { checkRebootGuards, rebootNode } from '../src/nodes/reboot.js';
import { nodeStatuses, renderStatuses } from '../src/nodes/status.js';

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
  description: 'Also for the node running the bot or the only control-plane node',
  type: 'boolean',
};
const evictUnmanagedOption: OptionDef = {
  name: 'evict_unmanaged',
  description: 'Also evict pods no controller will recreate — they are gone for good',
  type: 'boolean',
};
type DrainArgs = { evict_unmanaged?: boolean };
/** systemd unit names: letters, digits and @._:- only (never passed through a shell anyway). */
const UNIT = /^[A-Za-z0-9@._:-]{1,128}$/;

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
      execute: async (ctx) => {
        const nodes = ctx.inventory.select(ctx.args.target ?? 'all');
        const ops = await ctx.services.nodeOps();
        requireSsh(ops, 'Checking the nodes');
        await ctx.progress.update({
          title: `Checking ${nodes.length} node${nodes.length === 1 ? '' : 's'}…`,
        });
        return renderStatuses(await nodeStatuses(nodes, ops));
      },
    }),
    defineAction<NodeArgs & DrainArgs & { force?: boolean }>({
      name: 'reboot',
      description: 'Drain, reboot over SSH, wait until Ready, uncordon',
      sideEffects: true,
      confirm: true,
      options: [nodeOption, forceOption, evictUnmanagedOption],
      plan: (ctx) => {
        const node = ctx.inventory.node(ctx.args.node);
        // Refuse before proposing, so nobody confirms something that would then be refused.
        if (!ctx.dryRun) checkRebootGuards(node, ctx.inventory.nodes, ctx.args.force ?? false);
        return rebootPlan(node, ctx.inventory.nodes, { evictUnmanaged: ctx.args.evict_unmanaged });
      },
      execute: async (ctx) => {
        const node = ctx.inventory.node(ctx.args.node);
        checkRebootGuards(node, ctx.inventory.nodes, ctx.args.force ?? false);
        return rebootNode(ctx, node, await ctx.services.nodeOps(), {
          evictUnmanaged: ctx.args.evict_unmanaged,
        });
      },
    }),
    defineAction<NodeArgs & DrainArgs>({
      name: 'drain',
      description: 'Cordon the node and evict its pods (DaemonSets stay)',
      sideEffects: true,
      confirm: true,
      options: [nodeOption, evictUnmanagedOption],
      plan: (ctx) => drainPlan(k3sNode(ctx), { evictUnmanaged: ctx.args.evict_unmanaged }),
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
            onEvicted: (p) => void ctx.progress.step(evictedStep(p)),
            onBlocked: (p, attempt, reason) =>
              void ctx.progress.step(
                `${p.namespace}/${p.name} blocked (attempt ${attempt}): ${reason}`,
              ),
          });
          return {
            severity: 'success',
            title: `${node.name} drained`,
            text: `${evictedSummary(r.evicted)}; ${r.skipped.length} pods stay (DaemonSet, mirror or finished). It stays cordoned: /node uncordon ${node.name} when done.`,
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
    defineAction<NodeArgs & { unit: string; lines?: number }>({
      name: 'logs',
      description: "A systemd unit's journal on a node",
      sideEffects: false,
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
      execute: async (ctx) => {
        const node = ctx.inventory.node(ctx.args.node);
        const ssh = requireSsh(await ctx.services.nodeOps(), `Reading logs on ${node.name}`);
        const lines = ctx.args.lines ?? 50;
        const argv = [
          'sudo',
          '-n',
          'journalctl',
          '-u',
          ctx.args.unit,
          '-n',
          String(lines),
          '--no-pager',
          '-o',
          'short-iso',
        ];
        const r = await ssh.exec(sshTarget(node), argv, { signal: ctx.signal });
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
    }),
    defineAction<NodeArgs & { check?: boolean }>({
      name: 'provision',
      description:
        'Pis: the Ansible playbook; the NixOS server: nixos-rebuild switch (check:true only shows changes)',
      sideEffects: true,
      confirm: true,
      options: [
        nodeOption,
        { name: 'check', description: 'Only show what would change', type: 'boolean' },
      ],
      plan: (ctx) => {
        const node = ctx.inventory.node(ctx.args.node);
        if (node.os === 'raspios') {
          const k3s = ctx.config.nodeOps.k3s;
          return {
            summary: `${ctx.args.check ? 'Check' : 'Run'} provision-pi.yml on ${node.name} (base packages, cgroups for K3s, K3s agent joining ${k3s.url ?? '<nodeOps.k3s.url>'}).`,
            steps: [
              `ansible-playbook -i <inventory generated from the bot's, StrictHostKeyChecking=yes> playbooks/provision-pi.yml --limit ${node.name}${ctx.args.check ? ' --check --diff' : ''} -e @<vars: k3s_url> -e @<0600 file: k3s_token>`,
            ],
          };
        }
        const flake = `${ctx.config.nodeOps.nixosFlake}#${node.nixosHost ?? node.name}`;
        return {
          summary: `${ctx.args.check ? 'Show what nixos-rebuild would change' : 'Switch'} ${node.name} to ${flake}.`,
          steps: [
            `${sshLine(node)} -- sudo -n nixos-rebuild ${ctx.args.check ? 'dry-activate' : 'switch'} --flake ${flake}`,
          ],
        };
      },
      execute: async (ctx) => {
        const node = ctx.inventory.node(ctx.args.node);
        const ops = await ctx.services.nodeOps();
        if (node.os === 'raspios') {
          const { url, token } = ctx.config.nodeOps.k3s;
          const r = await runLabPlaybook(ctx, ops, {
            playbook: 'provision-pi.yml',
            nodes: [node],
            check: ctx.args.check,
            extraVars: url ? { k3s_url: url } : undefined,
            secretVars: token ? { k3s_token: token } : undefined,
          });
          return renderPlaybookResult(
            `provision-pi.yml on ${node.name}${ctx.args.check ? ' (check mode)' : ''}`,
            r,
          );
        }
        const ssh = requireSsh(ops, `Provisioning ${node.name}`);
        const flake = `${ctx.config.nodeOps.nixosFlake}#${node.nixosHost ?? node.name}`;
        const verb = ctx.args.check ? 'dry-activate' : 'switch';
        const tail: string[] = [];
        const r = await ssh.exec(
          sshTarget(node),
          ['sudo', '-n', 'nixos-rebuild', verb, '--flake', flake],
          {
            timeoutMs: 30 * 60_000,
            signal: ctx.signal,
            onLine: (line) => {
              tail.push(line);
              if (tail.length > 40) tail.shift();
              void ctx.progress.step(line);
            },
          },
        );
        return {
          severity: r.code === 0 ? 'success' : 'error',
          title:
            r.code === 0
              ? `nixos-rebuild ${verb} on ${node.name} done`
              : `nixos-rebuild ${verb} on ${node.name} failed (exit ${r.code})`,
          code: tail.join('\n') || undefined,
        };
      },
    }),
    defineAction<{ target: string }>({
      name: 'update',
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
      ],
      plan: (ctx) => {
        const nodes = ctx.inventory.select(ctx.args.target).filter((n) => n.os === 'raspios');
        if (nodes.length === 0)
          throw new UserError(
            `${ctx.args.target} has no Raspberry Pi OS nodes; the NixOS server updates with /node provision.`,
          );
        return {
          summary: `Update ${nodes.map((n) => n.name).join(', ')} one at a time; reboot (safely) those that need it.`,
          steps: nodes.flatMap((n) => [
            `ansible-playbook playbooks/update.yml --limit ${n.name}`,
            `if ${n.name} reports REBOOT_REQUIRED: /node reboot ${n.name} (cordon, drain, reboot, Ready, uncordon)`,
          ]),
        };
      },
      execute: async (ctx) => {
        const nodes = ctx.inventory.select(ctx.args.target).filter((n) => n.os === 'raspios');
        const ops = await ctx.services.nodeOps();
        const lines: string[] = [];
        for (const node of nodes) {
          const r = await runLabPlaybook(ctx, ops, { playbook: 'update.yml', nodes: [node] });
          if (r.exitCode !== 0) {
            const failed = renderPlaybookResult(`update.yml on ${node.name}`, r);
            return {
              ...failed,
              text: [
                `Stopped at ${node.name}; not touched: ${
                  nodes
                    .slice(nodes.indexOf(node) + 1)
                    .map((n) => n.name)
                    .join(', ') || 'none'
                }.`,
                ...lines,
                failed.text,
              ]
                .filter(Boolean)
                .join('\n'),
            };
          }
          lines.push(`${node.name}: updated`);
          if (r.rebootRequired.includes(node.name)) {
            try {
              checkRebootGuards(node, ctx.inventory.nodes, false);
            } catch (err) {
              lines.push(
                `${node.name}: needs a reboot, not done automatically — ${(err as Error).message}`,
              );
              continue;
            }
            const reboot = await rebootNode(ctx, node, ops);
            lines.push(`${node.name}: ${reboot.title}`);
            if (reboot.severity === 'error')
              return { ...reboot, text: [...lines, reboot.text].join('\n') };
          }
        }
        return {
          severity: 'success',
          title: `Updated ${nodes.length} node${nodes.length === 1 ? '' : 's'}`,
          text: lines.join('\n'),
        };
      },
    }),
  ],
});
