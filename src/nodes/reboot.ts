import type { Config, NodeConfig } from '../config/schema.js';
import type { CommandContext, Progress } from '../core/context.js';
import { UserError } from '../core/errors.js';
import { label, userLabel } from '../core/invocation.js';
import type { Reply } from '../core/reply.js';
import { UnmanagedPodsError } from '../infra/kube-drain.js';
import type { RunningOperation } from '../ops/operations.js';
import { type EngineStep, runSteps } from '../ops/step-engine.js';
import { drainProgress, evictedSummary, stayedSummary } from './drain-report.js';
import { readLonghorn, waitVolumesHealthy } from './longhorn-guard.js';
import { volumesToWaitFor } from './longhorn-impact.js';
import { kubeForNode, type NodeOps, requireSsh, sshTarget } from './node-ops.js';
import { rebootWarnings } from './plans.js';

/** SSH came back, but with the same boot id: the node did not actually reboot. */
export class NotRebootedError extends UserError {}

export interface RebootOptions {
  /** Also evict pods no controller will recreate (deleted for good). Default: refuse to drain. */
  evictUnmanaged?: boolean;
  /** The caller holds the operation lock already (/node update's rolling update). */
  underLock?: boolean;
  /** The operation this reboot is a step of (/node update's): after a restart that one answers for both. */
  partOf?: RunningOperation;
}

/** A reboot's answer; `nodeUnchanged` when it stopped before changing anything. */
export type RebootResult = Reply & { nodeUnchanged?: boolean };

/** Refuses riskier reboots unless forced, saying why; forced, returns what force:true overrode. */
export function checkRebootGuards(
  node: NodeConfig,
  inventory: readonly NodeConfig[],
  force: boolean,
  self?: Config['self'],
): string[] {
  const warnings = rebootWarnings(node, inventory, self);
  if (warnings.length > 0 && !force) {
    throw new UserError(
      `Not rebooting ${node.name} without force:true.`,
      `${warnings.join('\n')}\nIf that is what you want: /node reboot ${node.name} force:true`,
    );
  }
  return warnings;
}

/** What a reboot's steps share, and what the journal keeps for a resumed one. */
export type RebootData = {
  /** The node's boot id before the reboot (SSH, or the API's status.nodeInfo.bootID). */
  bootBefore?: string;
  /** Written before `systemctl reboot` is sent: after a restart, never send it again. */
  rebootSent?: boolean;
  /**
   * Longhorn volumes with a healthy replica on the node when the reboot started (attached
   * ones): after the uncordon the reboot waits until they are healthy again. Journaled with
   * the first step, so a resumed reboot has the same steps and waits for the same volumes.
   * Comma-separated (journal data is flat; Longhorn names have no commas).
   */
  longhornVolumes?: string;
};

export interface RebootEnv {
  node: NodeConfig;
  ops: NodeOps;
  progress: Progress;
  signal: AbortSignal;
  evictUnmanaged?: boolean;
  data: RebootData;
  /** Where Longhorn is and how long to wait for its rebuilds (config `longhorn`). */
  longhorn: Config['longhorn'];
  /** Records the facts above before the step that needs them acts. */
  record: (patch: { changed?: string[]; data?: RebootData }) => Promise<void>;
}

/** The node's boot id over SSH, or undefined when it cannot be read (down, or no such file). */
export async function readBootId(
  ops: NodeOps,
  node: NodeConfig,
  signal: AbortSignal,
): Promise<string | undefined> {
  try {
    const r = await requireSsh(ops, `Rebooting ${node.name}`).exec(
      sshTarget(node),
      ['cat', '/proc/sys/kernel/random/boot_id'],
      { timeoutMs: 10_000, signal },
    );
    const id = r.stdout.trim();
    return r.code === 0 && /^[0-9a-f-]{36}$/.test(id) ? id : undefined;
  } catch (err) {
    if (signal.aborted) throw err;
    return undefined;
  }
}

/**
 * cordon → drain → reboot → SSH down → SSH up with a new boot id → Ready with the new
 * bootID → uncordon. Each step can run again after a restart without doing anything twice; the
 * reboot itself is sent at most once (`data.rebootSent` is journaled first), and the resumer
 * decides by the node's boot id which step to go on from.
 */
export function rebootSteps(env: RebootEnv): EngineStep[] {
  const { node, ops, progress, signal, data } = env;
  const ssh = requireSsh(ops, `Rebooting ${node.name}`);
  const kube = kubeForNode(ops, node);
  const k3s = node.k3sName!;
  const target = sshTarget(node);
  const seconds = (n: number) => n * 1000;
  const steps: EngineStep[] = [];
  if (kube) {
    steps.push({
      name: 'cordon',
      label: `check pods, cordon ${k3s}`,
      run: async () => {
        await env.record({ changed: [`${node.name} cordoned`] });
        await kube.cordonForDrain(k3s, { evictUnmanaged: env.evictUnmanaged });
        return `cordoned ${k3s}`;
      },
      ifFails: (err) =>
        err instanceof UnmanagedPodsError
          ? `${node.name} is unchanged: not cordoned, no pod evicted, not rebooted. To reboot it anyway and delete those pods for good: /node reboot ${node.name} evict_unmanaged:true`
          : `${node.name} is unchanged: not cordoned, not rebooted.`,
    });
    steps.push({
      name: 'drain',
      label: `drain ${k3s}`,
      run: async () => {
        const r = await kube.evictCordoned(k3s, {
          timeoutMs: seconds(ops.config.drainTimeoutSeconds),
          signal,
          evictUnmanaged: env.evictUnmanaged,
          ...drainProgress(progress),
        });
        return `drained ${k3s}: ${evictedSummary(r.evicted)}, ${stayedSummary(r.skipped, r.kept)}`;
      },
      ifFails: `${node.name} is cordoned and partly drained. Fix what blocks the drain and run /node reboot ${node.name} again, or /node uncordon ${node.name} to give up.`,
    });
  }
  steps.push({
    name: 'reboot',
    label: 'reboot over SSH',
    run: async () => {
      let bootBefore = await readBootId(ops, node, signal);
      // The same id as status.nodeInfo.bootID: when SSH cannot tell it, ask the API (before the reboot).
      if (!bootBefore && kube) bootBefore = (await kube.node(k3s).catch(() => undefined))?.bootId;
      data.bootBefore = bootBefore || undefined;
      data.rebootSent = true;
      await env.record({ data: { bootBefore: data.bootBefore, rebootSent: true } });
      await ssh.execDetached(target, ['sudo', '-n', 'systemctl', 'reboot']);
      return `sent systemctl reboot to ${node.user}@${node.host}`;
    },
    ifFails: `${node.name} was not rebooted${kube ? ` and is still cordoned: run /node uncordon ${node.name}` : ''}.`,
  });
  steps.push({
    name: 'down',
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
    name: 'up',
    label: 'wait for SSH to come back',
    run: async () => {
      await ssh.waitForUp(target, { timeoutMs: seconds(ops.config.rebootTimeoutSeconds), signal });
      // Proof that it rebooted rather than, say, sshd restarting: a new boot id.
      const bootAfter = await readBootId(ops, node, signal);
      if (data.bootBefore && bootAfter && data.bootBefore === bootAfter) {
        throw new NotRebootedError(
          `${node.name} answers SSH again but did not reboot: its boot id is still ${data.bootBefore.slice(0, 8)}….`,
          `Something held the reboot back (systemd-inhibit --list shows inhibitors) or only sshd restarted.`,
        );
      }
      return `${node.name} answers SSH again (pinned host key${bootAfter && data.bootBefore ? ', new boot id' : ''})`;
    },
    ifFails: (err) =>
      err instanceof NotRebootedError
        ? `${node.name} is up, not rebooted${kube ? ' and still cordoned' : ''}. Try /node reboot ${node.name} again${kube ? `, or /node uncordon ${node.name} to give up` : ''}.`
        : `${node.name} has not come back${kube ? ' and is still cordoned' : ''}. Check its console/power; once it is back${kube ? ` and Ready, run /node uncordon ${node.name}` : ', nothing else is needed'}.`,
  });
  if (kube) {
    steps.push({
      name: 'ready',
      label: `wait until ${k3s} is Ready with a new boot id`,
      run: async () => {
        // The Ready of before the reboot stays for node-monitor-grace-period: only a Ready with
        // a new status.nodeInfo.bootID says the kubelet is back (see Kube.waitReady).
        const n = await kube.waitReady(k3s, {
          timeoutMs: seconds(ops.config.readyTimeoutSeconds),
          signal,
          notBootId: data.bootBefore || null,
        });
        return `${k3s} is Ready with a new boot id (${n.kubeletVersion})`;
      },
      ifFails: `${node.name} is up but ${k3s} is not Ready and still cordoned. Check k3s-agent (/node logs ${node.name} k3s-agent), then /node uncordon ${node.name}.`,
    });
    steps.push({
      name: 'uncordon',
      label: `uncordon ${k3s}`,
      run: async () => {
        await kube.uncordon(k3s);
        await env.record({ changed: [] });
        return `uncordoned ${k3s}`;
      },
      ifFails: `${node.name} is Ready but still cordoned: run /node uncordon ${node.name}.`,
    });
    const volumes = data.longhornVolumes?.split(',').filter(Boolean) ?? [];
    if (volumes.length > 0) {
      steps.push({
        name: 'volumes',
        label: `wait until the Longhorn volumes with replicas on ${k3s} are healthy (${volumes.join(', ')})`,
        run: () =>
          waitVolumesHealthy(ops, env.longhorn, volumes, {
            timeoutMs: seconds(env.longhorn.rebuildTimeoutSeconds),
            signal,
            progress,
            node: node.name,
          }),
        ifFails: `${node.name} is back and uncordoned, but Longhorn has not finished rebuilding its replicas: the volumes named above are still degraded. /storage status shows their progress; do not take another node down before they are healthy.`,
      });
    }
  }
  return steps;
}

/**
 * /node reboot (and a Pi's reboot during /node update): the steps above, journaled as an
 * operation so that a bot killed at any step finishes it — or says exactly where it stopped —
 * in the conversation where it started (src/nodes/reboot-resume.ts). On failure it stops and
 * says what state the node is in and what to run next.
 */
export async function rebootNode(
  ctx: CommandContext,
  node: NodeConfig,
  ops: NodeOps,
  opts: RebootOptions = {},
): Promise<RebootResult> {
  requireSsh(ops, `Rebooting ${node.name}`);
  kubeForNode(ops, node);
  const release = opts.underLock
    ? () => {}
    : ops.lock.acquire(`Reboot of ${node.name}`, userLabel(ctx.invocation.user));
  const started = Date.now();
  const data: RebootData = {};
  let op: RunningOperation | undefined;
  try {
    // Which volumes to wait for afterwards: those with a healthy replica there now.
    const kube = kubeForNode(ops, node);
    const longhorn = kube ? await readLonghorn(ops, ctx.config.longhorn, ctx.signal) : undefined;
    const volumes = longhorn ? volumesToWaitFor(longhorn, node.k3sName!) : [];
    if (volumes.length > 0) data.longhornVolumes = volumes.join(',');
    op = await ctx.services.operations().begin({
      kind: 'node.reboot',
      title: `Reboot of ${node.name}`,
      target: node.name,
      command: `/${label(ctx.invocation)}`,
      requestedBy: ctx.invocation.user,
      origin: { conversation: ctx.invocation.conversation, message: ctx.progress.ref?.() },
      messageRef: () => ctx.progress.ref?.(),
      totalSteps: 0,
      parent: opts.partOf,
    });
    const running = op;
    if (data.longhornVolumes)
      await running.note({ data: { longhornVolumes: data.longhornVolumes } });
    // A wait may stop at once when someone cancels; anything else stops at a step boundary.
    const signal = AbortSignal.any([ctx.signal, running.cancelSignal]);
    const steps = rebootSteps({
      node,
      ops,
      progress: ctx.progress,
      signal,
      evictUnmanaged: opts.evictUnmanaged,
      data,
      longhorn: ctx.config.longhorn,
      record: (patch) => running.note(patch),
    });
    running.record.step.total = steps.length;
    const outcome = await runSteps({
      title: `Reboot of ${node.name}`,
      steps,
      progress: ctx.progress,
      op: running,
    });
    if (!outcome.ok) {
      if (ctx.signal.aborted && !running.cancelled) {
        // The bot is stopping (SIGTERM, its pod evicted): the record stays, and the next start
        // picks the reboot up where it stood.
        return {
          ...outcome.reply,
          severity: 'warning',
          title: `Reboot of ${node.name}: the bot is stopping at step ${outcome.index + 1} (${outcome.step.label}); it picks this up when it starts again`,
        };
      }
      await running.finish();
      return {
        ...outcome.reply,
        // Only a refusal is known to have changed nothing (an API error might come after the cordon).
        nodeUnchanged: outcome.index === 0 && outcome.error instanceof UnmanagedPodsError,
      };
    }
    await running.finish();
    await ctx.services.operations().settle(node.name);
    const mins = ((Date.now() - started) / 60_000).toFixed(1);
    return {
      severity: 'success',
      title: `${node.name} rebooted`,
      text: `${steps.map((s) => s.label).join(' → ')} — all done in ${mins} min.`,
    };
  } finally {
    release();
  }
}
