import path from 'node:path';
import type { Publisher } from '../chat/publisher.js';
import { UserError } from '../core/errors.js';
import type { ChatUser } from '../core/invocation.js';
import { userLabel } from '../core/invocation.js';
import type { Logger } from '../core/logger.js';
import { AlertStore, type DestinationView, type StoredGroup } from './alert-store.js';
import { type AlertmanagerClient, groupMatchers } from './alertmanager-client.js';
import { Delivery, type DeliveryOptions } from './delivery.js';
import { applyNotification, isEmptyChange } from './group-state.js';
import { Outbox } from './outbox.js';
import { renderChange, renderRollup, renderRoot } from './render.js';
import { type AlertRoutesConfig, route } from './router.js';
import {
  destinationKey,
  type GroupState,
  type RoutedDestination,
  type WebhookPayload,
} from './types.js';

export interface AlertServiceOptions {
  stateDir: string;
  routes: AlertRoutesConfig;
  rollupThreshold: number;
  publisher: (platform: RoutedDestination['platform']) => Publisher | undefined;
  alertmanager?: AlertmanagerClient;
  log: Logger;
  now?: () => Date;
  limits?: DeliveryOptions['limits'];
  settleMs?: number;
  /** Accepted but not yet applied notifications allowed; more are refused (BacklogFullError). */
  maxBacklog?: number;
}

/** Too many notifications wait to be applied: the webhook answers 503 + Retry-After. */
export class BacklogFullError extends Error {
  constructor(readonly waiting: number) {
    super(`${waiting} notifications are waiting to be applied`);
  }
}

const newView = (dest: RoutedDestination): DestinationView => ({
  dest,
  shown: {},
  shownRefires: 0,
  notes: [],
  dirty: true,
});

/**
 * Alertmanager notifications in, alert threads out. `accept` stores a notification durably
 * (the webhook answers 2xx only after it returns); applying it to the group's state and
 * delivering to chat happen after, in order, and resume after a restart. A notification
 * that changes nothing (Alertmanager's retries and repeats) posts nothing.
 */
export class AlertService {
  private readonly outbox: Outbox<WebhookPayload>;
  readonly store: AlertStore;
  readonly delivery: Delivery;
  private queue: Promise<void> = Promise.resolve();
  /** Accepted (or being stored) and not applied yet. */
  private backlog = 0;
  /** Delivery waits for start(): the chat adapters must be connected first. */
  private started = false;
  private readonly now: () => Date;
  private readonly log: Logger;

  constructor(private readonly opts: AlertServiceOptions) {
    const dir = path.join(opts.stateDir, 'alerts');
    this.outbox = new Outbox(path.join(dir, 'outbox'));
    this.store = new AlertStore(path.join(dir, 'groups.json'));
    this.now = opts.now ?? (() => new Date());
    this.log = opts.log.child({ component: 'alerts' });
    this.delivery = new Delivery({
      store: this.store,
      publisher: opts.publisher,
      render: { root: renderRoot, change: renderChange, rollup: renderRollup },
      rollupThreshold: opts.rollupThreshold,
      log: this.log,
      now: this.now,
      limits: opts.limits,
      settleMs: opts.settleMs,
    });
  }

  /** Applies notifications left in the outbox by a previous run, then resumes delivery. */
  async start(): Promise<void> {
    const pending = await this.outbox.pending((id, err) =>
      this.log.error({ err, id }, 'unreadable outbox entry skipped'),
    );
    for (const entry of pending) await this.serialized(() => this.apply(entry.id, entry.value));
    this.started = true;
    this.delivery.kickAll();
  }

  async stop(): Promise<void> {
    await this.queue;
    await this.delivery.stop();
  }

  /** Durably accepts a notification; resolves once it is on disk. */
  async accept(payload: WebhookPayload): Promise<void> {
    if (this.backlogFull() !== undefined) throw new BacklogFullError(this.backlog);
    this.backlog++;
    let id: string;
    try {
      id = await this.outbox.put(payload);
    } catch (err) {
      this.backlog--;
      throw err;
    }
    void this.serialized(() => this.apply(id, payload))
      .catch((err) =>
        this.log.error(
          { err, id },
          'applying an alert notification failed; it stays in the outbox',
        ),
      )
      .finally(() => {
        this.backlog--;
      });
  }

  /** Notifications accepted and not applied yet. */
  waiting(): number {
    return this.backlog;
  }

  /** `waiting()` when no more are taken (maxBacklog reached), else undefined. */
  backlogFull(): number | undefined {
    return this.backlog >= (this.opts.maxBacklog ?? Number.POSITIVE_INFINITY)
      ? this.backlog
      : undefined;
  }

  /** Waits until everything accepted so far is applied and delivered (tests, benchmarks). */
  async settled(): Promise<void> {
    await this.queue;
    await this.delivery.idle();
  }

  private serialized(fn: () => Promise<void>): Promise<void> {
    const next = this.queue.then(fn);
    this.queue = next.catch(() => {});
    return next;
  }

  private async apply(id: string, payload: WebhookPayload): Promise<void> {
    const previous = this.store.group(payload.groupKey);
    const ref = previous?.state.ref ?? this.store.newRef();
    const { next, change } = applyNotification(previous?.state, payload, this.now(), ref);
    const views = previous?.views ?? {};
    let newDestinations = false;
    for (const dest of route(this.opts.routes, next)) {
      const key = destinationKey(dest);
      if (!views[key]) {
        views[key] = newView(dest);
        newDestinations = true;
      } else views[key].dest = dest;
      if (!isEmptyChange(change)) views[key].dirty = true;
    }
    if (previous && isEmptyChange(change) && !newDestinations) {
      // A retry or repeat: nothing to show, nothing worth an fsync of the whole store.
      previous.state = next;
      await this.outbox.remove(id);
      return;
    }
    this.store.setGroup({ state: next, views, updatedAt: this.now().toISOString() });
    this.store.prune(this.now());
    await this.store.save();
    await this.outbox.remove(id);
    if (this.started)
      for (const [key, view] of Object.entries(views)) if (view.dirty) this.delivery.kick(key);
  }

  group(ref: string): StoredGroup {
    const g = this.store.byRef(ref);
    if (g) return g;
    const known = this.store
      .groups()
      .filter((x) => x.state.status === 'firing')
      .map((x) => x.state.ref);
    throw new UserError(
      `There is no alert group ${ref}.`,
      known.length ? `Firing now: ${known.join(', ')}` : 'Nothing is firing now.',
    );
  }

  private am(): AlertmanagerClient {
    if (!this.opts.alertmanager) {
      throw new UserError(
        'Alertmanager is not configured.',
        'Set alerts.alertmanager.url so the bot can create silences and list alerts.',
      );
    }
    return this.opts.alertmanager;
  }

  /** Tells every destination of the group (thread note, root edit). */
  private async note(g: StoredGroup, text: string): Promise<void> {
    for (const view of Object.values(g.views)) {
      view.notes.push(text);
      view.dirty = true;
    }
    await this.store.save();
    if (this.started) for (const key of Object.keys(g.views)) this.delivery.kick(key);
  }

  async silence(
    ref: string,
    durationMs: number,
    comment: string,
    user: ChatUser,
  ): Promise<{ state: GroupState; silenceId: string }> {
    const g = this.group(ref);
    if (g.state.status === 'resolved')
      throw new UserError(`${g.state.ref} is resolved; there is nothing to silence.`);
    const endsAt = new Date(this.now().getTime() + durationMs);
    const createdBy = userLabel(user);
    const silenceId = await this.am().createSilence({
      matchers: groupMatchers(g.state.groupLabels, g.state.commonLabels, g.state.truncatedAlerts),
      endsAt,
      createdBy,
      comment: comment || `Silenced from chat by ${createdBy}`,
    });
    g.state.silence = { id: silenceId, createdBy, comment, endsAt: endsAt.toISOString() };
    await this.note(
      g,
      `🔕 Silenced until ${endsAt.toISOString().slice(0, 16).replace('T', ' ')} UTC by ${user.displayName}${comment ? `: ${comment}` : ''} (silence ${silenceId})`,
    );
    return { state: g.state, silenceId };
  }

  async unsilence(ref: string, user: ChatUser): Promise<GroupState> {
    const g = this.group(ref);
    if (!g.state.silence) throw new UserError(`${g.state.ref} is not silenced from chat.`);
    await this.am().expireSilence(g.state.silence.id);
    const id = g.state.silence.id;
    g.state.silence = undefined;
    await this.note(g, `🔔 Silence ${id} expired by ${user.displayName}`);
    return g.state;
  }

  async ack(ref: string, user: ChatUser): Promise<GroupState> {
    const g = this.group(ref);
    g.state.ack = { by: userLabel(user), at: this.now().toISOString() };
    await this.note(g, `👀 Acknowledged by ${user.displayName}`);
    return g.state;
  }

  async activeAlerts() {
    return this.am().alerts({ active: true, silenced: true, inhibited: true });
  }
}
