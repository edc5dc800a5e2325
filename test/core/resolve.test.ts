import { describe, expect, it } from 'vitest';
import { Registry } from '../../src/core/registry.js';
import { resolveWords, usage, validateArgs } from '../../src/core/resolve.js';
import { tokenize } from '../../src/core/tokenize.js';
import { testCommands } from '../helpers/commands.js';

const registry = new Registry(testCommands);

function resolve(line: string) {
  const { command, action, raw } = resolveWords(registry, tokenize(line));
  return { command: command.name, action: action.name, ...validateArgs(command, action, raw) };
}

function errorOf(fn: () => unknown): { message: string; hint?: string } {
  try {
    fn();
  } catch (e) {
    return e as { message: string; hint?: string };
  }
  throw new Error('expected an error');
}

describe('resolving text commands', () => {
  it('fills required options from positional values, then optional ones', () => {
    expect(resolve('task add "Replace SD" high 3')).toMatchObject({
      action: 'add',
      args: { title: 'Replace SD', priority: 'high', phase: 3 },
      dryRun: undefined,
    });
  });

  it('types and validates named values', () => {
    expect(resolve('node reboot pi4-a force:yes dry_run:true')).toMatchObject({
      args: { node: 'pi4-a', force: true, dry_run: true },
      dryRun: true,
    });
    expect(resolve('task add title:x priority:HIGH').args.priority).toBe('high');
  });

  it('suggests the closest command, subcommand and option', () => {
    expect(errorOf(() => resolve('nod reboot pi4-a')).message).toBe(
      'Unknown command "nod". Did you mean "node"?',
    );
    const sub = errorOf(() => resolve('task ad title:x'));
    expect(sub.message).toBe('/task has no subcommand "ad". Did you mean "add"?');
    expect(sub.hint).toContain('Subcommands: add, list');
    const opt = errorOf(() => resolve('task add title:x priorty:high'));
    expect(opt.message).toBe('/task add has no option "priorty". Did you mean "priority"?');
    expect(opt.hint).toBe(
      'Usage: /task add title:<text> [priority:low|medium|high] [phase:<integer>] [dry_run:true]',
    );
  });

  it('says what a missing subcommand or required option is', () => {
    expect(errorOf(() => resolve('task')).message).toBe('/task needs a subcommand: add, list.');
    expect(errorOf(() => resolve('task add priority:low')).message).toBe(
      'Missing required option title (Title).',
    );
  });

  it('rejects values that fail their type, choices or schema, with the reason', () => {
    expect(errorOf(() => resolve('task add x priority:hgh')).message).toBe(
      'Option priority: "hgh" is not one of low, medium, high. Did you mean "high"?',
    );
    expect(errorOf(() => resolve('task add x phase:two')).message).toBe(
      'Option phase: expected a whole number, got "two".',
    );
    expect(errorOf(() => resolve('task add x phase:9')).message).toMatch(/^Option phase: .*5/);
    expect(errorOf(() => resolve('task add title:"this title is far too long"')).message).toBe(
      'Option title: at most 20 characters.',
    );
    expect(errorOf(() => resolve('node reboot pi4-a force:maybe')).message).toBe(
      'Option force: expected true or false, got "maybe".',
    );
  });

  it('rejects extra values and repeated options', () => {
    expect(errorOf(() => resolve('task list extra')).message).toBe(
      'Too many values for /task list: "extra".',
    );
    expect(errorOf(() => resolve('task add title:a title:b')).message).toBe(
      'Option title is given twice.',
    );
  });

  it('builds usage lines from the definition', () => {
    const cmd = registry.command('node');
    expect(usage(cmd, registry.action(cmd, 'reboot'))).toBe(
      '/node reboot node:<text> [force:true] [dry_run:true]',
    );
  });
});
