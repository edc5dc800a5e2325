import Bottleneck from 'bottleneck';
import type { Publisher } from '../chat/publisher.js';
import type { Logger } from '../core/logger.js';
import type { Reply } from '../core/reply.js';
import type { AlertStore, DestinationView, Rollup, StoredGroup } from './alert-store.js';
import { DeliveryRefused, type OnRefused, RefusalReport } from './delivery-failure.js';
import { markShown, pendingChange, replyKey, rollupDetails } from './delivery-view.js';
import {
  changeLine,
  compactRollupDetails,
  groupLine,
  oneLine,
  rollupLine,
  someLines,
  withoutDetail,
} from './render-smaller.js';
import { type Sent, type SmallerForm, sendSmaller } from './send-smaller.js';
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
   * How long a destination's worker waits before its first pass: notifications of a storm
   * arrive over a second or so, and should be rolled up together. Default 1 s.
   */
  settleMs?: number;
  /** Per-platform pacing; defaults stay inside Discord's and Matrix's per-channel limits. */
  limits?: Partial<Record<RoutedDestination['platform'], Bottleneck.ConstructorOptions>>;
  /** Each post a chat refused for good (a 4xx that is not a rate limit): a metric. */
  onRefused?: OnRefused;
}

const DEFAULT_LIMITS: Record<RoutedDestination['platform'], Bottleneck.ConstructorOptions> = {
  // Discord allows about 5 messages per 5 s per channel; a little slack for clock skew.
  discord: {
    maxConcurrent: 1,
    reservoir: 5,
    reservoirRefreshAmount: 5,
    reservoirRefreshInterval: 5000,
  },
  matrix: { maxConcurrent: 1, minTime: 200 },
  console: { maxConcurrent: 1 },
};

/** Longest wait between tries of a destination after a transient failure (429, 5xx, network)… */
const MAX_RETRY_MS = 60_000;
/** …and after a refusal no smaller form got past (no access to the channel or room). */
const MAX_REFUSED_RETRY_MS = 10 * 60_000;

/**
 * Posts and updates alert messages, one worker per destination: new groups get a root (or
 * a roll-up when many arrive at once), changes go to the thread, roots are edited. Pacing
 * per destination stays inside the platform's rate limits; a destination that fails is
 * retried with backoff without holding up the others. Pending work is whatever is marked
 * dirty in the store, so updates coalesce and survive restarts.
 */
export class Delivery {
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private readonly limiters = new Map<string, Bottleneck>();
  private readonly backoff = new Map<string, number>();
  private readonly refusals: RefusalReport;
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  private readonly now: () => Date;

  constructor(private readonly opts: DeliveryOptions) {
    this.now = opts.now ?? (() => new Date());
    this.refusals = new RefusalReport(opts.log, opts.onRefused);
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
    if (this.stopped) return;
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
    for (const t of this.timers) clearTimeout(t);
    await Promise.all(
      [...this.limiters.values()].map((l) => l.stop({ dropWaitingJobs: true }).catch(() => {})),
    );
    await this.idle();
  }

  private limiter(dest: RoutedDestination): Bottleneck {
    const key = destinationKey(dest);
    let l = this.limiters.get(key);
    if (!l) {
      l = new Bottleneck({
        ...DEFAULT_LIMITS[dest.platform],
        ...this.opts.limits?.[dest.platform],
      });
      this.limiters.set(key, l);
    }
    return l;
  }

  private async run(destKey: string): Promise<void> {
    const { store } = this.opts;
    const settle = this.opts.settleMs ?? 1000;
    if (settle > 0 && !this.backoff.has(destKey)) await new Promise((r) => setTimeout(r, settle));
    try {
      for (;;) {
        if (this.stopped) return;
        const groups = store
          .groups()
          .filter((g) => g.views[destKey]?.dirty)
          .sort((a, b) => a.state.firingSince.localeCompare(b.state.firingSince));
        const rollups = store
          .rollups()
          .filter((r) => r.dirty && destinationKey(r.dest) === destKey);
        if (groups.length === 0 && rollups.length === 0) break;
        for (const r of rollups.filter((x) => x.detailsPending)) await this.postRollupDetails(r);
        // A notification applied while a post is in flight replaces its group's object: each
        // step takes the group as it is now, or that notification's change would be lost.
        const fresh = groups.map((g) => this.current(g)).filter((g) => !g.views[destKey]!.ref);
        if (fresh.length > this.opts.rollupThreshold) await this.postRollup(destKey, fresh);
        const [inRollups, own] = partition(groups, (g) => Boolean(g.views[destKey]!.rollupId));
        // Graphs are drawn side by side, not one root after another (each is bounded).
        for (const g of own) void this.opts.graph?.(g.state);
        for (const listed of own) {
          if (this.stopped) return;
          const g = this.current(listed);
          if (g.views[destKey]!.dirty) await this.deliverGroup(g, destKey);
        }
        await this.deliverRollupChanges(destKey, inRollups);
        for (const r of store
          .rollups()
          .filter((x) => x.dirty && destinationKey(x.dest) === destKey))
          await this.editRollup(r);
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
        this.timers.delete(t);
        this.kick(destKey);
      }, wait);
      t.unref();
      this.timers.add(t);
    }
  }

  /** The group as the store holds it now (see run). */
  private current(g: StoredGroup): StoredGroup {
    return this.opts.store.group(g.state.groupKey) ?? g;
  }

  private publisher(dest: RoutedDestination): Publisher {
    const p = this.opts.publisher(dest.platform);
    if (!p)
      throw new Error(
        `no ${dest.platform} chat is connected for alert destination ${destinationKey(dest)}`,
      );
    return p;
  }

  private send<T>(dest: RoutedDestination, fn: (p: Publisher) => Promise<T>): Promise<T> {
    const p = this.publisher(dest);
    return this.limiter(dest).schedule(() => fn(p));
  }

  /**
   * Sends `full`, or the first smaller form the chat accepts when it refuses the full one for
   * good (see sendSmaller); a smaller form shown is logged and counted. Throws DeliveryRefused
   * when none got through.
   */
  private async sendForms<T>(
    dest: RoutedDestination,
    what: string,
    full: Reply,
    smaller: SmallerForm[],
    op: (p: Publisher, reply: Reply) => Promise<T>,
  ): Promise<Sent<T>> {
    const sent = await sendSmaller(what, full, smaller, (r) => this.send(dest, (p) => op(p, r)));
    if (sent.refusal) this.refusals.smaller(destinationKey(dest), what, sent.refusal);
    return sent;
  }

  private async deliverGroup(g: StoredGroup, destKey: string): Promise<void> {
    const view = g.views[destKey]!;
    const state = structuredClone(g.state);
    const now = this.now();
    view.dirty = false; // a notification arriving meanwhile sets it again
    const touched: Rollup[] = [];
    try {
      if (!view.ref) {
        const root = this.opts.render.root(state, {
          now,
          mentions: view.dest.mentions,
          showButtons: view.dest.platform === 'discord',
        });
        const image = await this.opts.graph?.(state);
        const sent = await this.sendForms(
          view.dest,
          `${state.ref} root`,
          image ? { ...root, image } : root,
          rootForms(state, root),
          (p, r) => p.post(view.dest.target, r),
        );
        view.ref = sent.value;
        view.rootKey = replyKey({ ...root, mentions: undefined });
        // A smaller root lacks the alerts: not shown yet, they follow in its thread.
        if (sent.refusal) view.dirty = true;
        else markShown(view, state);
        await this.opts.store.save(g);
        return;
      }
      const change = pendingChange(view, state);
      const post = this.opts.render.change(state, change, now);
      const thread = `${state.ref} ${state.groupLabels.alertname ?? state.commonLabels.alertname ?? 'alerts'}`;
      if (post) {
        const full = prefixed(post, view, state.ref);
        const line = changeLine(state, change);
        const sent = await this.sendForms(
          view.dest,
          `${state.ref} update`,
          full,
          [(why) => oneLine(line, why, full.severity)],
          (p, r) => p.reply(view.ref!, r, thread),
        );
        view.ref = sent.value;
      }
      markShown(view, state);
      // One at a time, dropped once posted: a failure leaves the rest for the next try.
      while (view.notes.length > 0) {
        const text = view.rollupId ? `${state.ref}: ${view.notes[0]}` : view.notes[0]!;
        const sent = await this.sendForms(
          view.dest,
          `${state.ref} note`,
          { text },
          [(why) => oneLine(text.slice(0, 200), why)],
          (p, r) => p.reply(view.ref!, r, thread),
        );
        view.ref = sent.value;
        view.notes.shift();
      }
      if (view.rollupId) {
        const r = this.opts.store.rollup(view.rollupId);
        if (r) {
          r.dirty = true;
          touched.push(r);
        }
      } else {
        const root = this.opts.render.root(state, {
          now,
          showButtons: view.dest.platform === 'discord',
        });
        const key = replyKey(root);
        if (key !== view.rootKey) {
          // Drawn again once the group resolved; otherwise the picture it has (Discord needs it in every edit).
          const image = await this.opts.graph?.(state);
          await this.sendForms(
            view.dest,
            `${state.ref} root`,
            image ? { ...root, image } : root,
            rootForms(state, root),
            (p, r) => p.edit(view.ref!, r),
          );
          view.rootKey = key;
        }
      }
      view.lastError = undefined;
      await this.opts.store.save(g, ...touched);
    } catch (err) {
      view.dirty = true;
      view.lastError = (err as Error).message;
      await this.opts.store.save(g);
      throw err;
    }
  }

  /**
   * Changes of groups listed in a roll-up: one thread post per roll-up for all of them (a storm
   * that recovers at once is one message, not a hundred), then the roll-up is re-rendered.
   */
  private async deliverRollupChanges(destKey: string, groups: StoredGroup[]): Promise<void> {
    const byRollup = new Map<string, StoredGroup[]>();
    for (const g of groups) {
      const id = g.views[destKey]!.rollupId!;
      byRollup.set(id, [...(byRollup.get(id) ?? []), g]);
    }
    const now = this.now();
    for (const [id, listed] of byRollup) {
      const members = listed.map((g) => this.current(g));
      const rollup = this.opts.store.rollup(id);
      const lines: string[] = [];
      const snapshots = members.map((g) => {
        const view = g.views[destKey]!;
        view.dirty = false;
        const state = structuredClone(g.state);
        const post = this.opts.render.change(state, pendingChange(view, state), now);
        if (post)
          lines.push(`${state.ref}: ${[post.title, post.text].filter(Boolean).join(' — ')}`);
        for (const note of view.notes) lines.push(`${state.ref}: ${note}`);
        return { view, state, notes: view.notes.splice(0) };
      });
      try {
        const ref = rollup?.ref ?? members[0]!.views[destKey]!.ref!;
        if (lines.length > 0) {
          const title = `${lines.length} update${lines.length === 1 ? '' : 's'}`;
          const about = `${title} of ${rollupLine(snapshots.map((s) => s.state))}`;
          const { value: posted } = await this.sendForms(
            snapshots[0]!.view.dest,
            `roll-up ${id} updates`,
            { title, code: lines.join('\n') },
            [(why) => someLines(title, lines, why), (why) => oneLine(about, why)],
            (p, r) => p.reply(ref, r, 'Alert storm'),
          );
          for (const s of snapshots) s.view.ref = posted;
          if (rollup) rollup.ref = posted;
        }
        for (const s of snapshots) markShown(s.view, s.state);
        if (rollup) rollup.dirty = true;
        await this.opts.store.save(...members, ...(rollup ? [rollup] : []));
      } catch (err) {
        for (const s of snapshots) {
          s.view.dirty = true;
          s.view.notes.unshift(...s.notes);
        }
        await this.opts.store.save(...members);
        throw err;
      }
    }
  }

  /**
   * Many new groups at once: one message listing them, every alert in its thread. The groups
   * count as shown once the thread lists them (postRollupDetails), not before.
   */
  private async postRollup(destKey: string, fresh: StoredGroup[]): Promise<void> {
    const dest = fresh[0]!.views[destKey]!.dest;
    const id = `R-${fresh[0]!.state.ref}-${fresh.length}`;
    const states = fresh.map((g) => structuredClone(g.state));
    const root = this.opts.render.rollup(states, this.now());
    const full = { ...root, mentions: mergeMentions(fresh, destKey) };
    const { value: ref } = await this.sendForms(
      dest,
      `roll-up ${id}`,
      full,
      rollupForms(full, states),
      (p, r) => p.post(dest.target, r),
    );
    const rollup: Rollup = {
      id,
      dest,
      ref,
      groupKeys: fresh.map((g) => g.state.groupKey),
      rootKey: replyKey(root),
      dirty: false,
      detailsPending: true,
    };
    for (const g of fresh) {
      const view = g.views[destKey]!;
      view.ref = ref;
      view.rollupId = id;
      view.dirty = false;
    }
    this.opts.store.setRollup(rollup);
    await this.opts.store.save(...fresh, rollup);
    await this.postRollupDetails(rollup);
  }

  /** A roll-up's thread: every alert of its groups (or less, if refused); then they are shown. */
  private async postRollupDetails(r: Rollup): Promise<void> {
    const key = destinationKey(r.dest);
    const members = r.groupKeys
      .map((k) => this.opts.store.group(k))
      .filter((g): g is StoredGroup => Boolean(g?.views[key]));
    const states = members.map((g) => structuredClone(g.state));
    try {
      const { value: ref } = await this.sendForms(
        r.dest,
        `roll-up ${r.id} details`,
        rollupDetails(states),
        [(why) => compactRollupDetails(states, why), (why) => oneLine(rollupLine(states), why)],
        (p, reply) => p.reply(r.ref!, reply, 'Alert storm'),
      );
      r.ref = ref;
      r.detailsPending = undefined;
      members.forEach((g, i) => {
        g.views[key]!.ref = ref;
        markShown(g.views[key]!, states[i]!);
      });
      await this.opts.store.save(...members, r);
    } catch (err) {
      r.dirty = true; // the worker comes back to it
      await this.opts.store.save(r);
      throw err;
    }
  }

  private async editRollup(r: Rollup): Promise<void> {
    r.dirty = false;
    const states = r.groupKeys
      .map((k) => this.opts.store.group(k)?.state)
      .filter((s): s is GroupState => Boolean(s));
    const root = this.opts.render.rollup(states, this.now());
    const key = replyKey(root);
    if (key === r.rootKey || !r.ref) {
      await this.opts.store.save(r);
      return;
    }
    try {
      await this.sendForms(r.dest, `roll-up ${r.id}`, root, rollupForms(root, states), (p, reply) =>
        p.edit(r.ref!, reply),
      );
      r.rootKey = key;
      await this.opts.store.save(r);
    } catch (err) {
      r.dirty = true;
      throw err;
    }
  }
}

/** A group's root without its alerts, then as one line. */
function rootForms(state: GroupState, root: Reply): SmallerForm[] {
  return [
    (why) => withoutDetail(root, why),
    (why) => oneLine(groupLine(state, root.title), why, root.severity),
  ];
}

/** A roll-up without its list of groups, then as one line. */
function rollupForms(root: Reply, states: GroupState[]): SmallerForm[] {
  return [
    (why) => withoutDetail(root, why),
    (why) => oneLine(`Alert storm: ${rollupLine(states)}`, why, root.severity),
  ];
}

/** In a roll-up's shared thread, say which group a post is about. */
function prefixed(post: Reply, view: DestinationView, ref: string): Reply {
  if (!view.rollupId || post.title?.includes(ref)) return post;
  return { ...post, title: `${ref}: ${post.title ?? ''}`.trim() };
}

function partition<T>(items: T[], pred: (t: T) => boolean): [T[], T[]] {
  return [items.filter(pred), items.filter((t) => !pred(t))];
}

function mergeMentions(groups: StoredGroup[], destKey: string): string[] | undefined {
  const all = [...new Set(groups.flatMap((g) => g.views[destKey]?.dest.mentions ?? []))];
  return all.length ? all : undefined;
}
