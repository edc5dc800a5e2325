import type { MessageRef } from '../chat/publisher.js';
import type { Config } from '../config/schema.js';
import type { Args } from './command.js';
import type { Inventory } from './inventory.js';
import type { Invocation } from './invocation.js';
import { label, userLabel } from './invocation.js';
import type { Logger } from './logger.js';
import type { Reply } from './reply.js';
import type { Responder } from './responder.js';
import type { Services } from './services.js';

/** How long work reports itself: one message edited in place, plus step lines in a thread. */
export interface Progress {
  /** Replace the in-place progress message. */
  update(reply: Reply): Promise<void>;
  /** Append a line to the step log (the thread). */
  step(line: string): Promise<void>;
  /** Where the answer is shown (a serialisable reference), once it is. */
  ref?(): MessageRef | undefined;
}

export interface CommandContext<A extends Args = Args> {
  args: A;
  invocation: Invocation;
  /** Whether this run only shows its plan. */
  dryRun: boolean;
  log: Logger;
  config: Config;
  inventory: Inventory;
  services: Services;
  progress: Progress;
  signal: AbortSignal;
}

/** What every run's context shares: the bot's logger, config, inventory and services. */
export interface ContextDeps {
  log: Logger;
  config: Config;
  inventory: Inventory;
  services: Services;
}

/**
 * The context of one run: a child logger for the invocation, progress through its responder,
 * and the signal that says the bot is stopping.
 */
export function commandContext(
  deps: ContextDeps,
  inv: Invocation,
  args: Args,
  dryRun: boolean,
  responder: Responder,
  signal: AbortSignal,
): CommandContext {
  return {
    args,
    invocation: inv,
    dryRun,
    log: deps.log.child({
      invocation: inv.id,
      command: label(inv),
      user: userLabel(inv.user),
    }),
    config: deps.config,
    inventory: deps.inventory,
    services: deps.services,
    progress: {
      update: (r) => responder.progress(r),
      step: (l) => responder.step(l),
      ref: () => responder.ref?.(),
    },
    signal,
  };
}
