import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Action, Command } from './command.js';
import { UserError } from './errors.js';
import { didYouMean } from './suggest.js';

/** All chat commands, by name. Built from `commands/*.ts`, one file per top-level command. */
export class Registry {
  private readonly byName = new Map<string, Command>();

  constructor(commands: readonly Command[]) {
    for (const c of commands) {
      validateCommand(c);
      if (this.byName.has(c.name)) throw new Error(`command ${c.name} is defined twice`);
      this.byName.set(c.name, c);
    }
  }

  list(): Command[] {
    return [...this.byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  names(): string[] {
    return this.list().map((c) => c.name);
  }

  /** The command called `name`, or a UserError listing what exists. */
  command(name: string): Command {
    const c = this.byName.get(name.toLowerCase());
    if (c) return c;
    throw new UserError(
      `Unknown command "${name}".${didYouMean(name, this.byName.keys())}`,
      `Commands: ${this.names().join(', ')}. Try /help.`,
    );
  }

  /** The action to run for `command [subcommand]`. */
  action(command: Command, sub: string | undefined): Action {
    if (command.action) return command.action;
    const subs = command.subcommands ?? [];
    const names = subs.map((s) => s.name);
    if (!sub) {
      throw new UserError(
        `/${command.name} needs a subcommand: ${names.join(', ')}.`,
        `Example: /${command.name} ${names[0]}. Details: /help ${command.name}`,
      );
    }
    const action = subs.find((s) => s.name === sub.toLowerCase());
    if (action) return action;
    throw new UserError(
      `/${command.name} has no subcommand "${sub}".${didYouMean(sub, names)}`,
      `Subcommands: ${names.join(', ')}. Details: /help ${command.name}`,
    );
  }
}

function validateCommand(c: Command): void {
  const where = `command ${c.name ?? '(unnamed)'}`;
  if (!c.name || !/^[a-z][a-z0-9-]{0,31}$/.test(c.name)) throw new Error(`${where}: invalid name`);
  if (!c.description) throw new Error(`${where}: missing description`);
  if (!!c.action === !!c.subcommands)
    throw new Error(`${where}: needs either action or subcommands`);
  for (const a of c.action ? [c.action] : (c.subcommands ?? [])) {
    if (typeof a.execute !== 'function') throw new Error(`${where} ${a.name}: missing execute`);
    if (a.sideEffects && typeof a.plan !== 'function') {
      throw new Error(`${where} ${a.name}: side-effecting actions must define plan()`);
    }
    for (const o of a.options) {
      if (!/^[a-z][a-z0-9_]{0,31}$/.test(o.name))
        throw new Error(`${where} ${a.name}: bad option ${o.name}`);
    }
  }
}

/**
 * Loads every `commands/*.{js,ts}` file; each must export `command` (a `Command`).
 * A file that doesn't is an error at start-up, not a silently missing command.
 */
export async function loadCommands(dir = defaultCommandsDir()): Promise<Command[]> {
  const files = (await readdir(dir))
    .filter((f) => /\.(js|ts)$/.test(f) && !f.endsWith('.d.ts') && !f.endsWith('.test.ts'))
    .sort();
  const commands: Command[] = [];
  for (const file of files) {
    const mod = (await import(pathToFileURL(path.join(dir, file)).href)) as { command?: Command };
    if (!mod.command || typeof mod.command !== 'object') {
      throw new Error(
        `commands/${file} must export "command" (see docs/development.md: Adding a command)`,
      );
    }
    commands.push(mod.command);
  }
  return commands;
}

function defaultCommandsDir(): string {
  // src/core/registry.{ts,js} → ../../commands (works from the source tree and from dist/)
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../commands');
}
