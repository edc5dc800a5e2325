import type { RunningOperation } from '../ops/operations.js';
import type { Action } from './command.js';
import type { CommandContext, Progress } from './context.js';
import type { Invocation } from './invocation.js';
import { label } from './invocation.js';
import type { Reply } from './reply.js';

/**
 * Runs an action's `execute`; a long one (`Action.operation`) is journaled while it runs — its
 * progress steps written before they show — so a restart reports it, or resumes it, where it
 * started. Stopping (the context's signal aborted, SIGTERM): the record stays, and the next start
 * reports where it stood.
 */
export async function executeJournaled(
  inv: Invocation,
  action: Action,
  ctx: CommandContext,
): Promise<Reply> {
  const op = action.operation && !ctx.dryRun ? await beginOperation(inv, action, ctx) : undefined;
  try {
    return await action.execute(op ? { ...ctx, progress: journaled(ctx.progress, op) } : ctx);
  } finally {
    if (op && !ctx.signal.aborted) await op.finish();
  }
}

async function beginOperation(
  inv: Invocation,
  action: Action,
  ctx: CommandContext,
): Promise<RunningOperation> {
  const a = ctx.args as Record<string, unknown>;
  const target = String(a.node ?? a.target ?? a.app ?? a.nodes ?? inv.subcommand ?? inv.command);
  return ctx.services.operations().begin({
    kind: action.operation!,
    title: `/${label(inv)}`,
    target,
    command: `/${label(inv)}`,
    requestedBy: inv.user,
    origin: { conversation: inv.conversation, message: ctx.progress.ref?.() },
    messageRef: () => ctx.progress.ref?.(),
    totalSteps: 1,
  });
}

/** Progress that also writes the operation's step to the journal before showing it. */
function journaled(progress: Progress, op: RunningOperation): Progress {
  return {
    ...progress,
    update: async (reply) => {
      if (reply.progress) {
        op.record.step.total = Math.max(reply.progress.total, 1);
        await op.step(reply.progress.done, reply.progress.label ?? reply.title ?? 'working');
      }
      await progress.update(reply);
    },
  };
}
