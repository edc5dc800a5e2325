import { setMaxListeners } from 'node:events';
import type Bottleneck from 'bottleneck';
import type { Publisher } from '../chat/publisher.js';
import type { Logger } from '../core/logger.js';
import type { Reply } from '../core/reply.js';
import type { AlertStore, StoredGroup } from './alert-store.js';
import type { DeadLetter } from './dead-letter.js';
import { type GroupContext, GroupDelivery } from './deliver-group.js';
import { RollupDelivery } from './deliver-rollups.js';
import { DeliveryRefused, type OnRefused, RefusalReport } from './delivery-failure.js';
import { DestinationSender } from './send-to-destination.js';
import { realClock, type SettleClock, SettleWindow } from './settle-window.js';
import {
  destinationKey,
  type GroupChange,
  type GroupState,
  type RoutedDestination,
} from './types.js';

/** The renderers delivery uses (pure; injected so delivery stays about ordering and I/O). */
export interface AlertRenderers {
  root(state: GroupState, opts: { now: Date; mentions?: string[]; showButtons: boolean }): Reply;
  change(state: GroupState, change: GroupChange, now: Date): Reply | undefined;
  rollup(groups: GroupState[], now: Date): Reply;
}

export interface DeliveryOptions {
  store: AlertStore;
  publisher: (platform: RoutedDestination['platform']) => Publisher | undefined;
  render: AlertRenderers;
  /** The picture on a group's root (alert graphs); resolves within a bounded time, undefined when none. */
  graph?: (state: GroupState) => Promise<Reply['image']>;
  /** More new groups than this at once for one destination → one roll-up message instead. */
  rollupThreshold: number;
  log: Logger;
  now?: () => Date;
  /**
   * The coalescing window (see SettleWindow): a destination's first pass after a quiet period
   * runs at once; what arrives within this long of a pass waits for the window's end and is
   * delivered together, since the notifications of a storm arrive over a second or so and
   * should be rolled up together. Default 1 s; 0 turns it off.
   */
  settleMs?: number;
  /** The window's clock (tests); default performance.now and timers. */
  settleClock?: SettleClock;
  /** Per-platform pacing; defaults stay inside Discord's and Matrix's per-channel limits. */
  limits?: Partial<Record<RoutedDestination['platform'], Bottleneck.ConstructorOptions>>;
  /** Each post a chat refused for good (a 4xx that is not a rate limit): a metric. */
  onRefused?: OnRefused;
  /**
   * Keeps a post refused for itself alone (see scopeOf), for a person to look at; resolves with
   * the file it went to, undefined when it could not be written. Without it, the post is only logged.
   */
  deadLetter?: (letter: DeadLetter) => Promise<string | undefined>;
}

/** Longest wait between tries of a destination after a transient failure (429, 5xx, network)… */
const MAX_RETRY_MS = 60_000;
/** …and after a refusal no smaller form got past (no access to the channel or room). */
const MAX_REFUSED_RETRY_MS = 10 * 60_000;

/**
 * Posts and updates alert messages, one worker per destination: new groups get a root (or
 * a roll-up when many arrive at once), changes go to the thread, roots are edited. Pacing
 * per destination stays inside the platform's rate limits (send-to-destination.ts); a
 * destination that fails is retried with backoff without holding up the others. A refusal of one group's message or
 * thread alone (a locked thread, a deleted root; see scopeOf) does not stop its destination:
 * that post goes to the dead letters, or the group is posted again (deliver-group.ts). Pending
 * work is whatever is marked dirty in the store, so updates coalesce and survive restarts.
 */
export class Delivery {
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private readonly backoff = new Map<string, number>();
  /**
   * Destinations waiting out a back-off: new work waits for the retry too. A channel that
   * refuses is not asked again at every notification (Discord bans an IP for a while after
   * 10,000 401/403/429 answers in 10 minutes: its "invalid request limit").
   */
  private readonly retries = new Map<string, NodeJS.Timeout>();
  private readonly refusals: RefusalReport;
  private readonly sender: DestinationSender;
  private readonly rollups: RollupDelivery;
  private readonly single: GroupDelivery;
  private readonly window: SettleWindow;
  private readonly stopping = new AbortController();
  private stopped = false;
  private readonly now: () => Date;

  constructor(private readonly opts: DeliveryOptions) {
    this.now = opts.now ?? (() => new Date());
    this.refusals = new RefusalReport(opts.log, opts.onRefused);
    this.sender = new DestinationSender({ ...opts, refusals: this.refusals });
    this.window = new SettleWindow(opts.settleMs ?? 1000, opts.settleClock ?? realClock);
    setMaxListeners(0, this.stopping.signal); // one waiting pass per destination
    const context: GroupContext = {
      store: opts.store,
      render: opts.render,
      graph: opts.graph,
      now: this.now,
      sendForms: (dest, what, full, smaller, op) =>
        this.sender.sendForms(dest, what, full, smaller, op),
      current: (g) => this.current(g),
      dropPost: (dest, groupKey, refused, post) =>
        this.sender.dropPost(dest, groupKey, refused, post),
      reposted: (destKey, refused) => this.refusals.reposted(destKey, refused),
    };
    this.rollups = new RollupDelivery(context);
    this.single = new GroupDelivery(context);
  }

  /** Starts (or re-runs) the worker of every destination with pending work. */
  kickAll(): void {
    const keys = new Set<string>();
    for (const g of this.opts.store.groups())
      for (const [k, v] of Object.entries(g.views)) if (v.dirty) keys.add(k);
    for (const r of this.opts.store.rollups()) if (r.dirty) keys.add(destinationKey(r.dest));
    for (const k of keys) this.kick(k);
  }

  kick(destKey: string): void {
    if (this.stopped || this.retries.has(destKey)) return; // its retry finds the new work
    if (this.running.has(destKey)) {
      this.again.add(destKey);
      return;
    }
    const run = this.run(destKey).finally(() => {
      this.running.delete(destKey);
      if (this.again.delete(destKey)) this.kick(destKey);
    });
    this.running.set(destKey, run);
  }

  /** Resolves when no worker is running (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()]);
  }

  /**
   * Stops quickly: sends waiting for their turn are dropped (their groups stay dirty in the
   * store and are delivered after the next start), the one in flight finishes.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort(); // a pass waiting for its window's end
    for (const t of this.retries.values()) clearTimeout(t);
    await this.sender.stop();
    await this.idle();
  }

  private async run(destKey: string): Promise<void> {
    const { store } = this.opts;
    if (!this.hasWork(destKey)) return; // e.g. kicked again for what the last pass delivered
    // Leading edge: after a quiet period one round at once (a lone notification is posted
    // without waiting); within the window, wait for its end and deliver what came together.
    // A retry after a failure goes at once and finishes what it finds.
    const retry = this.backoff.has(destKey);
    const wait = retry ? 0 : this.window.remaining(destKey);
    if (wait > 0) await this.window.sleep(wait, this.stopping.signal);
    const leading = this.window.enabled && !retry && wait === 0;
    this.window.begin(destKey, leading);
    let alone = leading ? [] : this.window.takeAlone(destKey);
    try {
      for (let round = 0; ; round++) {
        if (this.stopped) return;
        const groups = store
          .groups()
          .filter((g) => g.views[destKey]?.dirty)
          .sort((a, b) => a.state.firingSince.localeCompare(b.state.firingSince));
        const rollups = store
          .rollups()
          .filter((r) => r.dirty && destinationKey(r.dest) === destKey);
        if (groups.length === 0 && rollups.length === 0) break;
        if (leading && round > 0) {
          this.again.add(destKey); // the rest at the window's end
          break;
        }
        for (const r of rollups.filter((x) => x.detailsPending)) await this.rollups.postDetails(r);
        // A notification applied while a post is in flight replaces its group's object: each
        // step takes the group as it is now, or that notification's change would be lost.
        const fresh = groups.map((g) => this.current(g)).filter((g) => !g.views[destKey]!.ref);
        // A storm's first group may have been posted alone by the leading pass: it counts
        // towards the storm, and its root becomes the roll-up.
        const storm = fresh.length + (fresh.length > 1 ? alone.length : 0);
        if (storm > this.opts.rollupThreshold)
          await this.rollups.post(destKey, fresh, this.absorbable(alone, destKey));
        else if (leading)
          this.window.postedAlone(
            destKey,
            fresh.map((g) => g.state.groupKey),
          );
        alone = [];
        const [inRollups, own] = partition(groups, (g) => Boolean(g.views[destKey]!.rollupId));
        // Graphs are drawn side by side, not one root after another (each is bounded).
        for (const g of own) void this.opts.graph?.(g.state);
        for (const listed of own) {
          if (this.stopped) return;
          const g = this.current(listed);
          if (g.views[destKey]!.dirty) await this.single.deliver(g, destKey);
        }
        await this.rollups.deliverChanges(destKey, inRollups);
        for (const r of store
          .rollups()
          .filter((x) => x.dirty && destinationKey(x.dest) === destKey))
          await this.rollups.edit(r);
      }
      this.backoff.delete(destKey);
      this.refusals.delivered(destKey);
    } catch (err) {
      if (this.stopped) return; // dropped by stop(): delivered after the next start
      const refused = err instanceof DeliveryRefused ? err : undefined;
      const max = refused ? MAX_REFUSED_RETRY_MS : MAX_RETRY_MS;
      const wait = Math.min(max, (this.backoff.get(destKey) ?? 1000) * 2);
      this.backoff.set(destKey, wait);
      if (refused) this.refusals.refused(destKey, refused, wait);
      else
        this.opts.log.warn(
          { err, destination: destKey, retryInMs: wait },
          'alert delivery failed; will retry',
        );
      const t = setTimeout(() => {
        this.retries.delete(destKey);
        this.kick(destKey);
      }, wait);
      t.unref();
      this.retries.set(destKey, t);
    }
  }

  /** The one group posted alone just before a storm, when its root can become the roll-up. */
  private absorbable(alone: string[], destKey: string): StoredGroup | undefined {
    if (alone.length !== 1) return undefined;
    const g = this.opts.store.group(alone[0]!);
    const view = g?.views[destKey];
    return view?.ref && !view.rollupId ? g : undefined;
  }

  private hasWork(destKey: string): boolean {
    const { store } = this.opts;
    return (
      store.groups().some((g) => g.views[destKey]?.dirty) ||
      store.rollups().some((r) => r.dirty && destinationKey(r.dest) === destKey)
    );
  }

  /** The group as the store holds it now (see run). */
  private current(g: StoredGroup): StoredGroup {
    return this.opts.store.group(g.state.groupKey) ?? g;
  }
}

function partition<T>(items: T[], pred: (t: T) => boolean): [T[], T[]] {
  return [items.filter(pred), items.filter((t) => !pred(t))];
}
