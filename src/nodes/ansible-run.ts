import path from 'node:path';
import type { Config, NodeConfig } from '../config/schema.js';
import type { CommandContext } from '../core/context.js';
import { UserError } from '../core/errors.js';
import type { Reply } from '../core/reply.js';
import { table } from '../core/table.js';
import type { PlaybookResult } from '../infra/ansible.js';
import type { NodeOps } from './node-ops.js';

/** The tags a run skips: `nodeOps.ansible.skipTags` plus the run's own. */
export function playbookSkipTags(config: Config, extra: readonly string[] = []): string[] {
  return [...new Set([...config.nodeOps.ansible.skipTags, ...extra])];
}

/** ` --skip-tags a,b` for a plan's command line, or nothing. */
export function skipTagsArg(tags: readonly string[]): string {
  return tags.length > 0 ? ` --skip-tags ${tags.join(',')}` : '';
}

/**
 * Runs one of the bot's playbooks on some nodes with progress per task: the current task in
 * the progress message, every task result in the step log. Loaded lazily (Ansible is only
 * needed for the Pis). Variables, weakest first: `nodeOps.ansible.vars`, the node's
 * `ansibleVars` (one node per run, so they can go in as extra vars and outrank the playbook's
 * defaults), then the command's own; all passed literally.
 */
export async function runLabPlaybook(
  ctx: CommandContext,
  ops: NodeOps,
  opts: {
    playbook: string;
    nodes: NodeConfig[];
    check?: boolean;
    extraVars?: Record<string, string>;
    secretVars?: Record<string, string>;
    /** On top of nodeOps.ansible.skipTags. */
    skipTags?: string[];
  },
): Promise<PlaybookResult> {
  if (!ops.sshFiles) {
    throw new UserError(
      'Ansible needs the SSH settings (ssh.privateKeyFile, ssh.knownHostsFile).',
      'Configure ssh in the config (docs/nodes.md).',
    );
  }
  const settings = ops.config.ansible;
  const perNode = opts.nodes.filter((n) => n.ansibleVars && Object.keys(n.ansibleVars).length);
  if (perNode.length > 0 && opts.nodes.length > 1) {
    throw new Error('per-node ansibleVars need one node per playbook run');
  }
  const extraVars = { ...settings.vars, ...perNode[0]?.ansibleVars, ...opts.extraVars };
  const { runPlaybook } = await import('../infra/ansible.js');
  let task = '';
  let done = 0;
  return runPlaybook({
    playbook: path.join(ops.playbooksDir, opts.playbook),
    nodes: ctx.inventory.nodes as NodeConfig[],
    limit: opts.nodes.map((n) => n.name),
    check: opts.check,
    extraVars,
    secretVars: opts.secretVars,
    skipTags: playbookSkipTags(ctx.config, opts.skipTags),
    timeoutMs: settings.timeoutSeconds * 1000,
    ssh: ops.sshFiles,
    // A host Ansible cannot reach is probed with the bot's own SSH: a changed host key is said so.
    ...(ops.ssh ? { hostKeyProbe: ops.ssh } : {}),
    signal: ctx.signal,
    logger: ctx.log,
    onEvent: (e) => {
      if (e.type === 'task' && e.task) {
        task = e.task;
        done++;
        void ctx.progress.update({
          title: `${opts.playbook} on ${opts.nodes.map((n) => n.name).join(', ')}`,
          text: `task ${done}: ${task}`,
        });
      } else if (e.type !== 'play' && e.host) {
        void ctx.progress.step(
          `${e.type}: [${e.host}] ${e.task ?? task}${e.message ? ` — ${e.message}` : ''}`,
        );
      }
    },
  });
}

/** ok/changed/failed/unreachable per host, and what failed. */
export function renderPlaybookResult(
  title: string,
  r: PlaybookResult,
  opts: { check?: boolean } = {},
): Reply {
  const failed = r.exitCode !== 0 || r.failures.length > 0;
  const rows = Object.entries(r.stats).map(([host, s]) => [
    host,
    String(s.ok),
    String(s.changed),
    String(s.failed),
    String(s.unreachable),
    String(s.skipped),
  ]);
  return {
    severity: failed ? 'error' : 'success',
    title: `${title}: ${failed ? `failed (ansible-playbook exit ${r.exitCode})` : 'done'} in ${Math.round(r.durationMs / 1000)} s`,
    text: r.error,
    code: rows.length
      ? table(['HOST', 'OK', 'CHANGED', 'FAILED', 'UNREACHABLE', 'SKIPPED'], rows)
      : undefined,
    fields: [
      ...r.failures
        .slice(0, 10)
        .map((f) => ({ name: `${f.host}: ${f.task}`, value: f.message.slice(0, 900) || 'failed' })),
      ...(r.rebootRequired.length
        ? [
            opts.check
              ? {
                  // Check mode changed nothing: the handler only says what a real run would do.
                  name: 'Would need a reboot',
                  value: r.rebootRequired
                    .map((n) => `${n} — after a real run (its kernel command line would change)`)
                    .join('\n'),
                }
              : {
                  name: 'Reboot required',
                  value: r.rebootRequired
                    .map((n) => `${n} — when ready: /node reboot ${n}`)
                    .join('\n'),
                },
          ]
        : []),
    ],
  };
}
