import { z } from 'zod';
import { defineAction, defineCommand, type OptionDef } from '../src/core/command.js';
import type { CommandContext } from '../src/core/context.js';
import { userLabel } from '../src/core/invocation.js';
import type { Plan, Reply } from '../src/core/reply.js';
import { table } from '../src/core/table.js';
import { demoApp, labAsks } from '../src/demo/lab-asks.js';
import { demoAware } from '../src/demo/no-lab.js';
import type { SyncOutcome } from '../src/infra/argo.js';
import {
  type AppJson,
  type ArgoApp,
  appPath,
  type OperationState,
  resourceName,
  shortRevision,
  shortRevisions,
} from '../src/infra/argo-objects.js';
import {
  operationPatch,
  placeholderOperation,
  rollbackOperation,
  syncOperation,
} from '../src/infra/argo-operation.js';
import { renderOutcome } from '../src/infra/argo-outcome.js';
import { syncProgress } from '../src/infra/argo-progress.js';

const APP_NAME = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;
/** A branch, tag or commit sha. */
const REVISION = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/;

const appOption: OptionDef = {
  name: 'app',
  description: 'An Argo CD application, e.g. home-assistant',
  type: 'string',
  required: true,
  autocomplete: 'argo-apps',
  schema: z.string().regex(APP_NAME, 'an application name like home-assistant'),
};

type AppArgs = { app: string };
type SyncArgs = AppArgs & { revision?: string; prune?: boolean };
type RollbackArgs = AppArgs & { history_id: number };

const timeoutMs = (ctx: CommandContext) => ctx.config.argo.syncTimeoutSeconds * 1000;

function patchLine(ctx: CommandContext, app: string, body: unknown): string {
  return `PATCH ${appPath(ctx.config.argo.namespace, app)} (application/merge-patch+json) ${JSON.stringify(body)}`;
}

/**
 * The plan's steps: the exact patch for the app as read (a dry run, which reads nothing, names
 * the fields the values come from).
 */
function syncPlan(ctx: CommandContext, app: string, current: ArgoApp | undefined, op: AppJson) {
  const body = operationPatch(op, current?.resourceVersion ?? '<metadata.resourceVersion>');
  return [
    patchLine(ctx, app, body),
    `watch ${appPath(ctx.config.argo.namespace)}?fieldSelector=metadata.name=${app} until status.operationState.phase is Succeeded, Failed or Error (at most ${ctx.config.argo.syncTimeoutSeconds} s)`,
  ];
}

/**
 * Follows a sync in chat: the progress message edited in place, one step line per resource
 * when its result is known (again when a retry changes it), then the final answer.
 */
async function followSync(
  ctx: CommandContext,
  title: string,
  run: (
    onProgress: (state: OperationState, app: ArgoApp) => void,
    onPreempted: (running: string) => void,
  ) => Promise<SyncOutcome>,
): Promise<Reply> {
  let chain = Promise.resolve();
  const queue = (f: () => Promise<void>) => {
    chain = chain.then(f).catch(() => {});
  };
  const shown = syncProgress(title);
  await ctx.progress.update({ title, text: 'starting the operation…' });
  const onProgress = (state: OperationState, app: ArgoApp) => {
    queue(() => ctx.progress.update(shown.update(state, app)));
    for (const line of shown.lines(state)) queue(() => ctx.progress.step(line));
  };
  const onPreempted = (running: string) => {
    queue(() =>
      ctx.progress.step(
        `⚠ This sync was not started: another operation began in the meantime (${running}); following it instead.`,
      ),
    );
  };
  try {
    return renderOutcome(await run(onProgress, onPreempted));
  } finally {
    await chain;
  }
}

function autoSyncLabel(a: ArgoApp): string {
  return a.autoSync ? 'on' : 'off';
}

function renderStatus(a: ArgoApp): Reply {
  const op = a.operationState;
  const fields = [
    { name: 'Sync', value: `${a.syncStatus} (${shortRevisions(a)})`, inline: true },
    {
      name: 'Health',
      value: `${a.health}${a.healthMessage ? `: ${a.healthMessage}` : ''}`,
      inline: true,
    },
    { name: 'Auto-sync', value: autoSyncLabel(a), inline: true },
  ];
  if (op) {
    const who = op.initiatedBy ? ` by ${op.initiatedBy}` : '';
    const when = op.finishedAt ?? op.startedAt;
    fields.push({
      name: 'Last operation',
      value: `sync to ${op.revision || op.revisions ? shortRevisions(op) : shortRevision(op.requestedRevision)}${who}${when ? ` (${when})` : ''}: ${op.phase}${op.message ? ` — ${op.message}` : ''}`,
      inline: false,
    });
    const failed = op.resources.filter((r) => r.status === 'SyncFailed');
    for (const r of failed.slice(0, 10)) {
      fields.push({ name: resourceName(r), value: r.message ?? r.status, inline: false });
    }
  }
  const problems = a.resources.filter(
    (r) =>
      (r.status && r.status !== 'Synced') ||
      (r.health && !['Healthy', 'Suspended'].includes(r.health)),
  );
  const last = a.history.at(-1);
  return {
    severity:
      a.health === 'Degraded' || op?.phase === 'Failed' || op?.phase === 'Error'
        ? 'error'
        : a.syncStatus === 'Synced' && a.health === 'Healthy'
          ? 'success'
          : 'warning',
    title: `${a.name}: ${a.syncStatus}, ${a.health}`,
    fields,
    text: problems.length
      ? `${problems.length} of ${a.resources.length} resources out of sync or unhealthy:`
      : `All ${a.resources.length} resources synced and healthy.`,
    code: problems.length
      ? table(
          ['RESOURCE', 'SYNC', 'HEALTH', 'MESSAGE'],
          problems.map((r) => [resourceName(r), r.status ?? '-', r.health ?? '-', r.message ?? '']),
        )
      : undefined,
    footer: last
      ? `History: ${a.history
          .slice(-5)
          .map((h) => `${h.id}=${shortRevisions(h)}`)
          .join(', ')} (rollback: /argo rollback ${a.name} <id>)`
      : undefined,
  };
}

export const command = defineCommand({
  name: 'argo',
  description: 'Argo CD applications: list, status, sync, refresh, rollback',
  subcommands: [
    defineAction({
      name: 'list',
      description: 'Every application: sync status, health, revision, auto-sync',
      sideEffects: false,
      options: [],
      execute: demoAware(
        (ctx) => labAsks.argoList(ctx.config),
        async (ctx) => {
          const apps = await (await ctx.services.argo()).list();
          return {
            title: `${apps.length} Argo CD application${apps.length === 1 ? '' : 's'}`,
            code: table(
              ['APP', 'SYNC', 'HEALTH', 'REVISION', 'AUTO-SYNC'],
              apps.map((a) => [
                a.name,
                a.syncStatus,
                a.health,
                shortRevisions(a),
                autoSyncLabel(a),
              ]),
            ),
          };
        },
      ),
    }),
    defineAction<AppArgs>({
      name: 'status',
      description: 'Sync, health, revision, last operation, resources out of sync or unhealthy',
      sideEffects: false,
      options: [appOption],
      execute: demoAware(
        (ctx) => labAsks.argoApp(ctx.config, ctx.args.app),
        async (ctx) => renderStatus(await (await ctx.services.argo()).get(ctx.args.app)),
      ),
    }),
    defineAction<SyncArgs>({
      name: 'sync',
      operation: 'argo.sync',
      description: 'Sync an application (like argocd app sync) and follow it to the end',
      sideEffects: true,
      confirm: (args) => args.prune === true,
      options: [
        appOption,
        {
          name: 'revision',
          description: "A branch, tag or commit (default: the app's target revision)",
          type: 'string',
          schema: z.string().regex(REVISION, 'a branch, tag or commit sha'),
        },
        {
          name: 'prune',
          description: 'Also delete resources that are no longer in Git',
          type: 'boolean',
        },
      ],
      plan: async (ctx) => {
        const { app, prune } = ctx.args;
        if (ctx.config.demo) demoApp(ctx.config, app);
        const req = {
          revision: ctx.args.revision,
          prune: prune === true,
          initiatedBy: userLabel(ctx.invocation.user),
        };
        let current: ArgoApp | undefined;
        if (!ctx.dryRun) {
          // Refuse before proposing, so nobody confirms something that would then be refused.
          const argo = await ctx.services.argo();
          current = await argo.get(app);
          argo.refuseIfBusy(current);
        }
        const op = current ? syncOperation(current, req) : placeholderOperation(req);
        const revision = current?.sources
          ? `the target revisions of its ${current.sources.length} sources`
          : (op.sync.revision as string | undefined);
        const plan: Plan = {
          summary: `Sync ${app} to ${revision && !revision.startsWith('<') ? revision : 'its target revision'}${prune ? ', pruning resources no longer in Git' : ''}, and follow it to the end.`,
          steps: syncPlan(ctx, app, current, op),
        };
        if (prune) plan.warnings = ['prune:true deletes the resources that are no longer in Git.'];
        return plan;
      },
      execute: async (ctx) => {
        const { app, revision, prune } = ctx.args;
        const argo = await ctx.services.argo();
        return followSync(
          ctx,
          `Syncing ${app} to ${revision ?? 'its target revision'}`,
          (onProgress, onPreempted) =>
            argo.sync(app, {
              revision,
              prune: prune === true,
              initiatedBy: userLabel(ctx.invocation.user),
              onProgress,
              onPreempted,
              timeoutMs: timeoutMs(ctx),
              signal: ctx.signal,
            }),
        );
      },
    }),
    defineAction<AppArgs & { hard?: boolean }>({
      name: 'refresh',
      description: 'Compare the application with Git again (hard:true also regenerates manifests)',
      sideEffects: true,
      options: [
        appOption,
        {
          name: 'hard',
          description: 'Hard refresh: invalidate the manifest cache',
          type: 'boolean',
        },
      ],
      plan: (ctx) => ({
        summary: `${ctx.args.hard ? 'Hard-refresh' : 'Refresh'} ${ctx.args.app} and show its new state.`,
        steps: [
          patchLine(ctx, ctx.args.app, {
            metadata: {
              annotations: { 'argocd.argoproj.io/refresh': ctx.args.hard ? 'hard' : 'normal' },
            },
          }),
          `watch until Argo CD removes the annotation, then show /argo status ${ctx.args.app}`,
        ],
      }),
      execute: async (ctx) => {
        const argo = await ctx.services.argo();
        await ctx.progress.update({ title: `Refreshing ${ctx.args.app}…` });
        const app = await argo.refresh(ctx.args.app, ctx.args.hard === true, {
          timeoutMs: Math.min(timeoutMs(ctx), 120_000),
          signal: ctx.signal,
        });
        const status = renderStatus(app);
        return { ...status, title: `Refreshed ${app.name}: ${app.syncStatus}, ${app.health}` };
      },
    }),
    defineAction<RollbackArgs>({
      name: 'rollback',
      operation: 'argo.rollback',
      description: "Sync to a history entry's revision (only while auto-sync is off)",
      sideEffects: true,
      confirm: true,
      options: [
        appOption,
        {
          name: 'history_id',
          description: 'The history entry (ids: /argo status <app>)',
          type: 'integer',
          required: true,
          schema: z.number().int().min(0),
        },
      ],
      plan: async (ctx) => {
        const { app, history_id } = ctx.args;
        const argo = await ctx.services.argo();
        const { app: current, entry } = await argo.rollbackTarget(app, history_id);
        if (!ctx.dryRun) argo.refuseIfBusy(current);
        const op = rollbackOperation(current, entry, userLabel(ctx.invocation.user));
        return {
          summary: `Roll ${app} back to history entry ${history_id} (${shortRevisions(entry)}, now at ${shortRevisions(current)}), and follow the sync to the end.`,
          steps: syncPlan(ctx, app, current, op),
          warnings: [
            `${app} will be OutOfSync with its target revision afterwards; /argo sync ${app} goes forward again.`,
          ],
        };
      },
      execute: async (ctx) => {
        const { app, history_id } = ctx.args;
        const argo = await ctx.services.argo();
        const { entry } = await argo.rollbackTarget(app, history_id);
        return followSync(
          ctx,
          `Rolling ${app} back to ${history_id} (${shortRevisions(entry)})`,
          (onProgress, onPreempted) =>
            argo.rollback(app, history_id, {
              initiatedBy: userLabel(ctx.invocation.user),
              onProgress,
              onPreempted,
              timeoutMs: timeoutMs(ctx),
              signal: ctx.signal,
            }),
        );
      },
    }),
  ],
});
