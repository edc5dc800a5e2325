import {
  type Action,
  type Args,
  type Command,
  effectiveOptions,
  type OptionDef,
} from './command.js';
import { UserError } from './errors.js';
import type { Registry } from './registry.js';
import { didYouMean } from './suggest.js';
import type { Token } from './tokenize.js';

export interface Resolved {
  command: Command;
  action: Action;
  args: Args;
  /** `dry_run` as given by the user; undefined when not given. */
  dryRun: boolean | undefined;
}

/** `/task add title:<text> [priority:low|medium|high|critical]` */
export function usage(command: Command, action: Action): string {
  const head = command.action ? `/${command.name}` : `/${command.name} ${action.name}`;
  const parts = effectiveOptions(action).map((o) => {
    const value = o.choices
      ? o.choices.map((c) => c.value).join('|')
      : o.type === 'boolean'
        ? 'true'
        : `<${o.type === 'string' ? 'text' : o.type}>`;
    return o.required ? `${o.name}:${value}` : `[${o.name}:${value}]`;
  });
  return [head, ...parts].join(' ');
}

/** Splits words into command, subcommand and raw args (named + positional). */
export function resolveWords(
  registry: Registry,
  tokens: Token[],
): { command: Command; action: Action; raw: Record<string, unknown> } {
  const [first, ...rest] = tokens;
  if (!first || first.name !== undefined) {
    throw new UserError(
      'Expected a command, like /help or /node list.',
      `Commands: ${registry.names().join(', ')}`,
    );
  }
  const command = registry.command(first.value);
  let words = rest;
  let sub: string | undefined;
  if (!command.action) {
    const next = words[0];
    sub = next && next.name === undefined ? next.value : undefined;
    if (sub !== undefined) words = words.slice(1);
  }
  const action = registry.action(command, sub);
  const options = effectiveOptions(action);
  const raw: Record<string, unknown> = {};
  const positional: string[] = [];
  for (const t of words) {
    if (t.name === undefined) {
      positional.push(t.value);
      continue;
    }
    const opt = options.find((o) => o.name === t.name);
    if (!opt) {
      throw new UserError(
        `${usageHead(command, action)} has no option "${t.name}".${didYouMean(
          t.name,
          options.map((o) => o.name),
        )}`,
        `Usage: ${usage(command, action)}`,
      );
    }
    if (t.name in raw)
      throw new UserError(`Option ${t.name} is given twice.`, `Usage: ${usage(command, action)}`);
    raw[t.name] = t.value;
  }
  // Positional values fill required options in order, then optional non-boolean ones.
  const slots = [
    ...options.filter((o) => o.required),
    ...options.filter((o) => !o.required && o.type !== 'boolean'),
  ].filter((o) => !(o.name in raw));
  if (positional.length > slots.length) {
    const extra = positional
      .slice(slots.length)
      .map((v) => JSON.stringify(v))
      .join(' ');
    throw new UserError(
      `Too many values for ${usageHead(command, action)}: ${extra}.`,
      `Usage: ${usage(command, action)}. Quote values with spaces: title:"Replace SD card"`,
    );
  }
  positional.forEach((v, i) => {
    raw[slots[i]!.name] = v;
  });
  return { command, action, raw };
}

function usageHead(command: Command, action: Action): string {
  return command.action ? `/${command.name}` : `/${command.name} ${action.name}`;
}

const TRUE = new Set(['true', 'yes', 'y', 'on', '1']);
const FALSE = new Set(['false', 'no', 'n', 'off', '0']);

function coerce(opt: OptionDef, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  switch (opt.type) {
    case 'boolean': {
      const v = value.toLowerCase();
      if (TRUE.has(v)) return true;
      if (FALSE.has(v)) return false;
      throw new UserError(`Option ${opt.name}: expected true or false, got "${value}".`);
    }
    case 'integer':
      if (!/^-?\d+$/.test(value.trim())) {
        throw new UserError(`Option ${opt.name}: expected a whole number, got "${value}".`);
      }
      return Number(value);
    case 'number':
      if (value.trim() === '' || !Number.isFinite(Number(value))) {
        throw new UserError(`Option ${opt.name}: expected a number, got "${value}".`);
      }
      return Number(value);
    default:
      return value;
  }
}

/** Validates raw values (text or platform-typed) against the action's options. */
export function validateArgs(
  command: Command,
  action: Action,
  raw: Record<string, unknown>,
): Omit<Resolved, 'command' | 'action'> {
  const options = effectiveOptions(action);
  const args: Args = {};
  for (const name of Object.keys(raw)) {
    if (!options.some((o) => o.name === name)) {
      throw new UserError(
        `${usageHead(command, action)} has no option "${name}".${didYouMean(
          name,
          options.map((o) => o.name),
        )}`,
        `Usage: ${usage(command, action)}`,
      );
    }
  }
  for (const opt of options) {
    const given = raw[opt.name];
    if (given === undefined || given === null) {
      if (opt.required) {
        throw new UserError(
          `Missing required option ${opt.name} (${opt.description}).`,
          `Usage: ${usage(command, action)}`,
        );
      }
      continue;
    }
    let value = coerce(opt, given);
    if (opt.choices) {
      const match = opt.choices.find(
        (c) => String(c.value).toLowerCase() === String(value).toLowerCase(),
      );
      if (!match) {
        const values = opt.choices.map((c) => String(c.value));
        throw new UserError(
          `Option ${opt.name}: "${String(value)}" is not one of ${values.join(', ')}.${didYouMean(String(value), values)}`,
        );
      }
      value = match.value;
    }
    if (opt.schema) {
      const parsed = opt.schema.safeParse(value);
      if (!parsed.success) {
        const why = parsed.error.issues.map((i) => i.message).join('; ');
        throw new UserError(`Option ${opt.name}: ${why}.`, `Usage: ${usage(command, action)}`);
      }
      value = parsed.data;
    }
    args[opt.name] = value;
  }
  const dryRun = typeof args.dry_run === 'boolean' ? args.dry_run : undefined;
  return { args, dryRun };
}
