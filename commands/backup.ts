import { z } from 'zod';
import { defineAction, defineCommand } from '../src/core/command.js';
import type { CommandContext } from '../src/core/context.js';
import { UserError } from '../src/core/errors.js';
import type { Reply, ReplyField } from '../src/core/reply.js';
import { table } from '../src/core/table.js';
import { labAsks } from '../src/demo/lab-asks.js';
import { demoAware } from '../src/demo/no-lab.js';
import {
  type BackupConfig,
  type BackupRun,
  Backups,
  formatAge,
  formatBytes,
} from '../src/nodes/backup.js';
import { requireSsh } from '../src/nodes/node-ops.js';

function backupConf(ctx: CommandContext): BackupConfig {
  const conf = ctx.config.backup;
  if (!conf) {
    throw new UserError(
      'Backup commands need backup.nodes, which is not configured.',
      'Add backup (nodes, runWith, envFile, …) to the config: see docs/backups.md.',
    );
  }
  return conf;
}

async function backups(ctx: CommandContext, what: string): Promise<Backups> {
  const conf = backupConf(ctx);
  return new Backups(requireSsh(await ctx.services.nodeOps(), what), conf);
}

const nodeSchema = z.string().regex(/^[a-z0-9-]{1,32}$/, 'a node name like pi1');

function runField(r: BackupRun): ReplyField {
  const lines: string[] = [];
  const s = r.summary;
  if (s) {
    lines.push(
      `snapshot ${s.snapshotId}: ${s.filesNew} new, ${s.filesChanged} changed, ${s.filesUnmodified} unmodified files; ${formatBytes(s.dataAdded)} added; ${s.durationSeconds.toFixed(1)} s`,
    );
  } else if (r.latest) {
    lines.push(`latest snapshot ${r.latest.shortId} at ${r.latest.time}`);
  }
  if (r.explanation) lines.push(r.explanation);
  if (r.exitCode !== 0 && r.errors.length) lines.push(...r.errors.map((e) => `  ${e}`));
  const status = r.exitCode === 0 ? 'ok' : r.exitCode === 3 ? 'partial' : 'FAILED';
  return { name: `${r.node}: ${status}`, value: lines.join('\n') || 'done' };
}

export const command = defineCommand({
  name: 'backup',
  description: 'restic backups on the nodes: status, run, snapshots',
  subcommands: [
    defineAction({
      name: 'status',
      description: 'Per backup node: the latest snapshot, its age and size; stale ones flagged',
      sideEffects: false,
      options: [],
      execute: demoAware(
        (ctx) => {
          const conf = backupConf(ctx);
          return labAsks.backupSnapshots(conf, Backups.select(conf, ctx.inventory.nodes, 'all'), 1);
        },
        async (ctx) => {
          const b = await backups(ctx, 'Checking backups');
          const nodes = Backups.select(b.conf, ctx.inventory.nodes, 'all');
          await ctx.progress.update({ title: `Checking backups on ${nodes.length} nodes…` });
          const statuses = await b.status(nodes, Date.now(), ctx.signal);
          const bad = statuses.filter((s) => s.stale || s.error);
          const rows = statuses.map((s) => [
            s.node,
            s.latest ? s.latest.time.replace(/\.\d+/, '') : '-',
            s.ageSeconds === undefined ? '-' : formatAge(s.ageSeconds),
            s.latest?.summary?.dataAdded === undefined
              ? '-'
              : formatBytes(s.latest.summary.dataAdded),
            s.latest?.summary
              ? `${s.latest.summary.filesNew ?? 0} new, ${s.latest.summary.filesChanged ?? 0} changed`
              : '-',
            s.error ? 'ERROR' : s.stale ? 'STALE' : 'ok',
          ]);
          return {
            severity: bad.length ? 'warning' : 'success',
            title: bad.length
              ? `${bad.length} of ${statuses.length} backup nodes stale or failing (threshold ${b.conf.staleHours} h)`
              : `${statuses.length} backup nodes fresh (within ${b.conf.staleHours} h)`,
            code: table(['NODE', 'LAST SNAPSHOT', 'AGE', 'ADDED', 'FILES', 'STATE'], rows),
            fields: statuses.filter((s) => s.error).map((s) => ({ name: s.node, value: s.error! })),
          } satisfies Reply;
        },
      ),
    }),
    defineAction<{ target: string }>({
      name: 'run',
      operation: 'backup.run',
      description: 'Start a backup now on a node (or all) and follow restic to the summary',
      sideEffects: true,
      options: [
        {
          name: 'target',
          description: 'A backup node, or all',
          type: 'string',
          required: true,
          schema: nodeSchema,
        },
      ],
      plan: (ctx) => {
        const conf = backupConf(ctx);
        const nodes = Backups.select(conf, ctx.inventory.nodes, ctx.args.target);
        return {
          summary: `Back up ${nodes.map((n) => n.name).join(', ')} with ${conf.runWith === 'unit' ? conf.unit : `restic backup ${conf.paths.join(' ')}`}.`,
          steps: nodes.flatMap((n) => Backups.planSteps(conf, n)),
        };
      },
      execute: async (ctx) => {
        const b = await backups(ctx, 'Running a backup');
        const nodes = Backups.select(b.conf, ctx.inventory.nodes, ctx.args.target);
        const percent = new Map<string, number>();
        const runs = await Promise.all(
          nodes.map((n) =>
            b.run(
              n,
              (p) => {
                percent.set(n.name, p.percent);
                const done = [...percent.values()].reduce((a, v) => a + v, 0);
                void ctx.progress.update({
                  title: `Backing up ${nodes.map((x) => x.name).join(', ')}…`,
                  progress: {
                    done: Math.round((done / nodes.length) * 100),
                    total: 100,
                    label: nodes
                      .map((x) => `${x.name} ${Math.round((percent.get(x.name) ?? 0) * 100)}%`)
                      .join(', '),
                  },
                });
              },
              ctx.signal,
            ),
          ),
        );
        const failed = runs.filter((r) => r.exitCode !== 0 && r.exitCode !== 3);
        const partial = runs.filter((r) => r.exitCode === 3);
        return {
          severity: failed.length ? 'error' : partial.length ? 'warning' : 'success',
          title: failed.length
            ? `Backup failed on ${failed.map((r) => r.node).join(', ')}`
            : partial.length
              ? `Backup done with unreadable files on ${partial.map((r) => r.node).join(', ')}`
              : `Backup done on ${runs.map((r) => r.node).join(', ')}`,
          fields: runs.map(runField),
        } satisfies Reply;
      },
    }),
    defineAction<{ node: string; count?: number }>({
      name: 'snapshots',
      description: "A backup node's latest snapshots",
      sideEffects: false,
      options: [
        {
          name: 'node',
          description: 'A backup node',
          type: 'string',
          required: true,
          schema: nodeSchema,
        },
        {
          name: 'count',
          description: 'How many (default 10, at most 100)',
          type: 'integer',
          schema: z.number().int().min(1).max(100),
        },
      ],
      execute: demoAware(
        (ctx) => {
          const conf = backupConf(ctx);
          const node = Backups.node(conf, ctx.inventory.nodes, ctx.args.node);
          return labAsks.backupSnapshots(conf, [node], ctx.args.count ?? 10);
        },
        async (ctx) => {
          const b = await backups(ctx, 'Listing snapshots');
          const node = Backups.node(b.conf, ctx.inventory.nodes, ctx.args.node);
          const count = ctx.args.count ?? 10;
          const snaps = await b.snapshots(node, count, ctx.signal);
          return {
            title: `${snaps.length} snapshot${snaps.length === 1 ? '' : 's'} on ${node.name}`,
            code: snaps.length
              ? table(
                  ['ID', 'TIME', 'HOST', 'PATHS'],
                  snaps.map((s) => [
                    s.shortId,
                    s.time.replace(/\.\d+/, ''),
                    s.hostname ?? '-',
                    s.paths.join(' '),
                  ]),
                )
              : '(no snapshots yet)',
          };
        },
      ),
    }),
  ],
});
