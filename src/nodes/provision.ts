/**
 * /node provision: a Pi gets playbooks/provision-pi.yml through Ansible, the NixOS server
 * `nixos-rebuild switch --flake <flake>#<host>` over SSH. Both under the cluster-wide
 * operation lock (nothing reboots or drains the node meanwhile).
 */
import type { Config, NodeConfig } from '../config/schema.js';
import type { CommandContext } from '../core/context.js';
import { UserError } from '../core/errors.js';
import { userLabel } from '../core/invocation.js';
import type { Plan, Reply } from '../core/reply.js';
import {
  playbookSkipTags,
  renderPlaybookResult,
  runLabPlaybook,
  skipTagsArg,
} from './ansible-run.js';
import { type NodeOps, requireSsh, sshTarget } from './node-ops.js';
import { isOnlyControlPlane, sshTarget as sshLine } from './plans.js';

/** A rebuild that compiles a kernel on the server can take a while. */
const NIXOS_REBUILD_TIMEOUT_MS = 60 * 60_000;

const flakeOf = (config: Config, node: NodeConfig) =>
  `${config.nodeOps.nixosFlake}#${node.nixosHost ?? node.name}`;

/** Only the Pis in K3s (with a k3sName) get the K3s agent; the others skip that part. */
const extraSkips = (node: NodeConfig) => (node.k3sName ? [] : ['k3s']);

/** Provisioning a Pi joins it to K3s: refuse up front when the bot cannot tell it how. */
function checkK3sSettings(config: Config, node: NodeConfig): void {
  const { url, token } = config.nodeOps.k3s;
  if (!node.k3sName || config.nodeOps.ansible.skipTags.includes('k3s') || (url && token)) return;
  const missing = [url ? undefined : 'nodeOps.k3s.url', token ? undefined : 'nodeOps.k3s.token'];
  throw new UserError(
    `Not provisioning ${node.name}: provision-pi.yml joins it to K3s and ${missing.filter(Boolean).join(' and ')} ${missing.filter(Boolean).length === 1 ? 'is' : 'are'} not set.`,
    "Set nodeOps.k3s.url (https://<server>:6443) and nodeOps.k3s.tokenFile (the server's /var/lib/rancher/k3s/server/node-token), or add k3s to nodeOps.ansible.skipTags.",
  );
}

export function provisionPlan(ctx: CommandContext, node: NodeConfig, check: boolean): Plan {
  const { config } = ctx;
  if (node.os === 'raspios') {
    if (!ctx.dryRun) checkK3sSettings(config, node);
    const { url } = config.nodeOps.k3s;
    const { vars } = config.nodeOps.ansible;
    const skipTags = playbookSkipTags(config, extraSkips(node));
    const joins = Boolean(node.k3sName);
    const varNames = [
      ...new Set([
        ...Object.keys(vars),
        ...Object.keys(node.ansibleVars ?? {}),
        ...(joins ? ['k3s_url'] : []),
      ]),
    ];
    const varFiles = [
      ...(varNames.length ? [` --extra-vars @<vars: ${varNames.join(', ')}>`] : []),
      ...(joins ? [' --extra-vars @<0600 file: k3s_token>'] : []),
    ].join('');
    return {
      summary: `${check ? 'Check (change nothing)' : 'Run'} provision-pi.yml on ${node.name}: base packages, cgroups for K3s, ${
        node.k3sName
          ? `the K3s agent joining ${url ?? '<nodeOps.k3s.url>'}`
          : `no K3s agent (${node.name} has no k3sName: not a K3s node)`
      }.`,
      steps: [
        `ansible-playbook -i <inventory generated from the bot's, StrictHostKeyChecking=yes> playbooks/provision-pi.yml --limit ${node.name}${check ? ' --check' : ''}${skipTagsArg(skipTags)}${varFiles}`,
      ],
      warnings: check
        ? []
        : [
            `If the kernel command line changes, ${node.name} needs a reboot afterwards (the bot says so; it does not reboot by itself).`,
          ],
    };
  }
  const flake = flakeOf(config, node);
  return {
    summary: `${check ? 'Show what nixos-rebuild would change on' : 'Switch'} ${node.name} ${check ? 'for' : 'to'} ${flake}.`,
    steps: [
      `${sshLine(node)} -- sudo -n nixos-rebuild ${check ? 'dry-activate' : 'switch'} --flake ${flake}`,
    ],
    warnings:
      isOnlyControlPlane(node, ctx.inventory.nodes) && !check
        ? [
            `${node.name} is the only control-plane node: if the new configuration restarts k3s, the Kubernetes API is away for a moment (running pods keep running).`,
          ]
        : [],
  };
}

export async function provisionNode(
  ctx: CommandContext,
  node: NodeConfig,
  ops: NodeOps,
  check: boolean,
): Promise<Reply> {
  if (node.os === 'raspios') checkK3sSettings(ctx.config, node);
  const release = ops.lock.acquire(`Provisioning of ${node.name}`, userLabel(ctx.invocation.user));
  try {
    return node.os === 'raspios'
      ? await provisionPi(ctx, node, ops, check)
      : await rebuildNixos(ctx, node, ops, check);
  } finally {
    release();
  }
}

async function provisionPi(
  ctx: CommandContext,
  node: NodeConfig,
  ops: NodeOps,
  check: boolean,
): Promise<Reply> {
  const { url, token } = ctx.config.nodeOps.k3s;
  const r = await runLabPlaybook(ctx, ops, {
    playbook: 'provision-pi.yml',
    nodes: [node],
    check,
    extraVars: url && node.k3sName ? { k3s_url: url } : undefined,
    secretVars: token && node.k3sName ? { k3s_token: token } : undefined,
    skipTags: extraSkips(node),
  });
  return renderPlaybookResult(
    `provision-pi.yml on ${node.name}${check ? ' (check mode)' : ''}`,
    r,
    { check },
  );
}

async function rebuildNixos(
  ctx: CommandContext,
  node: NodeConfig,
  ops: NodeOps,
  check: boolean,
): Promise<Reply> {
  const ssh = requireSsh(ops, `Provisioning ${node.name}`);
  const flake = flakeOf(ctx.config, node);
  const verb = check ? 'dry-activate' : 'switch';
  const tail: string[] = [];
  await ctx.progress.update({ title: `Rebuilding ${node.name}: nixos-rebuild ${verb}…` });
  const r = await ssh.exec(
    sshTarget(node),
    ['sudo', '-n', 'nixos-rebuild', verb, '--flake', flake],
    {
      timeoutMs: NIXOS_REBUILD_TIMEOUT_MS,
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
    text:
      r.code === 0
        ? undefined
        : 'The last lines are below; the whole output is in the thread. The running system is unchanged unless the activation started.',
    code: tail.join('\n') || undefined,
  };
}
