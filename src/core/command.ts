import type { z } from 'zod';
import type { OperationKind } from '../ops/journal.js';
import type { CommandContext } from './context.js';
import type { Plan, Reply } from './reply.js';

export type OptionType = 'string' | 'integer' | 'number' | 'boolean';

export interface OptionChoice<T extends string | number = string | number> {
  name: string;
  value: T;
}

/** Names of autocomplete sources the adapters can query (Discord autocomplete, suggestions). */
export type AutocompleteSource =
  | 'nodes'
  | 'node-targets'
  | 'tasks'
  | 'argo-apps'
  | 'longhorn-volumes'
  | 'commands'
  | 'alert-groups';

export interface OptionDef {
  name: string;
  description: string;
  type: OptionType;
  required?: boolean;
  choices?: readonly OptionChoice[];
  autocomplete?: AutocompleteSource;
  /** Extra validation on top of the type, e.g. `z.string().regex(...)`. Messages are shown to users. */
  schema?: z.ZodType;
  /** Never written to the audit log or logs. */
  secret?: boolean;
}

export type Args = Record<string, unknown>;

/** Preconditions return what `force:true` let through (written to the audit line), if anything. */
export type Overridden = string[] | undefined;

/** The executable unit: a subcommand (`/node reboot`) or a command without subcommands (`/help`). */
export interface Action<A extends Args = Args> {
  name: string;
  description: string;
  options: readonly OptionDef[];
  /**
   * Changes something outside the bot. Side-effecting actions need a role that allows them,
   * accept `dry_run:true`, and must provide `plan`.
   */
  sideEffects: boolean;
  /**
   * Read-only, but shows what only operators should see (e.g. any unit's journal, read with
   * sudo): needs a role that allows it even under `access.readOnly: open`.
   */
  needsRole?: boolean;
  /** Destructive actions are proposed with their plan and run only once the same user confirms. */
  confirm?: boolean | ((args: A) => boolean);
  /**
   * A long operation: journaled while it runs (its progress steps written before they act) so a
   * restart reports it, or resumes it, in the conversation where it started.
   */
  operation?: OperationKind;
  /**
   * Checks that can refuse (a guard, an unknown or mismatching host key, pods a drain would
   * delete, another operation running): run before a proposal is shown — so nobody confirms
   * what would then be refused — and again right before it runs. Throw a UserError to refuse.
   * Not run for dry runs.
   */
  preconditions?: (ctx: CommandContext<A>) => Overridden | Promise<Overridden>;
  /** What will happen, exactly: the commands and API calls. Required when `sideEffects`. */
  plan?: (ctx: CommandContext<A>) => Plan | Promise<Plan>;
  execute: (ctx: CommandContext<A>) => Reply | Promise<Reply>;
}

export interface Command {
  name: string;
  description: string;
  /** Either subcommands, or the command is itself an action (`action`). */
  subcommands?: readonly Action[];
  action?: Action;
}

/** `defineAction` keeps each handler's `ctx.args` typed while the registry stores them uniformly. */
export function defineAction<A extends Args>(action: Action<A>): Action {
  return action as unknown as Action;
}

export function defineCommand(command: Command): Command {
  return command;
}

/** The permission id of an action: `node.reboot`, `task.add`, `help`. */
export function permissionId(command: string, sub?: string): string {
  return sub ? `${command}.${sub}` : command;
}

export const DRY_RUN_OPTION: OptionDef = {
  name: 'dry_run',
  description: 'Show exactly what would be done, without doing it',
  type: 'boolean',
};

/** The options an action accepts, including the implicit `dry_run` of side-effecting ones. */
export function effectiveOptions(action: Action): readonly OptionDef[] {
  if (!action.sideEffects || action.options.some((o) => o.name === 'dry_run'))
    return action.options;
  return [...action.options, DRY_RUN_OPTION];
}
