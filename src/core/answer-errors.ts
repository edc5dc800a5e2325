import type { Decision } from './audit.js';
import { isUserError, newErrorId } from './errors.js';
import type { Invocation } from './invocation.js';
import { label } from './invocation.js';
import type { Logger } from './logger.js';
import type { Recorder } from './recorder.js';
import type { Responder } from './responder.js';

/**
 * Runs `fn`; turns what it throws into an answer and an audit line. A UserError is shown as is;
 * anything else is logged under a fresh error id and only that id is shown.
 */
export async function answerErrors(
  recorder: Recorder,
  log: Logger,
  inv: Invocation,
  responder: Responder,
  startedAt: number,
  fn: () => Promise<void>,
): Promise<void> {
  try {
    await fn();
  } catch (err) {
    const decision = (err as { decision?: Decision }).decision ?? 'invalid';
    if (isUserError(err)) {
      await responder
        .send({ severity: 'error', title: err.message, text: err.hint }, { ephemeral: true })
        .catch(() => {});
      recorder.record(inv, decision, 'user-error', startedAt, { message: err.message });
      return;
    }
    const errorId = newErrorId();
    log.error({ err, errorId, invocation: inv.id, command: label(inv) }, 'command failed');
    await responder
      .send(
        {
          severity: 'error',
          title: 'Something went wrong',
          text: `The command failed unexpectedly (error ${errorId}). The details are in the bot's log under that id.`,
        },
        { ephemeral: true },
      )
      .catch(() => {});
    recorder.record(inv, decision === 'invalid' ? 'allowed' : decision, 'error', startedAt, {
      errorId,
    });
  }
}

/** Tags errors thrown by `fn` with the access decision already made, for the audit line. */
export async function withDecision(decision: Decision, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (typeof err === 'object' && err !== null && !('decision' in err)) {
      (err as { decision?: Decision }).decision = decision;
    }
    throw err;
  }
}
