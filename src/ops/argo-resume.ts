import type { Config } from '../config/schema.js';
import type { Services } from '../core/services.js';
import { renderOutcome } from '../infra/argo-outcome.js';
import { syncProgress } from '../infra/argo-progress.js';
import { formatDown, type Resumer } from './resume.js';

/**
 * An Argo CD sync or rollback the bot was following when it went down: Argo CD carries on
 * with it, so the bot re-attaches to the operation it started (or reads how it ended while the
 * bot was down) and gives the answer it would have given, in the original message.
 */
export function argoResumer(deps: {
  services: Services;
  config: Config;
  signal: AbortSignal;
}): Resumer {
  return {
    async run(op, report, ctx) {
      const r = op.record;
      const argo = await deps.services.argo();
      const since = Date.parse(r.startedAt);
      await report.step(
        `The bot is back after about ${formatDown(ctx.downMs)}: following ${r.target} again.`,
      );
      // As live: the message's progress and a thread line per resource result (the results
      // as they are now — some may repeat lines shown before the restart).
      const shown = syncProgress(`Following ${r.target} again`);
      let chain = Promise.resolve();
      const queue = (f: () => Promise<void>) => {
        chain = chain.then(f).catch(() => {});
      };
      const outcome = await argo
        .followStarted(r.target, since, {
          timeoutMs: deps.config.argo.syncTimeoutSeconds * 1000,
          signal: AbortSignal.any([deps.signal, op.cancelSignal]),
          onProgress: (state, app) => {
            op.note({ data: { phase: state.phase } }).catch(() => undefined);
            queue(() => report.edit(shown.update(state, app)));
            for (const line of shown.lines(state)) queue(() => report.step(line));
          },
        })
        .finally(() => chain);
      if (!outcome) {
        await ctx.interrupt(
          `The bot restarted (down about ${formatDown(ctx.downMs)}) before the operation was written to ${r.target}: nothing was started.`,
          `Run ${r.command} again.`,
        );
        return;
      }
      await op.finish();
      const reply = renderOutcome(outcome);
      await report.done({
        ...reply,
        footer: `Followed to its end after the bot restarted (down about ${formatDown(ctx.downMs)}).`,
      });
      await report.step(`${reply.severity === 'success' ? '✔' : '✖'} ${reply.title}`);
    },
  };
}
