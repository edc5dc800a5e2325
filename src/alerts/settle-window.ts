import { setTimeout as sleep } from 'node:timers/promises';

/** The clock the settle window runs on (milliseconds, monotonic); tests inject their own. */
export interface SettleClock {
  now(): number;
  /** Resolves after `ms`, or as soon as `signal` aborts (never rejects). */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const realClock: SettleClock = {
  now: () => performance.now(),
  sleep: (ms, signal) => sleep(ms, undefined, { signal }).catch(() => {}),
};

/**
 * Leading-edge coalescing, per destination. The first pass after a quiet period runs at once
 * and does one round, so a lone notification is posted without waiting. Whatever arrives
 * within `ms` of a pass's start waits for that window to end and is delivered together by the
 * next pass — the notifications of a storm, which Alertmanager sends over a second or so,
 * still become one roll-up. The groups the leading pass posted on their own count towards the
 * size of the storm that follows in their window; when it was one, its root becomes the
 * roll-up (an edit), so the storm is still one message.
 */
export class SettleWindow {
  private readonly lastPass = new Map<string, number>();
  private readonly alone = new Map<string, string[]>();

  constructor(
    private readonly ms: number,
    private readonly clock: SettleClock,
  ) {}

  /** Without a window (settleMs 0) every pass runs at once and finishes what it finds. */
  get enabled(): boolean {
    return this.ms > 0;
  }

  /** How long the next pass of a destination waits: 0 after a quiet period. */
  remaining(destKey: string): number {
    const last = this.lastPass.get(destKey);
    return last === undefined ? 0 : Math.max(0, last + this.ms - this.clock.now());
  }

  /** A pass begins now; a leading one opens a new window. */
  begin(destKey: string, leading: boolean): void {
    this.lastPass.set(destKey, this.clock.now());
    if (leading) this.alone.set(destKey, []);
  }

  /** The leading pass posted these new groups (group keys) on their own. */
  postedAlone(destKey: string, groupKeys: string[]): void {
    this.alone.set(destKey, [...(this.alone.get(destKey) ?? []), ...groupKeys]);
  }

  /** The new groups posted alone in the window that just ended; taken once. */
  takeAlone(destKey: string): string[] {
    const keys = this.alone.get(destKey) ?? [];
    this.alone.delete(destKey);
    return keys;
  }

  sleep(ms: number, signal: AbortSignal): Promise<void> {
    return this.clock.sleep(ms, signal);
  }
}
