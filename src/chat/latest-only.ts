/**
 * Rate-limits a stream of states to one shown every `everyMs`: a state arriving too soon
 * waits, and is replaced by any newer one (only the latest is ever shown). Used for
 * in-place progress edits, which chat platforms rate-limit tightly.
 */
export class LatestOnly<T> {
  private latest?: T;
  private lastAt = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly everyMs: number,
    private readonly show: (value: T) => Promise<void>,
    private readonly now: () => number = Date.now,
  ) {}

  push(value: T): Promise<void> {
    this.latest = value;
    const wait = this.lastAt + this.everyMs - this.now();
    if (wait > 0) {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        void this.flush();
      }, wait);
      return Promise.resolve();
    }
    return this.flush();
  }

  /** Forgets a waiting state (a final answer supersedes it). */
  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.latest = undefined;
  }

  private flush(): Promise<void> {
    const value = this.latest;
    if (value === undefined) return Promise.resolve();
    this.latest = undefined;
    this.lastAt = this.now();
    return this.show(value);
  }
}
