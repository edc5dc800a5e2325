/**
 * What a user can type: the registered command's subcommands and options. The Discord client
 * only lets users send declared options of the declared type (and one of the choices).
 */
import type { FakeState } from './state.js';
import { asArray, type JsonObject, snowflake } from './util.js';

export interface OptionInput {
  name: string;
  value: string | number | boolean;
  /** Option type; taken from the registered command when omitted. */
  type?: number;
}

export interface SlashCommandInput {
  /** User id or username. */
  user: string;
  /** Defaults to the first text channel. */
  channelId?: string;
  name: string;
  subcommandGroup?: string;
  subcommand?: string;
  options?: OptionInput[];
}

export interface AutocompleteInput extends Omit<SlashCommandInput, 'options'> {
  /** The option being typed into, with what the user typed so far. */
  focused: { name: string; value: string };
  /** Other options already filled in. */
  options?: OptionInput[];
}

const TYPE_OK: Record<number, (v: unknown) => boolean> = {
  3: (v) => typeof v === 'string',
  4: (v) => Number.isInteger(v),
  5: (v) => typeof v === 'boolean',
  6: (v) => typeof v === 'string',
  7: (v) => typeof v === 'string',
  8: (v) => typeof v === 'string',
  9: (v) => typeof v === 'string',
  10: (v) => typeof v === 'number',
};

/** min/max length and value, enforced by the Discord client before anything is sent. */
function withinBounds(def: JsonObject, v: unknown): boolean {
  const num = (x: unknown): number | undefined => (typeof x === 'number' ? x : undefined);
  if (typeof v === 'string') {
    const n = [...v].length;
    return n >= (num(def.min_length) ?? 0) && n <= (num(def.max_length) ?? 6000);
  }
  if (typeof v === 'number') {
    return v >= (num(def.min_value) ?? -Infinity) && v <= (num(def.max_value) ?? Infinity);
  }
  return true;
}

/** The option list the user fills in (inside subcommand/group), from the registered command. */
export function commandSchema(
  s: FakeState,
  input: SlashCommandInput | AutocompleteInput,
  strict: boolean,
): { id: string; options: JsonObject[] } {
  const all = [...s.guildCommands, ...s.globalCommands];
  const cmd = all.find((c) => c.name === input.name && (c.type ?? 1) === 1);
  if (!cmd) {
    if (strict) {
      const known = all.map((c) => `/${String(c.name)}`);
      throw new Error(
        `FakeDiscord: /${input.name} is not registered (registered: ${known.join(', ') || 'none'})`,
      );
    }
    return { id: snowflake(), options: [] };
  }
  let level = asArray(cmd.options);
  const path = [input.subcommandGroup, input.subcommand].filter((x): x is string => !!x);
  for (const [idx, part] of path.entries()) {
    const wanted = idx === 0 && input.subcommandGroup ? 2 : 1;
    const found = level.find((o) => o.name === part && o.type === wanted);
    if (!found) {
      if (!strict) return { id: String(cmd.id), options: [] };
      throw new Error(
        `FakeDiscord: /${input.name} has no ${wanted === 2 ? 'group' : 'subcommand'} "${part}"`,
      );
    }
    level = asArray(found.options);
  }
  if (strict && path.length === 0 && level.some((o) => o.type === 1 || o.type === 2)) {
    throw new Error(`FakeDiscord: /${input.name} needs a subcommand`);
  }
  return { id: String(cmd.id), options: level };
}

/** Checks what the user filled in against the registered options, as the Discord client would. */
export function checkOptions(
  strict: boolean,
  schema: JsonObject[],
  given: OptionInput[],
  partial: boolean,
  cmd: string,
): JsonObject[] {
  const out: JsonObject[] = [];
  for (const o of given) {
    const def = schema.find((d) => d.name === o.name);
    if (strict && !def) throw new Error(`FakeDiscord: ${cmd} has no option "${o.name}"`);
    const type = o.type ?? (typeof def?.type === 'number' ? def.type : 3);
    if (strict && (def?.type !== type || !TYPE_OK[type]?.(o.value))) {
      throw new Error(
        `FakeDiscord: option "${o.name}" of ${cmd} is type ${String(def?.type)}, got ${JSON.stringify(o.value)}`,
      );
    }
    const choices = asArray(def?.choices);
    if (strict && choices.length > 0 && !choices.some((c) => c.value === o.value)) {
      throw new Error(
        `FakeDiscord: ${JSON.stringify(o.value)} is not a choice of "${o.name}" in ${cmd}`,
      );
    }
    if (strict && def && !withinBounds(def, o.value)) {
      throw new Error(
        `FakeDiscord: ${JSON.stringify(o.value)} is out of bounds for "${o.name}" in ${cmd}`,
      );
    }
    out.push({ type, name: o.name, value: o.value });
  }
  if (strict && !partial) {
    for (const d of schema) {
      if (d.required === true && !given.some((g) => g.name === d.name)) {
        throw new Error(`FakeDiscord: ${cmd} requires option "${String(d.name)}"`);
      }
    }
  }
  return out;
}
