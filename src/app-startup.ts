import type { AppServices } from './app-services.js';
import type { Publisher } from './chat/publisher.js';
import type { Config } from './config/schema.js';
import type { Logger } from './core/logger.js';
import type { ProposalLedger } from './core/proposal-ledger.js';
import type { Metrics } from './http/metrics.js';

/** What start-up takes over from the previous process: its operations and unanswered proposals. */
export interface LeftWorkDeps {
  config: Config;
  services: AppServices;
  metrics: Metrics;
  /** The publisher of a started adapter. */
  publisher: (platform: string) => Publisher | undefined;
  /** The bot is stopping: resumed operations stop at their wait. */
  signal: AbortSignal;
  log: Logger;
}

/**
 * Takes over the operations a previous process left (their locks held) before any chat takes a
 * command; `go()` on the result reports and resumes them once the chats are connected.
 */
export async function pickUpOperations(deps: LeftWorkDeps) {
  const { services, metrics } = deps;
  const { pickUp } = await import('./ops/resume.js');
  const { resumers } = await import('./ops/resumers.js');
  return pickUp({
    operations: services.operations(),
    publisher: deps.publisher,
    resumers: resumers({
      services,
      config: deps.config,
      lock: services.lock,
      signal: deps.signal,
    }),
    log: deps.log.child({ component: 'operations' }),
    onInterrupted: (r) => metrics.operationsInterrupted.inc({ kind: r.kind }),
    onResumed: (r) => metrics.operationsResumed.inc({ kind: r.kind }),
  });
}

/** Proposals the previous process showed and never got an answer to: each says it expired. */
export async function expireLeftProposals(
  proposals: ProposalLedger,
  publisher: (platform: string) => Publisher | undefined,
  log: Logger,
): Promise<void> {
  for (const p of proposals.takeLeft()) {
    await publisher(p.ref.platform)
      ?.edit(p.ref, {
        severity: 'info',
        title: `Expired: ${p.command}`,
        text: 'The bot restarted before this was confirmed; nothing was done. Run the command again to start over.',
      })
      .catch((err) => log.warn({ err, code: p.code }, 'could not expire a left proposal'));
  }
}
