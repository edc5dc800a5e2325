import path from 'node:path';
import type { Publisher } from '../chat/publisher.js';
import { UserError } from '../core/errors.js';
import type { ChatUser } from '../core/invocation.js';
import { userLabel } from '../core/invocation.js';
import type { Logger } from '../core/logger.js';
import type { Reply } from '../core/reply.js';
import { AlertStore, type DestinationView, type StoredGroup } from './alert-store.js';
import { type AlertmanagerClient, groupMatchers } from './alertmanager-client.js';
import { Delivery, type DeliveryOptions } from './delivery.js';
import { type AlertGraphs, NoGraphError } from './graph/alert-graphs.js';
import { applyNotification, isEmptyChange } from './group-state.js';
import { NotificationIntake } from './intake.js';
import { emptyRecord, own } from './records.js';
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
  /** Graphs from Prometheus for roots and /alert graph (alerts.prometheus). */
  graphs?: AlertGraphs;
  log: Logger;
  now?: () => Date;
  limits?: DeliveryOptions['limits'];
  /** The coalescing window before delivery (DeliveryOptions.settleMs) and its clock (tests). */
  settleMs?: number;
  settleClock?: DeliveryOptions['settleClock'];
  /** Accepted but not yet applied notifications allowed; more are refused (BacklogFullError). */
  maxBacklog?: number;
  /** Called for each notification or alert post moved to the dead-letter file (a metric). */
  onDeadLetter?: () => void;
  /** Called for each post a chat refused for good (a metric; see DeliveryOptions.onRefused). */
  onDeliveryRefused?: DeliveryOptions['onRefused'];
}

export { BacklogFullError } from './intake.js';

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
 * delivering to chat happen after, in order, and resume after a restart: what a previous run
 * left in the outbox is applied before anything accepted since. A notification that changes
 * nothing (Alertmanager's retries and repeats) posts nothing; one identical to the last one
 * accepted for its group is not even stored. One that cannot be applied goes to
 * `alerts/dead-letter.jsonl` (logged, counted) and holds up nothing — as does a post a chat
 * refuses for itself alone (a locked thread; see Delivery).
 */
export class AlertService {
  private readonly intake: NotificationIntake;
  readonly store: AlertStore;
  readonly delivery: Delivery;
  /** Delivery waits for start(): the chat adapters must be connected first. */
  private started = false;
  private readonly now: () => Date;
  private readonly log: Logger;

  constructor(private readonly opts: AlertServiceOptions) {
    const dir = path.join(opts.stateDir, 'alerts');
    this.log = opts.log.child({ component: 'alerts' });
    this.store = new AlertStore(dir, this.log);
    this.intake = new NotificationIntake({
      dir,
      apply: (payload) => this.apply(payload),
      log: this.log,
      maxBacklog: opts.maxBacklog,
      onDeadLetter: opts.onDeadLetter,
    });
    this.now = opts.now ?? (() => new Date());
    this.delivery = new Delivery({
      store: this.store,
      publisher: opts.publisher,
      render: { root: renderRoot, change: renderChange, rollup: renderRollup },
      graph: opts.graphs ? (state) => opts.graphs!.forGroup(state) : undefined,
      rollupThreshold: opts.rollupThreshold,
      log: this.log,
      now: this.now,
      limits: opts.limits,
      settleMs: opts.settleMs,
      settleClock: opts.settleClock,
      onRefused: opts.onDeliveryRefused,
      deadLetter: async (letter) => {
        await this.intake.deadLetters.add(letter);
        opts.onDeadLetter?.();
        return this.intake.deadLetters.file;
      },
    });
  }

  /**
   * Applies the notifications a previous run left in the outbox (once; before any accepted
   * since, which wait for it), after writing what the store has to migrate. Never throws.
   */
  recover(): Promise<void> {
    return this.intake.recover(() =>
      this.store.save().catch((err) => this.log.error({ err }, 'alert state not written')),
    );
  }

  /**
   * Applies what a previous run left in the outbox and what was accepted before the start,
   * then resumes delivery: its first pass sees them all (a storm is one roll-up).
   */
  async start(): Promise<void> {
    await this.recover();
    await this.intake.idle();
    this.started = true;
    this.delivery.kickAll();
  }

  async stop(): Promise<void> {
    await this.intake.idle();
    await this.delivery.stop();
  }

  /**
   * Durably accepts a notification; resolves once it is on disk, or at once when it is
   * identical to the last one accepted for its group. `body` is the request body's digest.
   */
  accept(payload: WebhookPayload, body?: string): Promise<'accepted' | 'repeat'> {
    return this.intake.accept(payload, body);
  }

  /** A request body identical to the last notification accepted for its group (see RepeatFilter). */
  isRepeatBody(body: string): boolean {
    return this.intake.isRepeatBody(body);
  }

  /** Notifications accepted and not applied yet. */
  waiting(): number {
    return this.intake.waiting();
  }

  /** `waiting()` when no more are taken (maxBacklog reached), else undefined. */
  backlogFull(): number | undefined {
    return this.intake.backlogFull();
  }

  /** The file notifications that could not be applied are moved to. */
  get deadLetterFile(): string {
    return this.intake.deadLetters.file;
  }

  /** Waits until everything accepted so far is applied and delivered (tests, benchmarks). */
  async settled(): Promise<void> {
    await this.intake.idle();
    await this.delivery.idle();
  }

  /** One notification → the group's state, its destinations, the store. Throws if not written. */
  private async apply(payload: WebhookPayload): Promise<void> {
    const previous = this.store.group(payload.groupKey);
    const ref = previous?.state.ref ?? this.store.newRef();
    const { next, change } = applyNotification(previous?.state, payload, this.now(), ref);
    const views = Object.assign(emptyRecord<DestinationView>(), previous?.views);
    let newDestinations = false;
    for (const dest of route(this.opts.routes, next)) {
      const key = destinationKey(dest);
      const view = own(views, key);
      if (!view) {
        views[key] = newView(dest);
        newDestinations = true;
      } else view.dest = dest;
      if (!isEmptyChange(change)) views[key]!.dirty = true;
    }
    if (previous && isEmptyChange(change) && !newDestinations) {
      // A retry or repeat: nothing to show, nothing worth a write.
      previous.state = next;
      return;
    }
    const group: StoredGroup = { state: next, views, updatedAt: this.now().toISOString() };
    this.store.setGroup(group);
    try {
      await this.store.save(group);
    } catch (err) {
      // Not applied: neither shown nor written again later.
      this.store.revert(group.state.groupKey, previous);
      throw err;
    }
    this.store.prune(this.now());
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
    await this.store.save(g);
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

  /** `/alert graph`: the group's expression over `rangeSeconds` (default alerts.prometheus.range). */
  async graph(ref: string, rangeSeconds?: number): Promise<Reply> {
    const graphs = this.opts.graphs;
    if (!graphs)
      throw new UserError(
        'Graphs are not configured.',
        'Set alerts.prometheus.url so the bot can query Prometheus for the alerts’ expressions.',
      );
    const g = this.group(ref);
    try {
      const image = await graphs.draw(g.state, rangeSeconds);
      const name = g.state.groupLabels.alertname ?? g.state.commonLabels.alertname ?? 'alerts';
      return {
        title: `${g.state.ref} ${name}`,
        text: image.alt,
        severity: g.state.status === 'firing' ? 'warning' : 'success',
        image,
      };
    } catch (err) {
      if (err instanceof NoGraphError) throw new UserError(err.message);
      throw new UserError(
        `No graph for ${g.state.ref}: Prometheus did not answer.`,
        (err as Error).message,
      );
    }
  }

  async activeAlerts() {
    return this.am().alerts({ active: true, silenced: true, inhibited: true });
  }
}
