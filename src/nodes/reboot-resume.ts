import type { Config } from '../config/schema.js';
import type { Progress } from '../core/context.js';
import { userLabel } from '../core/invocation.js';
import type { Services } from '../core/services.js';
import type { Kube } from '../infra/kube.js';
import type { RunningOperation } from '../ops/operations.js';
import { formatDown, type Reporter, type ResumeContext, type Resumer } from '../ops/resume.js';
import { runSteps } from '../ops/step-engine.js';
import { kubeForNode, type OperationLock } from './node-ops.js';
import { type RebootData, readBootId, rebootSteps } from './reboot.js';

/**
 * A reboot the bot was running when it went down (killed, evicted, or rebooted with its own
 * node). It looks before it acts:
 * - the reboot was not sent yet → not continued blindly: the conversation is told where it
 *   stopped and whether the node is still cordoned, with the commands to finish or undo;
 * - it was sent → the boot id says what happened: a new one means the node went down and came
 *   back (wait for Ready with that boot, uncordon — unless it is uncordoned already — then for
 *   its Longhorn volumes); the old one means it has not gone down yet
 *   (wait for that); no answer means it is still down (wait for it). The reboot itself is
 *   never sent again.
 */
export function rebootResumer(deps: {
  services: Services;
  config: Config;
  lock: OperationLock;
  signal: AbortSignal;
}): Resumer {
  let release = () => {};
  return {
    take(op) {
      release = deps.lock.acquire(op.record.title, userLabel(op.record.requestedBy));
    },
    async run(op, report, ctx) {
      try {
        await resume(op, report, ctx, deps);
      } finally {
        release();
      }
    },
  };
}

/** Whether the node is schedulable again; false when the API cannot tell (the steps will look). */
function isUncordoned(kube: Kube, k3s: string): Promise<boolean> {
  return kube.node(k3s).then(
    (n) => !n.unschedulable,
    () => false,
  );
}

function reporterProgress(report: Reporter): Progress {
  return { update: (r) => report.edit(r), step: (l) => report.step(l) };
}

async function resume(
  op: RunningOperation,
  report: Reporter,
  ctx: ResumeContext,
  deps: { services: Services; config: Config; signal: AbortSignal },
): Promise<void> {
  const r = op.record;
  const node = deps.config.inventory.nodes.find((n) => n.name === r.target);
  const down = formatDown(ctx.downMs);
  if (!node) {
    await ctx.interrupt(
      `The bot restarted (down about ${down}) and ${r.target} is no longer in the inventory.`,
    );
    return;
  }
  const ops = await deps.services.nodeOps();
  const kube = kubeForNode(ops, node);
  const data = r.data as RebootData;
  const signal = AbortSignal.any([deps.signal, op.cancelSignal]);
  const steps = rebootSteps({
    node,
    ops,
    progress: reporterProgress(report),
    signal,
    data,
    longhorn: deps.config.longhorn,
    record: (patch) => op.note(patch),
  });
  const at = `step ${r.step.index + 1} of ${steps.length} (${r.step.label})`;

  if (!data.rebootSent) {
    // Nothing was sent to the node: what is changed is at most the cordon (and evicted pods).
    const cordoned = kube
      ? await kube.node(node.k3sName!).then(
          (n) => n.unschedulable,
          () => undefined,
        )
      : false;
    await op.note({
      changed: cordoned ? [`${node.name} cordoned`] : cordoned === undefined ? r.changed : [],
    });
    // What is still changed (the cordon, read just now) follows from the note above.
    const unread =
      cordoned === undefined ? ` Whether ${node.name} is still cordoned could not be read.` : '';
    await ctx.interrupt(
      `The bot restarted (down about ${down}) during ${at}, before the reboot was sent, so it was not continued.${unread}`,
      cordoned === false
        ? `To reboot it: /node reboot ${node.name}.`
        : `To finish: /node reboot ${node.name}. To undo: /node uncordon ${node.name}.`,
    );
    return;
  }

  const now = await readBootId(ops, node, signal);
  const index = (name: string) => steps.findIndex((s) => s.name === name);
  let from: number;
  let seen: string;
  if (now === undefined) {
    from = index('up');
    seen = `${node.name} does not answer yet; waiting for it`;
  } else if (data.bootBefore && now === data.bootBefore) {
    from = index('down');
    seen = `${node.name} has not gone down yet (same boot id); waiting for it — the reboot is not sent again`;
  } else if (kube && (await isUncordoned(kube, node.k3sName!))) {
    // The uncordon comes after Ready with the new boot id: a node no longer cordoned has had
    // both (or a person uncordoned it). What is left is the wait for its Longhorn volumes.
    await op.note({ changed: [] });
    from = index('uncordon') + 1;
    seen = `${node.name} rebooted (new boot id) and is uncordoned`;
  } else {
    from = kube ? index('ready') : steps.length;
    seen = `${node.name} rebooted (new boot id)`;
  }
  await report.step(`The bot is back after about ${down}: ${seen}.`);
  const outcome = await runSteps({
    title: `Reboot of ${node.name}`,
    steps,
    from,
    progress: reporterProgress(report),
    op,
  });
  if (!outcome.ok) {
    if (deps.signal.aborted && !op.cancelled) return; // stopping again: the next start goes on
    await op.finish();
    await report.done(outcome.reply);
    return;
  }
  await op.finish();
  await deps.services.operations().settle(node.name);
  const done = kube ? 'is back and uncordoned' : 'is back';
  await report.done({
    severity: 'success',
    title: `${node.name} rebooted`,
    text: `${node.name} ${done}; the bot was down about ${down} and finished the reboot after it restarted.`,
  });
  await report.step(`✔ ${node.name} ${done}`);
}
