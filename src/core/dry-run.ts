import type { Config } from '../config/schema.js';
import { matchesPattern } from './access.js';
import type { Action } from './command.js';
import type { Invocation } from './invocation.js';
import { label } from './invocation.js';
import { type Plan, planText, type Reply } from './reply.js';

/**
 * Whether a run only shows its plan: a side-effecting action, asked for one (`dry_run:true`) or,
 * unless `dry_run:false`, one whose permission is listed in `dryRun.commands`.
 */
export function isDryRun(
  action: Action,
  explicitDryRun: boolean | undefined,
  permission: string,
  config: Config,
): boolean {
  return (
    action.sideEffects &&
    (explicitDryRun ?? config.dryRun.commands.some((p) => matchesPattern(p, permission)))
  );
}

/** The answer to a dry run: the exact steps, and that nothing was done. */
export function dryRunReply(inv: Invocation, plan: Plan, explicitDryRun?: boolean): Reply {
  return {
    severity: 'info',
    title: `Dry run: /${label(inv)}`,
    text: `${plan.summary}\nNothing was done. These are the exact steps it would take:`,
    code: planText(plan),
    fields: plan.warnings?.length
      ? [{ name: 'Before you run it', value: plan.warnings.join('\n') }]
      : undefined,
    footer:
      explicitDryRun === undefined
        ? 'Dry run is the default for this command here; add dry_run:false to run it.'
        : undefined,
  };
}
