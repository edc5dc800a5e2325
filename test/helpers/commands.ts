import { z } from 'zod';
import { type Command, defineAction, defineCommand } from '../../src/core/command.js';
import { UserError } from '../../src/core/errors.js';

/** A small command set for core tests, independent of the real commands/ directory. */
export const testCommands: Command[] = [
  defineCommand({
    name: 'task',
    description: 'Tasks',
    subcommands: [
      defineAction<{ title: string; priority?: string; phase?: number }>({
        name: 'add',
        description: 'Add a task',
        sideEffects: true,
        options: [
          {
            name: 'title',
            description: 'Title',
            type: 'string',
            required: true,
            schema: z.string().max(20, 'at most 20 characters'),
          },
          {
            name: 'priority',
            description: 'Priority',
            type: 'string',
            choices: ['low', 'medium', 'high'].map((v) => ({ name: v, value: v })),
          },
          {
            name: 'phase',
            description: 'Phase',
            type: 'integer',
            schema: z.number().int().min(1).max(5),
          },
        ],
        plan: ({ args }) => ({
          summary: `Add "${args.title}"`,
          steps: [`git commit -m "tasks: add ${args.title}"`],
        }),
        execute: ({ args }) => ({
          severity: 'success',
          title: `Added ${args.title}`,
          text: `priority ${args.priority ?? 'medium'}`,
        }),
      }),
      defineAction({
        name: 'list',
        description: 'List tasks',
        sideEffects: false,
        options: [],
        execute: () => ({ title: 'no tasks' }),
      }),
    ],
  }),
  defineCommand({
    name: 'node',
    description: 'Nodes',
    subcommands: [
      defineAction<{ node: string; force?: boolean }>({
        name: 'reboot',
        description: 'Reboot',
        sideEffects: true,
        confirm: true,
        options: [
          { name: 'node', description: 'Node', type: 'string', required: true },
          { name: 'force', description: 'Force', type: 'boolean' },
        ],
        plan: ({ args }) => ({
          summary: `Reboot ${args.node}`,
          steps: [`ssh ${args.node} sudo systemctl reboot`],
        }),
        execute: async ({ args, progress }) => {
          await progress.step(`rebooting ${args.node}`);
          if (args.node === 'boom') throw new Error('socket hang up at 10.0.0.5');
          if (args.node === 'nope') throw new UserError('nope is busy', 'try later');
          return { severity: 'success', title: `${args.node} rebooted` };
        },
      }),
    ],
  }),
];
