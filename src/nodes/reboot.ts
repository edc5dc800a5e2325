import type { Config, NodeConfig } from '../config/schema.js';
import type { CommandContext } from '../core/context.js';
import { isUserError, UserError } from '../core/errors.js';
import { userLabel } from '../core/invocation.js';
import type { Reply } from '../core/reply.js';
import { UnmanagedPodsError } from '../infra/kube.js';
import { drainProgress, evictedSummary, stayedSummary } from './drain-report.js';
import { kubeForNode, type NodeOps, requireSsh, sshTarget } from './node-ops.js';
import { rebootWarnings } from './plans.js';

interface Step {
  label: string;
  run: () => Promise<string | undefined>;
  /** The node's state if we stop at this step, and what to run next. */
  ifFails: string | ((err: unknown) => string);
}

/** SSH came back, but with the same boot id: the node did not actually reboot. */
class NotRebootedError extends UserError {}

export interface RebootOptions {
  /** Also evict pods no controller will recreate (deleted for good). Default: refuse to drain. */
  evictUnmanaged?: boolean;
  /** The caller holds the operation lock already (/node update's rolling update). */
  underLock?: boolean;
}

/** A reboot's answer; `nodeUnchanged` when it stopped before changing anything. */
export type RebootResult = Reply & { nodeUnchanged?: boolean };

/** Refuses riskier reboots unless forced, saying why. */
export function checkRebootGuards(
  node: NodeConfig,
  inventory: readonly NodeConfig[],
  force: boolean,
  self?: Config['self'],
): void {
  const warnings = rebootWarnings(node, inventory, self);
  if (warnings.length > 0 && !force) {
    throw new UserError(
      `Not rebooting ${node.name} without force:true.`,
      `${warnings.join('\n')}\nIf that is what you want: /node reboot ${node.name} force:true`,
    );
  }
}

/**
 * check pods + cordon → drain → reboot over SSH → SSH down and back → Ready → uncordon, one
 * step after the other with progress and a step log. On failure it stops and says exactly what
 * state the node is in and what to run next. Pods no controller would recreate make it stop
 * before cordoning unless `evictUnmanaged`.
 */
export async function rebootNode(
  ctx: CommandContext,
  node: NodeConfig,
  ops: NodeOps,
  opts: RebootOptions = {},
): Promise<RebootResult> {
  const ssh = requireSsh(ops, `Rebooting ${node.name}`);
  const kube = kubeForNode(ops, node);
  const k3s = node.k3sName!;
  const target = sshTarget(node);
  const { signal, progress } = ctx;
  const seconds = (n: number) => n * 1000;
  /** The node's boot id, or undefined when it cannot be read (then the check is skipped). */
  const bootId = async (): Promise<string | undefined> => {
    try {
      const r = await ssh.exec(target, ['cat', '/proc/sys/kernel/random/boot_id'], {
        timeoutMs: 10_000,
        signal,
      });
      const id = r.stdout.trim();
      return r.code === 0 && /^[0-9a-f-]{36}$/.test(id) ? id : undefined;
    } catch (err) {
      if (signal.aborted) throw err;
      return undefined;
    }
  };
  let bootBefore: string | undefined;
  const release = opts.underLock
    ? () => {}
    : ops.lock.acquire(`Reboot of ${node.name}`, userLabel(ctx.invocation.user));
  const started = Date.now();
  const steps: Step[] = [];
  if (kube) {
    steps.push({
      label: `check pods, cordon ${k3s}`,
      run: async () => {
        await kube.cordonForDrain(k3s, { evictUnmanaged: opts.evictUnmanaged });
        return `cordoned ${k3s}`;
      },
      ifFails: (err) =>
        err instanceof UnmanagedPodsError
          ? `${node.name} is unchanged: not cordoned, no pod evicted, not rebooted. To reboot it anyway and delete those pods for good: /node reboot ${node.name} evict_unmanaged:true`
          : `${node.name} is unchanged: not cordoned, not rebooted.`,
    });
    steps.push({
      label: `drain ${k3s}`,
      run: async () => {
        const r = await kube.evictCordoned(k3s, {
          timeoutMs: seconds(ops.config.drainTimeoutSeconds),
          signal,
          evictUnmanaged: opts.evictUnmanaged,
          ...drainProgress(progress),
        });
        return `drained ${k3s}: ${evictedSummary(r.evicted)}, ${stayedSummary(r.skipped, r.kept)}`;
      },
      ifFails: `${node.name} is cordoned and partly drained. Fix what blocks the drain and run /node reboot ${node.name} again, or /node uncordon ${node.name} to give up.`,
    });
  }
  steps.push({
    label: 'reboot over SSH',
    run: async () => {
      bootBefore = await bootId();
      // The same id as status.nodeInfo.bootID: when SSH cannot tell it, ask the API (before the reboot).
      if (!bootBefore && kube) bootBefore = (await kube.node(k3s).catch(() => undefined))?.bootId;
      await ssh.execDetached(target, ['sudo', '-n', 'systemctl', 'reboot']);
      return `sent systemctl reboot to ${node.user}@${node.host}`;
    },
    ifFails: `${node.name} was not rebooted${kube ? ` and is still cordoned: run /node uncordon ${node.name}` : ''}.`,
  });
  steps.push({
    label: 'wait for SSH to go down',
    run: async () => {
      await ssh.waitForDown(target, {
        timeoutMs: seconds(ops.config.rebootTimeoutSeconds),
        signal,
      });
      return `${node.name} went down`;
    },
    ifFails: `${node.name} did not go down: the reboot may not have happened. Check it, then /node reboot ${node.name} again${kube ? ` or /node uncordon ${node.name}` : ''}.`,
  });
  steps.push({
    label: 'wait for SSH to come back',
    run: async () => {
      await ssh.waitForUp(target, { timeoutMs: seconds(ops.config.rebootTimeoutSeconds), signal });
      // Proof that it rebooted rather than, say, sshd restarting: a new boot id.
      const bootAfter = await bootId();
      if (bootBefore && bootAfter && bootBefore === bootAfter) {
        throw new NotRebootedError(
          `${node.name} answers SSH again but did not reboot: its boot id is still ${bootBefore.slice(0, 8)}….`,
          `Something held the reboot back (systemd-inhibit --list shows inhibitors) or only sshd restarted.`,
        );
      }
      return `${node.name} answers SSH again (pinned host key${bootAfter && bootBefore ? ', new boot id' : ''})`;
    },
    ifFails: (err) =>
      err instanceof NotRebootedError
        ? `${node.name} is up, not rebooted${kube ? ' and still cordoned' : ''}. Try /node reboot ${node.name} again${kube ? `, or /node uncordon ${node.name} to give up` : ''}.`
        : `${node.name} has not come back${kube ? ' and is still cordoned' : ''}. Check its console/power; once it is back${kube ? ` and Ready, run /node uncordon ${node.name}` : ', nothing else is needed'}.`,
  });
  if (kube) {
    steps.push({
      label: `wait until ${k3s} is Ready with a new boot id`,
      run: async () => {
        // The Ready of before the reboot stays for node-monitor-grace-period: only a Ready with
        // a new status.nodeInfo.bootID says the kubelet is back (see Kube.waitReady).
        const n = await kube.waitReady(k3s, {
          timeoutMs: seconds(ops.config.readyTimeoutSeconds),
          signal,
          notBootId: bootBefore || null,
        });
        return `${k3s} is Ready with a new boot id (${n.kubeletVersion})`;
      },
      ifFails: `${node.name} is up but ${k3s} is not Ready and still cordoned. Check k3s-agent (/node logs ${node.name} k3s-agent), then /node uncordon ${node.name}.`,
    });
    steps.push({
      label: `uncordon ${k3s}`,
      run: async () => {
        await kube.uncordon(k3s);
        return `uncordoned ${k3s}`;
      },
      ifFails: `${node.name} is Ready but still cordoned: run /node uncordon ${node.name}.`,
    });
  }
  try {
    for (const [i, step] of steps.entries()) {
      await progress.update({
        title: `Rebooting ${node.name}`,
        progress: { done: i, total: steps.length, label: step.label },
      });
      let note: string | undefined;
      try {
        note = await step.run();
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        await progress.step(`✖ ${step.label}: ${why}`);
        const state = typeof step.ifFails === 'string' ? step.ifFails : step.ifFails(err);
        return {
          severity: 'error',
          title: `Reboot of ${node.name} stopped at step ${i + 1} of ${steps.length}: ${step.label}`,
          text: isUserError(err) && err.hint ? `${why}\n${err.hint}` : why,
          fields: [{ name: 'State now', value: state }],
          // Only a refusal is known to have changed nothing (an API error might come after the cordon).
          nodeUnchanged: i === 0 && err instanceof UnmanagedPodsError,
        };
      }
      if (note) await progress.step(note);
    }
  } finally {
    release();
  }
  const mins = ((Date.now() - started) / 60_000).toFixed(1);
  return {
    severity: 'success',
    title: `${node.name} rebooted`,
    text: `${steps.map((s) => s.label).join(' → ')} — all done in ${mins} min.`,
  };
}
