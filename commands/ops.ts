import { z } from 'zod';
import { defineAction, defineCommand } from '../src/core/command.js';
import { userLabel } from '../src/core/invocation.js';
import type { Reply } from '../src/core/reply.js';
import { table } from '../src/core/table.js';
import type { OperationRecord } from '../src/ops/journal.js';

/** `2 min ago`, `3 h ago` */
function ago(iso: string, now: number): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

const stepOf = (r: OperationRecord) => `${r.step.index + 1}/${r.step.total} ${r.step.label}`;
const who = (r: OperationRecord) => userLabel(r.requestedBy);

function listReply(running: OperationRecord[], interrupted: OperationRecord[]): Reply {
  if (running.length === 0 && interrupted.length === 0) {
    return { title: 'No operations', text: 'Nothing is running, nothing was left interrupted.' };
  }
  const now = Date.now();
  const rows = [
    ...running.map((r) => [r.id, 'running', r.title, stepOf(r), who(r), ago(r.startedAt, now)]),
    ...interrupted.map((r) => [
      r.id,
      'INTERRUPTED',
      r.title,
      stepOf(r),
      who(r),
      ago(r.startedAt, now),
    ]),
  ];
  return {
    severity: interrupted.length > 0 ? 'warning' : 'info',
    title: `${running.length} running, ${interrupted.length} interrupted`,
    code: table(['ID', 'STATE', 'WHAT', 'STEP', 'BY', 'STARTED'], rows),
    fields: interrupted.map((r) => ({
      name: `${r.id}: ${r.title}`,
      value: `${r.note ?? `stopped at step ${stepOf(r)}`}${r.changed.length > 0 ? `\nStill changed: ${r.changed.join(', ')}.` : ''}\n/ops cancel ${r.id} when settled.`,
    })),
  };
}

const idOption = {
  name: 'id',
  description: 'The operation, as /ops list shows it (op-3fa2c1)',
  type: 'string' as const,
  required: true,
  schema: z
    .string()
    .regex(/^(op-)?[0-9a-f]{4,12}$/i, 'an operation id like op-3fa2c1 (see /ops list)'),
};

export const command = defineCommand({
  name: 'ops',
  description: 'Long operations (reboots, drains, updates, syncs): list them, cancel one',
  subcommands: [
    defineAction({
      name: 'list',
      description: 'Running operations and those a restart interrupted, with their step',
      sideEffects: false,
      options: [],
      execute: (ctx) => {
        const { running, interrupted } = ctx.services.operations().list();
        return listReply(running, interrupted);
      },
    }),
    defineAction<{ id: string }>({
      name: 'cancel',
      description: 'Stop an operation at its next step (or dismiss an interrupted one)',
      sideEffects: true,
      options: [idOption],
      plan: (ctx) => ({
        summary: `Stop operation ${ctx.args.id} safely at its next step boundary.`,
        steps: [
          `${ctx.args.id}: no new step starts; a step that only waits (for a node, a sync) stops at once`,
          'what it changed stays changed and is listed in its answer (e.g. a node still cordoned)',
        ],
      }),
      execute: async (ctx) => {
        const { record, wasRunning } = await ctx.services
          .operations()
          .cancel(ctx.args.id, ctx.invocation.user);
        const changed =
          record.changed.length > 0
            ? `Still changed: ${record.changed.join(', ')}.`
            : 'It had changed nothing that is still changed.';
        return wasRunning
          ? {
              severity: 'warning',
              title: `Cancelling ${record.id}: ${record.title}`,
              text: `It stops before its next step (now at ${stepOf(record)}); its own message will say where it stopped. ${changed}`,
            }
          : {
              severity: 'info',
              title: `Dismissed ${record.id}: ${record.title}`,
              text: `It had been interrupted at ${stepOf(record)}. ${changed}${record.note ? `\n${record.note}` : ''}`,
            };
      },
    }),
  ],
});
