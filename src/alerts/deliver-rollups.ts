import type { MessageRef, Publisher } from '../chat/publisher.js';
import type { Reply } from '../core/reply.js';
import type { AlertStore, Rollup, StoredGroup } from './alert-store.js';
import type { AlertRenderers } from './delivery.js';
import { markShown, pendingChange, replyKey, rollupDetails } from './delivery-view.js';
import {
  compactRollupDetails,
  oneLine,
  rollupLine,
  someLines,
  withoutDetail,
} from './render-smaller.js';
import type { Sent, SmallerForm } from './send-smaller.js';
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
}

/**
 * Storm mode: many new groups for one destination become one roll-up message, every alert in
 * its thread; their changes are one thread post per roll-up, and the roll-up is re-rendered.
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
          const { value: posted } = await this.c.sendForms(
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
    let ref: MessageRef;
    if (intoRef) {
      await this.c.sendForms(dest, `roll-up ${id}`, full, rollupForms(full, states), (p, r) =>
        p.edit(intoRef, r),
      );
      ref = intoRef;
    } else {
      const sent = await this.c.sendForms(
        dest,
        `roll-up ${id}`,
        full,
        rollupForms(full, states),
        (p, r) => p.post(dest.target, r),
      );
      ref = sent.value;
    }
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
      const { value: ref } = await this.c.sendForms(
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
      await this.c.sendForms(
        r.dest,
        `roll-up ${r.id}`,
        root,
        rollupForms(root, states),
        (p, reply) => p.edit(r.ref!, reply),
      );
      r.rootKey = key;
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
