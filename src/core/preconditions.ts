import type { AuditEntry } from './audit.js';
import type { Action } from './command.js';
import type { CommandContext } from './context.js';

/**
 * The precondition stage: the checks that can refuse (`Action.preconditions`: a guard, an
 * unknown or mismatching host key, pods a drain would delete, another operation running). Run
 * before a proposal is shown — so nobody confirms what would then be refused — and again right
 * before it runs, since the world may have changed while the proposal waited. A refusal is the
 * UserError they throw; dry runs skip them. Returns what `force:true` overrode, as the run's
 * audit fields.
 */
export async function checkPreconditions(
  action: Action,
  ctx: CommandContext,
): Promise<Partial<AuditEntry>> {
  const overridden = ctx.dryRun ? undefined : await action.preconditions?.(ctx);
  return overridden && overridden.length > 0 ? { overridden } : {};
}
