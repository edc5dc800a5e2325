import { type Command, defineAction, defineCommand } from '../../src/core/command.js';

/**
 * `/lab work steps:N lines:M`: long work as a real command would do it — progress edits,
 * N step-log lines (each its own post), and M lines of output at the end.
 */
export const labCommand: Command = defineCommand({
  name: 'lab',
  description: 'Test-only long work',
  subcommands: [
    defineAction<{ steps?: number; lines?: number; delay_ms?: number }>({
      name: 'work',
      description: 'Steps, progress and long output',
      sideEffects: false,
      options: [
        { name: 'steps', description: 'Step lines', type: 'integer' },
        { name: 'lines', description: 'Output lines', type: 'integer' },
        { name: 'delay_ms', description: 'Silence before the first step', type: 'integer' },
      ],
      execute: async ({ args, progress }) => {
        const steps = args.steps ?? 3;
        if (args.delay_ms) await new Promise((r) => setTimeout(r, args.delay_ms));
        for (let i = 1; i <= steps; i++) {
          await progress.update({
            title: 'Working',
            progress: { done: i, total: steps, label: `step ${i}` },
          });
          await progress.step(`step ${i} of ${steps} done`);
        }
        const lines = Array.from(
          { length: args.lines ?? 0 },
          (_, i) => `output line ${i + 1} ${'·'.repeat(40)}`,
        );
        return {
          severity: 'success',
          title: `Worked through ${steps} steps`,
          code: lines.length ? lines.join('\n') : undefined,
        };
      },
    }),
  ],
});
