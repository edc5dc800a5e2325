import type { Config } from '../config/schema.js';
import { type Command, permissionId } from './command.js';
import { didYouMean } from './suggest.js';

/** Every permission id the commands define: `help`, `node.reboot`, `task.add`, … */
export function permissionIds(commands: readonly Command[]): string[] {
  return commands.flatMap((c) =>
    c.action
      ? [permissionId(c.name)]
      : (c.subcommands ?? []).map((s) => permissionId(c.name, s.name)),
  );
}

export interface PatternProblem {
  path: string;
  message: string;
}

/**
 * Patterns in `access.roles.*.allow` and `dryRun.commands` that match no command: a typo there
 * silently grants nothing, or (worse, in dryRun) lets real actions run. Checked at start.
 */
export function checkPermissionPatterns(
  config: Pick<Config, 'access' | 'dryRun'>,
  commands: readonly Command[],
): PatternProblem[] {
  const ids = permissionIds(commands);
  const names = commands.map((c) => c.name);
  const known = [...ids, ...names.map((n) => `${n}.*`)];
  const check = (pattern: string, at: string): PatternProblem[] => {
    if (pattern === '*' || known.includes(pattern)) return [];
    const suggestion = didYouMean(pattern, known);
    return [
      {
        path: at,
        message: `"${pattern}" matches no command.${suggestion} Patterns look like *, node.*, node.reboot; /help lists the commands.`,
      },
    ];
  };
  return [
    ...Object.entries(config.access.roles).flatMap(([role, r]) =>
      r.allow.flatMap((p, i) => check(p, `access.roles.${role}.allow[${i}]`)),
    ),
    ...config.dryRun.commands.flatMap((p, i) => check(p, `dryRun.commands[${i}]`)),
  ];
}
