import {
  type Action,
  type Command,
  defineAction,
  defineCommand,
  effectiveOptions,
} from '../src/core/command.js';
import { UserError } from '../src/core/errors.js';
import type { Reply } from '../src/core/reply.js';
import { usage } from '../src/core/resolve.js';
import { didYouMean } from '../src/core/suggest.js';

function kind(action: Action): string {
  if (!action.sideEffects) return action.needsRole ? 'read-only, needs a role' : 'read-only';
  return action.confirm ? 'changes things, asks for confirmation' : 'changes things';
}

/** In Matrix: the bot has no end-to-end encryption support, so encrypted rooms are out of reach. */
const MATRIX_E2EE_NOTE =
  'Matrix: end-to-end encryption is not available to this bot, so it cannot read encrypted rooms; talk to it in an unencrypted room.';

function overview(commands: readonly Command[], onMatrix: boolean): Reply {
  const lines = commands.map((c) => {
    const subs = c.subcommands?.map((s) => s.name).join(', ');
    return `/${c.name} — ${c.description}${subs ? `\n    ${subs}` : ''}`;
  });
  return {
    title: 'Commands',
    code: lines.join('\n'),
    footer: [
      'Details: /help <command>. Options: name:value (quote spaces: title:"Replace SD card"); required values may be given in order. Side-effecting commands accept dry_run:true.',
      ...(onMatrix ? [MATRIX_E2EE_NOTE] : []),
    ].join('\n'),
  };
}

function actionHelp(command: Command, action: Action): string {
  const perm = command.action ? command.name : `${command.name}.${action.name}`;
  const lines = [
    usage(command, action),
    `    ${action.description} (${kind(action)}; permission ${perm})`,
  ];
  for (const o of effectiveOptions(action)) {
    lines.push(`    ${o.name}${o.required ? '' : ' (optional)'}: ${o.description}`);
  }
  return lines.join('\n');
}

export const command = defineCommand({
  name: 'help',
  description: 'List the commands, or explain one',
  action: defineAction<{ command?: string; subcommand?: string }>({
    name: 'help',
    description: 'List the commands, or explain one',
    sideEffects: false,
    options: [
      {
        name: 'command',
        description: 'A command to explain, e.g. node',
        type: 'string',
        autocomplete: 'commands',
      },
      { name: 'subcommand', description: 'One of its subcommands, e.g. reboot', type: 'string' },
    ],
    execute: ({ args, services, invocation }) => {
      const all = services.commands();
      if (!args.command) return overview(all, invocation.conversation.platform === 'matrix');
      const name = args.command.replace(/^[/!]/, '').toLowerCase();
      const cmd = all.find((c) => c.name === name);
      if (!cmd) {
        throw new UserError(
          `There is no /${name} command.${didYouMean(
            name,
            all.map((c) => c.name),
          )}`,
          `Commands: ${all.map((c) => c.name).join(', ')}`,
        );
      }
      const actions = cmd.action ? [cmd.action] : (cmd.subcommands ?? []);
      const picked = args.subcommand
        ? actions.filter((a) => a.name === args.subcommand?.toLowerCase())
        : actions;
      if (picked.length === 0) {
        const names = actions.map((a) => a.name);
        throw new UserError(
          `/${cmd.name} has no subcommand "${args.subcommand}".${didYouMean(args.subcommand ?? '', names)}`,
          `Subcommands: ${names.join(', ')}`,
        );
      }
      return {
        title: `/${cmd.name} — ${cmd.description}`,
        code: picked.map((a) => actionHelp(cmd, a)).join('\n\n'),
      };
    },
  }),
});
