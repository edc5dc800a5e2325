import type { Action, Command, OptionDef } from '../../core/command.js';
import { effectiveOptions } from '../../core/command.js';
import { truncate } from '../text.js';

/** Discord's application command option types (the subset we use). */
export const OptionType = { Subcommand: 1, String: 3, Integer: 4, Boolean: 5, Number: 10 } as const;

export interface SlashOption {
  type: number;
  name: string;
  description: string;
  required?: boolean;
  choices?: { name: string; value: string | number }[];
  autocomplete?: boolean;
  options?: SlashOption[];
}

export interface SlashCommand {
  name: string;
  description: string;
  type: 1;
  options: SlashOption[];
}

const TYPE: Record<OptionDef['type'], number> = {
  string: OptionType.String,
  integer: OptionType.Integer,
  number: OptionType.Number,
  boolean: OptionType.Boolean,
};

function option(o: OptionDef): SlashOption {
  const out: SlashOption = {
    type: TYPE[o.type],
    name: o.name,
    description: truncate(o.description, 100),
  };
  if (o.required) out.required = true;
  // Discord allows either choices (≤ 25) or autocomplete, not both.
  if (o.choices && o.choices.length <= 25) {
    out.choices = o.choices.map((c) => ({ name: truncate(c.name, 100), value: c.value }));
  } else if (o.autocomplete || o.choices) out.autocomplete = true;
  return out;
}

/** Discord requires required options before optional ones; our order is kept otherwise. */
function options(action: Action): SlashOption[] {
  const all = effectiveOptions(action);
  return [...all.filter((o) => o.required), ...all.filter((o) => !o.required)].map(option);
}

/** The bulk-overwrite body for `PUT /applications/{app}/guilds/{guild}/commands`. Pure. */
export function slashCommands(commands: readonly Command[]): SlashCommand[] {
  return commands.map((c) => ({
    name: c.name,
    description: truncate(c.description, 100),
    type: 1,
    options: c.action
      ? options(c.action)
      : (c.subcommands ?? []).map((s) => ({
          type: OptionType.Subcommand,
          name: s.name,
          description: truncate(s.description, 100),
          options: options(s),
        })),
  }));
}
