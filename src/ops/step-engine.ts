import type { Progress } from '../core/context.js';
import { isUserError } from '../core/errors.js';
import type { Reply } from '../core/reply.js';
import type { RunningOperation } from './operations.js';

/**
 * One small engine for long operations made of steps: before each step it writes the journal
 * (the step about to run), shows progress, runs the step, logs its result line; on failure it
 * stops and says where it stopped and what state things are in. A step is written so that it
 * can be run again, or skipped, after a restart: the resumer decides where to go on from by
 * looking at the world, and calls `runSteps` with `from`.
 */

export interface EngineStep {
  /** Stable id, kept in the journal: `cordon`, `drain`, `reboot`, … */
  name: string;
  label: string;
  run: () => Promise<string | undefined>;
  /** The state if it stops at this step, and what to run next. */
  ifFails: string | ((err: unknown) => string);
}

export interface StepRun {
  title: string;
  steps: EngineStep[];
  /** Index of the first step to run (a resumed operation skips what is done). */
  from?: number;
  progress: Progress;
  op?: RunningOperation;
}

export type StepOutcome =
  | { ok: true }
  | { ok: false; index: number; step: EngineStep; error: unknown; reply: Reply };

export async function runSteps(run: StepRun): Promise<StepOutcome> {
  const { steps, progress, op } = run;
  for (let i = run.from ?? 0; i < steps.length; i++) {
    const step = steps[i]!;
    let note: string | undefined;
    try {
      await op?.step(i, step.label);
      await progress.update({
        title: run.title,
        progress: { done: i, total: steps.length, label: step.label },
      });
      note = await step.run();
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      await progress.step(`✖ ${step.label}: ${why}`);
      const state = typeof step.ifFails === 'string' ? step.ifFails : step.ifFails(err);
      return {
        ok: false,
        index: i,
        step,
        error: err,
        reply: {
          severity: 'error',
          title: `${run.title} stopped at step ${i + 1} of ${steps.length}: ${step.label}`,
          text: isUserError(err) && err.hint ? `${why}\n${err.hint}` : why,
          fields: [{ name: 'State now', value: state }],
        },
      };
    }
    if (note) await progress.step(note);
  }
  return { ok: true };
}
