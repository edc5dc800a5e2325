import { z } from 'zod';
import { DESCRIPTION_MAX, PHASES, TASK_PRIORITIES, TITLE_MAX } from '../src/backlog/task-schema.js';
import type { ChangeResult, Requester, TaskWithStatus } from '../src/backlog/task-store.js';
import { defineAction, defineCommand, type OptionDef } from '../src/core/command.js';
import type { CommandContext } from '../src/core/context.js';
import type { Plan, Reply } from '../src/core/reply.js';
import { table } from '../src/core/table.js';

const idOption: OptionDef = {
  name: 'id',
  description: 'A task id, e.g. T-0042 (or 42)',
  type: 'string',
  required: true,
  autocomplete: 'tasks',
  schema: z.string().regex(/^(#|T-|t-)?\d{1,6}$/, 'a task id like T-0042'),
};
const priority: OptionDef = {
  name: 'priority',
  description: 'low, medium (default), high or critical',
  type: 'string',
  choices: TASK_PRIORITIES.map((p) => ({ name: p, value: p })),
};
const phase: OptionDef = {
  name: 'phase',
  description: 'The lab phase, 1-5',
  type: 'integer',
  choices: Object.entries(PHASES).map(([n, name]) => ({ name: `${n} ${name}`, value: Number(n) })),
};
const tags: OptionDef = {
  name: 'tags',
  description: 'Comma-separated tags, e.g. hardware,storage',
  type: 'string',
  schema: z
    .string()
    .regex(/^[^\s,]+(,[^\s,]+)*$/, 'comma-separated words without spaces, like hardware,storage'),
};
const node: OptionDef = {
  name: 'node',
  description: 'The node it is about, e.g. pi4-b',
  type: 'string',
  autocomplete: 'nodes',
};
const title: OptionDef = {
  name: 'title',
  description: `What needs doing (up to ${TITLE_MAX} characters)`,
  type: 'string',
  required: true,
};
const description: OptionDef = {
  name: 'description',
  description: `Details (up to ${DESCRIPTION_MAX} characters)`,
  type: 'string',
};

type AddArgs = {
  title: string;
  description?: string;
  priority?: string;
  phase?: number;
  tags?: string;
  node?: string;
};
type IdArgs = { id: string };
type EditArgs = IdArgs & Partial<Omit<AddArgs, 'title'>> & { title?: string };

function requester(ctx: CommandContext): Requester {
  const { user, conversation, origin } = ctx.invocation;
  const source =
    origin.link ??
    (origin.messageId
      ? `${conversation.platform}:${conversation.id}/${origin.messageId}`
      : `${conversation.platform}:${conversation.id}`);
  return { platform: user.platform, userId: user.id, displayName: user.displayName, source };
}

function splitTags(value: string | undefined): string[] | undefined {
  return value === undefined ? undefined : value.split(',').filter(Boolean);
}

/** The node must be one of ours; an empty value clears it on edit. */
function checkedNode(ctx: CommandContext, value: string | undefined): string | undefined {
  return value ? ctx.inventory.node(value).name : value;
}

function changed(verb: string, r: ChangeResult): Reply {
  const out: Reply = {
    severity: r.pushed ? 'success' : 'warning',
    title: `${verb} ${r.task.id}: ${r.task.title}`,
    fields: [
      { name: 'Status', value: r.status, inline: true },
      { name: 'Priority', value: r.task.priority, inline: true },
      { name: 'Commit', value: `${r.commit.slice(0, 10)} in ${r.file}`, inline: true },
    ],
  };
  if (!r.pushed)
    out.text = r.message ?? 'Saved locally; it will be pushed when the task repo is reachable.';
  return out;
}

function details(t: TaskWithStatus): Reply {
  const fields = [
    { name: 'Status', value: t.status, inline: true },
    { name: 'Priority', value: t.priority, inline: true },
    ...(t.phase
      ? [
          {
            name: 'Phase',
            value: `${t.phase} ${PHASES[t.phase as keyof typeof PHASES]}`,
            inline: true,
          },
        ]
      : []),
    ...(t.node ? [{ name: 'Node', value: t.node, inline: true }] : []),
    ...(t.tags.length ? [{ name: 'Tags', value: t.tags.join(', '), inline: true }] : []),
    {
      name: 'Created',
      value: `${t.created} by ${t.created_by.display_name} (${t.created_by.platform}:${t.created_by.user_id})`,
    },
    ...(t.started ? [{ name: 'Started', value: t.started }] : []),
    ...(t.completed ? [{ name: 'Completed', value: t.completed }] : []),
    ...(t.source ? [{ name: 'Source', value: t.source }] : []),
    { name: 'File', value: t.file },
  ];
  return { title: `${t.id}: ${t.title}`, text: t.description, fields };
}

function commitPlan(ctx: CommandContext, summary: string, edit: string, message: string): Plan {
  return {
    summary,
    steps: [
      `git fetch origin (${ctx.services.taskRepoLabel()})`,
      edit,
      `git commit -m "${message}" (trailer Requested-by: ${ctx.invocation.user.platform}:${ctx.invocation.user.id} (${ctx.invocation.user.displayName}))`,
      'git push origin (on rejection: fetch, re-apply on the new head, push again)',
    ],
  };
}

const path = (ctx: CommandContext, file: string) => `${ctx.config.tasks.path}/${file}`;

export const command = defineCommand({
  name: 'task',
  description: "The lab's task backlog in Git: add, list, move and edit tasks",
  subcommands: [
    defineAction<AddArgs>({
      name: 'add',
      description: 'File a new task in the backlog',
      sideEffects: true,
      options: [title, priority, phase, tags, node, description],
      plan: (ctx) => {
        const where = ctx.args.node ? ` on ${checkedNode(ctx, ctx.args.node)}` : '';
        return commitPlan(
          ctx,
          `Add "${ctx.args.title}" to the backlog (priority ${ctx.args.priority ?? 'medium'}).`,
          `append the task with the next free id to ${path(ctx, 'backlog.yaml')}, keeping the file's comments and layout`,
          `tasks: add T-#### ${ctx.args.title}${where}`,
        );
      },
      execute: async (ctx) => {
        const store = await ctx.services.tasks();
        const { args } = ctx;
        const r = await store.add(
          {
            title: args.title,
            description: args.description,
            priority: args.priority as (typeof TASK_PRIORITIES)[number] | undefined,
            phase: args.phase,
            tags: splitTags(args.tags),
            node: checkedNode(ctx, args.node),
          },
          requester(ctx),
        );
        return changed('Added', r);
      },
    }),
    defineAction<{ status?: string; tag?: string; node?: string }>({
      name: 'list',
      description: 'Tasks in the backlog and in progress (or a given status)',
      sideEffects: false,
      options: [
        {
          name: 'status',
          description: 'backlog, in-progress or done',
          type: 'string',
          choices: ['backlog', 'in-progress', 'done'].map((s) => ({ name: s, value: s })),
        },
        { name: 'tag', description: 'Only tasks with this tag', type: 'string' },
        { ...node, description: 'Only tasks about this node' },
      ],
      execute: async ({ args, services }) => {
        const store = await services.tasks();
        const found = await store.list({
          status: args.status as TaskWithStatus['status'] | undefined,
          tag: args.tag,
          node: args.node,
        });
        const shown = args.status ? found : found.filter((t) => t.status !== 'done');
        const filter = [
          args.status ?? 'open',
          args.tag && `tag ${args.tag}`,
          args.node && `node ${args.node}`,
        ]
          .filter(Boolean)
          .join(', ');
        if (shown.length === 0) return { title: `No tasks (${filter})` };
        const clip = (s: string) => (s.length > 60 ? `${s.slice(0, 59)}…` : s).replace(/\n/g, ' ');
        return {
          title: `${shown.length} task${shown.length === 1 ? '' : 's'} (${filter})`,
          code: table(
            ['ID', 'STATUS', 'PRIO', 'NODE', 'TITLE'],
            shown.map((t) => [t.id, t.status, t.priority, t.node ?? '-', clip(t.title)]),
          ),
        };
      },
    }),
    defineAction<IdArgs>({
      name: 'show',
      description: 'Everything about one task',
      sideEffects: false,
      options: [idOption],
      execute: async ({ args, services }) => details(await (await services.tasks()).show(args.id)),
    }),
    defineAction<IdArgs>({
      name: 'start',
      description: 'Move a task from the backlog to in progress',
      sideEffects: true,
      options: [idOption],
      plan: (ctx) =>
        commitPlan(
          ctx,
          `Start ${ctx.args.id}.`,
          `move it from ${path(ctx, 'backlog.yaml')} to ${path(ctx, 'in-progress.yaml')}, set started`,
          `tasks: start ${ctx.args.id} …`,
        ),
      execute: async (ctx) =>
        changed('Started', await (await ctx.services.tasks()).start(ctx.args.id, requester(ctx))),
    }),
    defineAction<IdArgs>({
      name: 'done',
      description: 'Mark a task as done (moves it to completed/YYYY-MM.yaml)',
      sideEffects: true,
      options: [idOption],
      plan: (ctx) =>
        commitPlan(
          ctx,
          `Complete ${ctx.args.id}.`,
          `move it to ${path(ctx, 'completed/YYYY-MM.yaml')} (this month), set completed`,
          `tasks: done ${ctx.args.id} …`,
        ),
      execute: async (ctx) =>
        changed('Completed', await (await ctx.services.tasks()).done(ctx.args.id, requester(ctx))),
    }),
    defineAction<EditArgs>({
      name: 'edit',
      description: 'Change fields of a task (description:"" or node:"" clears them)',
      sideEffects: true,
      options: [idOption, { ...title, required: false }, priority, phase, tags, node, description],
      plan: (ctx) => {
        const fields = Object.keys(ctx.args).filter((k) => k !== 'id' && k !== 'dry_run');
        return commitPlan(
          ctx,
          `Edit ${ctx.args.id}: ${fields.join(', ') || 'nothing'}.`,
          `change ${fields.join(', ')} in place in the file that holds it`,
          `tasks: edit ${ctx.args.id} …`,
        );
      },
      execute: async (ctx) => {
        const { args } = ctx;
        const r = await (await ctx.services.tasks()).edit(
          args.id,
          {
            title: args.title,
            priority: args.priority as (typeof TASK_PRIORITIES)[number] | undefined,
            phase: args.phase,
            tags: splitTags(args.tags),
            node: args.node === '' ? null : checkedNode(ctx, args.node),
            description: args.description === '' ? null : args.description,
          },
          requester(ctx),
        );
        return changed('Edited', r);
      },
    }),
    defineAction<IdArgs>({
      name: 'drop',
      description: 'Remove a task that will not be done (stays in Git history)',
      sideEffects: true,
      confirm: true,
      options: [idOption],
      plan: (ctx) =>
        commitPlan(
          ctx,
          `Drop ${ctx.args.id}.`,
          'remove it from the file that holds it',
          `tasks: drop ${ctx.args.id} …`,
        ),
      execute: async (ctx) =>
        changed('Dropped', await (await ctx.services.tasks()).drop(ctx.args.id, requester(ctx))),
    }),
  ],
});
