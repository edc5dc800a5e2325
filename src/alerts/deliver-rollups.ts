import type { MessageRef, Publisher } from '../chat/publisher.js';
import type { Reply } from '../core/reply.js';
import type { AlertStore, Rollup, StoredGroup } from './alert-store.js';
import type { AlertRenderers } from './delivery.js';
import { DeliveryRefused } from './delivery-failure.js';
import { markShown, pendingChange, replyKey, rollupDetails } from './delivery-view.js';
import {
  compactRollupDetails,
  oneLine,
  rollupLine,
  someLines,
  withoutDetail,
} from './render-smaller.js';
import { type Sent, type SmallerForm, unlessOnlyThis } from './send-smaller.js';
import { destinationKey, type GroupState, type RoutedDestination } from './types.js';

/** What roll-up delivery needs from the destination's worker (delivery.ts). */
export interface RollupContext {
  store: AlertStore;
  render: AlertRenderers;
  now: () => Date;
  /** Sends a post, or a smaller form of it when the chat refuses it for good. */
  sendForms<T>(
    dest: RoutedDestination,
    what: string,
    full: Reply,
    smaller: SmallerForm[],
    op: (p: Publisher, reply: Reply) => Promise<T>,
  ): Promise<Sent<T>>;
  /** The group as the store holds it now. */
  current(g: StoredGroup): StoredGroup;
  /**
   * A post no form of which got past, refused for itself alone (see scopeOf): written to the
   * dead letters, logged, counted; the caller goes on as if it was shown.
   */
  dropPost(
    dest: RoutedDestination,
    groupKey: string | undefined,
    refused: DeliveryRefused,
    post: Reply,
  ): Promise<void>;
}

/**
 * Storm mode: many new groups for one destination become one roll-up message, every alert in
 * its thread; their changes are one thread post per roll-up, and the roll-up is re-rendered.
 * A post the chat refuses for itself alone (a locked thread, a deleted roll-up message) goes to
 * the dead letters and holds up nothing; a roll-up is not posted again.
 */
export class RollupDelivery {
  constructor(private readonly c: RollupContext) {}

  /**
   * Changes of groups listed in a roll-up: one thread post per roll-up for all of them (a storm
   * that recovers at once is one message, not a hundred), then the roll-up is re-rendered.
   */
  async deliverChanges(destKey: string, groups: StoredGroup[]): Promise<void> {
    const byRollup = new Map<string, StoredGroup[]>();
    for (const g of groups) {
      const id = g.views[destKey]!.rollupId!;
      byRollup.set(id, [...(byRollup.get(id) ?? []), g]);
    }
    const now = this.c.now();
    for (const [id, listed] of byRollup) {
      const members = listed.map((g) => this.c.current(g));
      const rollup = this.c.store.rollup(id);
      const lines: string[] = [];
      const snapshots = members.map((g) => {
        const view = g.views[destKey]!;
        view.dirty = false;
        const state = structuredClone(g.state);
        const post = this.c.render.change(state, pendingChange(view, state), now);
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
          const dest = snapshots[0]!.view.dest;
          const full = { title, code: lines.join('\n') };
          const sent = await unlessOnlyThis(
            'message',
            this.c.sendForms(
              dest,
              `roll-up ${id} updates`,
              full,
              [(why) => someLines(title, lines, why), (why) => oneLine(about, why)],
              (p, r) => p.reply(ref, r, 'Alert storm'),
            ),
          );
          if (sent instanceof DeliveryRefused) await this.c.dropPost(dest, undefined, sent, full);
          else {
            for (const s of snapshots) s.view.ref = sent.value;
            if (rollup) rollup.ref = sent.value;
          }
        }
        for (const s of snapshots) markShown(s.view, s.state);
        if (rollup) rollup.dirty = true;
        await this.c.store.save(...members, ...(rollup ? [rollup] : []));
      } catch (err) {
        for (const s of snapshots) {
          s.view.dirty = true;
          s.view.notes.unshift(...s.notes);
        }
        await this.c.store.save(...members);
        throw err;
      }
    }
  }

  /**
   * Many new groups at once: one message listing them, every alert in its thread. The groups
   * count as shown once the thread lists them (postRollupDetails), not before. `into`: the
   * storm's first group, posted alone a moment ago (see SettleWindow) — its root is edited
   * into the roll-up, which lists it too, so a storm stays one message.
   */
  async post(destKey: string, fresh: StoredGroup[], into?: StoredGroup): Promise<void> {
    const members = into ? [into, ...fresh] : fresh;
    const dest = fresh[0]!.views[destKey]!.dest;
    const id = `R-${members[0]!.state.ref}-${members.length}`;
    const states = members.map((g) => structuredClone(g.state));
    const root = this.c.render.rollup(states, this.c.now());
    const full = { ...root, mentions: mergeMentions(members, destKey) };
    const intoRef = into?.views[destKey]?.ref;
    const sent = await unlessOnlyThis(
      intoRef ? 'message' : 'channel',
      this.c.sendForms(dest, `roll-up ${id}`, full, rollupForms(full, states), async (p, r) => {
        if (!intoRef) return p.post(dest.target, r);
        await p.edit(intoRef, r);
        return intoRef;
      }),
    );
    if (sent instanceof DeliveryRefused) {
      // Not shown: its groups wait for their next change (each then posted on its own).
      await this.c.dropPost(dest, undefined, sent, full);
      for (const g of fresh) g.views[destKey]!.dirty = false;
      await this.c.store.save(...fresh);
      return;
    }
    const ref: MessageRef = sent.value;
    const rollup: Rollup = {
      id,
      dest,
      ref,
      groupKeys: members.map((g) => g.state.groupKey),
      rootKey: replyKey(root),
      dirty: false,
      detailsPending: true,
    };
    for (const g of members) {
      const view = g.views[destKey]!;
      view.ref = ref;
      view.rollupId = id;
      // The details below show every alert; notes (ack, silence) still go to the thread.
      view.dirty = view.notes.length > 0;
    }
    this.c.store.setRollup(rollup);
    await this.c.store.save(...members, rollup);
    await this.postDetails(rollup);
  }

  /** A roll-up's thread: every alert of its groups (or less, if refused); then they are shown. */
  async postDetails(r: Rollup): Promise<void> {
    const key = destinationKey(r.dest);
    const members = r.groupKeys
      .map((k) => this.c.store.group(k))
      .filter((g): g is StoredGroup => Boolean(g?.views[key]));
    const states = members.map((g) => structuredClone(g.state));
    try {
      const full = rollupDetails(states);
      const sent = await unlessOnlyThis(
        'message',
        this.c.sendForms(
          r.dest,
          `roll-up ${r.id} details`,
          full,
          [(why) => compactRollupDetails(states, why), (why) => oneLine(rollupLine(states), why)],
          (p, reply) => p.reply(r.ref!, reply, 'Alert storm'),
        ),
      );
      if (sent instanceof DeliveryRefused) await this.c.dropPost(r.dest, undefined, sent, full);
      else r.ref = sent.value;
      r.detailsPending = undefined;
      members.forEach((g, i) => {
        g.views[key]!.ref = r.ref;
        markShown(g.views[key]!, states[i]!);
      });
      await this.c.store.save(...members, r);
    } catch (err) {
      r.dirty = true; // the worker comes back to it
      await this.c.store.save(r);
      throw err;
    }
  }

  async edit(r: Rollup): Promise<void> {
    r.dirty = false;
    const states = r.groupKeys
      .map((k) => this.c.store.group(k)?.state)
      .filter((s): s is GroupState => Boolean(s));
    const root = this.c.render.rollup(states, this.c.now());
    const key = replyKey(root);
    if (key === r.rootKey || !r.ref) {
      await this.c.store.save(r);
      return;
    }
    try {
      const edited = await unlessOnlyThis(
        'message',
        this.c.sendForms(r.dest, `roll-up ${r.id}`, root, rollupForms(root, states), (p, reply) =>
          p.edit(r.ref!, reply),
        ),
      );
      // Refused for itself alone: not remembered as shown, the next change edits it again.
      if (edited instanceof DeliveryRefused) await this.c.dropPost(r.dest, undefined, edited, root);
      else r.rootKey = key;
      await this.c.store.save(r);
    } catch (err) {
      r.dirty = true;
      throw err;
    }
  }
}

/** A roll-up without its list of groups, then as one line. */
function rollupForms(root: Reply, states: GroupState[]): SmallerForm[] {
  return [
    (why) => withoutDetail(root, why),
    (why) => oneLine(`Alert storm: ${rollupLine(states)}`, why, root.severity),
  ];
}

function mergeMentions(groups: StoredGroup[], destKey: string): string[] | undefined {
  const all = [...new Set(groups.flatMap((g) => g.views[destKey]?.dest.mentions ?? []))];
  return all.length ? all : undefined;
}
