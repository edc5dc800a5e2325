import { z } from 'zod';
import { defineAction, defineCommand } from '../src/core/command.js';
import type { CommandContext } from '../src/core/context.js';
import { UserError } from '../src/core/errors.js';
import { labAsks } from '../src/demo/lab-asks.js';
import { demoAware } from '../src/demo/no-lab.js';
import type { LonghornState } from '../src/infra/longhorn-objects.js';
import { readLonghorn } from '../src/nodes/longhorn-guard.js';
import { requireKube } from '../src/nodes/node-ops.js';
import { renderStorageStatus, renderVolume } from '../src/nodes/storage-view.js';

/** Longhorn's state for /storage: a UserError when there is no API or no Longhorn in it. */
async function longhornState(ctx: CommandContext): Promise<LonghornState> {
  const ops = await ctx.services.nodeOps();
  requireKube(ops, 'Reading Longhorn');
  const state = await readLonghorn(ops, ctx.config.longhorn, ctx.signal);
  if (!state) {
    throw new UserError(
      `Longhorn is not installed in this cluster (the API has no longhorn.io/v1beta2 volumes in ${ctx.config.longhorn.namespace}).`,
      'If it runs in another namespace, set longhorn.namespace in the config.',
    );
  }
  return state;
}

const view = (ctx: CommandContext) => ({
  now: Date.now(),
  staleHours: ctx.config.longhorn.backupStaleHours,
});

export const command = defineCommand({
  name: 'storage',
  description: 'Longhorn volumes: health, replicas per node, rebuilds, backups, disk use',
  subcommands: [
    defineAction({
      name: 'status',
      description: 'Every Longhorn volume and node: robustness, replicas, rebuilds, backups, disks',
      sideEffects: false,
      options: [],
      execute: demoAware(
        (ctx) => labAsks.longhorn(ctx.config),
        async (ctx) => renderStorageStatus(await longhornState(ctx), view(ctx)),
      ),
    }),
    defineAction<{ name: string }>({
      name: 'volume',
      description: 'One Longhorn volume: replicas per node, rebuild progress, users, backups',
      sideEffects: false,
      options: [
        {
          name: 'name',
          description: 'A Longhorn volume, e.g. pvc-0f3c…',
          type: 'string',
          required: true,
          autocomplete: 'longhorn-volumes',
          schema: z.string().regex(/^[a-z0-9][a-z0-9.-]{0,252}$/, 'a Longhorn volume name'),
        },
      ],
      execute: demoAware(
        (ctx) => labAsks.longhorn(ctx.config, ctx.args.name),
        async (ctx) => renderVolume(await longhornState(ctx), ctx.args.name, view(ctx)),
      ),
    }),
  ],
});
