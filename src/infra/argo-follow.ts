/**
 * Which operation states, seen while watching an app, belong to the operation being followed,
 * and when it is over. Pure: fed every object the watch sees.
 */
import {
  type AppJson,
  type ArgoApp,
  type OperationState,
  TERMINAL_PHASES,
  toArgoApp,
  toOperationState,
} from './argo-objects.js';

const isTerminal = (s: OperationState) => (TERMINAL_PHASES as readonly string[]).includes(s.phase);

function stateKey(s: OperationState | undefined): string {
  return s ? `${s.phase}|${s.startedAt ?? ''}|${s.finishedAt ?? ''}` : '';
}

export class OperationTracker {
  /** The last state of the operation seen, and the terminal one once it ended. */
  last: { app: ArgoApp; state: OperationState } | undefined;
  final: { app: ArgoApp; state: OperationState } | undefined;
  private readonly prior: string;
  private readonly notBefore: number;
  private ours = false;
  private lastKey = '';

  /**
   * `before`: the state when the operation was written (ours is any other one; startedAt has
   * second precision, so "after our patch" alone cannot tell a sync that ended in the same
   * second from ours). `runningNow`: following one that already runs — its state, even the
   * one seen now, is the one.
   */
  constructor(before: OperationState | undefined, writtenAt: number, runningNow: boolean) {
    this.prior = runningNow && before && !isTerminal(before) ? '' : stateKey(before);
    this.notBefore = Math.floor(writtenAt / 1000) * 1000;
  }

  /** True once the operation has ended; `onProgress` gets every change of its state. */
  see(o: AppJson | undefined, onProgress?: (state: OperationState, app: ArgoApp) => void): boolean {
    if (!o) return false;
    const app = toArgoApp(o);
    const state = toOperationState(o.status?.operationState);
    if (!state || stateKey(state) === this.prior) return false;
    const terminal = isTerminal(state);
    if (!this.ours) {
      const started = state.startedAt ? Date.parse(state.startedAt) : Number.NaN;
      if (!terminal || Number.isNaN(started) || started >= this.notBefore) this.ours = true;
    }
    if (!this.ours) return false;
    this.last = { app, state };
    const key = JSON.stringify(state);
    if (key !== this.lastKey) {
      this.lastKey = key;
      onProgress?.(state, app);
    }
    if (terminal) this.final = { app, state };
    return terminal;
  }
}
