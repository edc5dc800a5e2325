import type { Publisher } from '../chat/publisher.js';
import type { Reply } from '../core/reply.js';
import type { DestinationView, Rollup, StoredGroup } from './alert-store.js';
import type { RollupContext } from './deliver-rollups.js';
import { DeliveryRefused, describeRefusal, scopeOf } from './delivery-failure.js';
import { markShown, pendingChange, replyKey } from './delivery-view.js';
import { changeLine, groupLine, oneLine, withoutDetail } from './render-smaller.js';
import { type SmallerForm, unlessOnlyThis } from './send-smaller.js';
import { destinationKey, type GroupState } from './types.js';

/** What one group's delivery needs from the destination's worker (delivery.ts). */
export interface GroupContext extends RollupContext {
  /** The picture on a group's root (alert graphs), undefined when none. */
  graph?: (state: GroupState) => Promise<Reply['image']>;
  /** A group whose root message was deleted is posted again: logged and counted. */
  reposted(destKey: string, refused: DeliveryRefused): void;
}

/**
 * One group at one destination: its root when it has none, the change in its thread, notes
 * (ack, silence), and the root edited to show the group as it is.
 *
 * A refusal that concerns only this group's message or thread (see scopeOf) holds up nothing
 * else: the post is dropped to the dead letters and the rest goes on (a locked thread still has
 * its root edited). When the root message itself was deleted, a firing group is posted again as
 * a new root with a new thread — people still need to see it — and a resolved one is left as is.
 */
export class GroupDelivery {
  constructor(private readonly c: GroupContext) {}

  async deliver(g: StoredGroup, destKey: string): Promise<void> {
    const view = g.views[destKey]!;
    const state = structuredClone(g.state);
    const now = this.c.now();
    view.dirty = false; // a notification arriving meanwhile sets it again
    const touched: Rollup[] = [];
    try {
      if (!view.ref) {
        await this.postRoot(g, view, state, now);
        return;
      }
      const change = pendingChange(view, state);
      const post = this.c.render.change(state, change, now);
      const thread = `${state.ref} ${state.groupLabels.alertname ?? state.commonLabels.alertname ?? 'alerts'}`;
      if (post) {
        const full = prefixed(post, view, state.ref);
        const line = changeLine(state, change);
        const sent = await this.underRoot(
          view,
          `${state.ref} update`,
          full,
          [(why) => oneLine(line, why, full.severity)],
          (p, r) => p.reply(view.ref!, r, thread),
        );
        if (sent instanceof DeliveryRefused) {
          if (await this.reposted(g, view, state, now, sent)) return;
          await this.c.dropPost(view.dest, state.groupKey, sent, full);
        } else view.ref = sent;
      }
      markShown(view, state);
      // One at a time, dropped once posted: a failure leaves the rest for the next try.
      while (view.notes.length > 0) {
        const text = view.rollupId ? `${state.ref}: ${view.notes[0]}` : view.notes[0]!;
        const sent = await this.underRoot(
          view,
          `${state.ref} note`,
          { text },
          [(why) => oneLine(text.slice(0, 200), why)],
          (p, r) => p.reply(view.ref!, r, thread),
        );
        if (sent instanceof DeliveryRefused) {
          if (await this.reposted(g, view, state, now, sent)) return;
          await this.c.dropPost(view.dest, state.groupKey, sent, { text });
        } else view.ref = sent;
        view.notes.shift();
      }
      if (view.rollupId) {
        const r = this.c.store.rollup(view.rollupId);
        if (r) {
          r.dirty = true;
          touched.push(r);
        }
      } else {
        const root = this.c.render.root(state, {
          now,
          showButtons: view.dest.platform === 'discord',
        });
        const key = replyKey(root);
        if (key !== view.rootKey) {
          // Drawn again once the group resolved; otherwise the picture it has (Discord needs it in every edit).
          const image = await this.c.graph?.(state);
          const full = image ? { ...root, image } : root;
          const edited = await this.underRoot(
            view,
            `${state.ref} root`,
            full,
            rootForms(state, root),
            async (p, r) => {
              await p.edit(view.ref!, r);
              return view.ref!;
            },
          );
          if (edited instanceof DeliveryRefused) {
            if (await this.reposted(g, view, state, now, edited)) return;
            // Not remembered as shown: the next change edits it again.
            await this.c.dropPost(view.dest, state.groupKey, edited, full);
          } else view.rootKey = key;
        }
      }
      view.lastError = undefined;
      await this.c.store.save(g, ...touched);
    } catch (err) {
      view.dirty = true;
      view.lastError = (err as Error).message;
      await this.c.store.save(g);
      throw err;
    }
  }

  /** The group's root, as it is now; its pending notes follow in the new thread. */
  private async postRoot(
    g: StoredGroup,
    view: DestinationView,
    state: GroupState,
    now: Date,
    opts: { mentions: boolean } = { mentions: true },
  ): Promise<void> {
    const root = this.c.render.root(state, {
      now,
      mentions: opts.mentions ? view.dest.mentions : undefined,
      showButtons: view.dest.platform === 'discord',
    });
    const image = await this.c.graph?.(state);
    const full = image ? { ...root, image } : root;
    const sent = await unlessOnlyThis(
      'channel',
      this.c.sendForms(view.dest, `${state.ref} root`, full, rootForms(state, root), (p, r) =>
        p.post(view.dest.target, r),
      ),
    );
    if (sent instanceof DeliveryRefused) {
      // No form of it is taken, though the channel takes posts: the next change tries again.
      await this.c.dropPost(view.dest, state.groupKey, sent, full);
      await this.c.store.save(g);
      return;
    }
    view.ref = sent.value;
    view.rootKey = replyKey({ ...root, mentions: undefined });
    // A smaller root lacks the alerts: not shown yet, they follow in its thread.
    if (sent.refusal) view.dirty = true;
    else markShown(view, state);
    if (view.notes.length > 0) view.dirty = true;
    await this.c.store.save(g);
  }

  /** An edit of the group's root or a post in its thread; a refusal of it alone comes back. */
  private async underRoot(
    view: DestinationView,
    what: string,
    full: Reply,
    smaller: SmallerForm[],
    op: (p: Publisher, reply: Reply) => Promise<NonNullable<DestinationView['ref']>>,
  ): Promise<NonNullable<DestinationView['ref']> | DeliveryRefused> {
    const sent = await unlessOnlyThis(
      'message',
      this.c.sendForms(view.dest, what, full, smaller, op),
    );
    return sent instanceof DeliveryRefused ? sent : sent.value;
  }

  /**
   * When the refusal says the group's root message was deleted and the group is firing, posts it
   * again: a new root showing it as it is now, with a new thread (no mentions: they were notified
   * when it was first posted) whose first post says why. Otherwise (a locked or deleted thread, no
   * permission for threads, a resolved group's deleted root) returns false: the caller drops that
   * post to the dead letters and goes on.
   */
  private async reposted(
    g: StoredGroup,
    view: DestinationView,
    state: GroupState,
    now: Date,
    refused: DeliveryRefused,
  ): Promise<boolean> {
    if (scopeOf(refused.refusal, 'message') !== 'gone' || state.status !== 'firing') return false;
    this.c.reposted(destinationKey(view.dest), refused);
    view.ref = undefined;
    view.rootKey = undefined;
    view.notes.unshift(
      `Posted again: the earlier message of ${state.ref} was deleted (${describeRefusal(refused.refusal)}).`,
    );
    await this.postRoot(g, view, state, now, { mentions: false });
    return true;
  }
}

/** A group's root without its alerts, then as one line. */
export function rootForms(state: GroupState, root: Reply): SmallerForm[] {
  return [
    (why) => withoutDetail(root, why),
    (why) => oneLine(groupLine(state, root.title), why, root.severity),
  ];
}

/** In a roll-up's shared thread, say which group a post is about. */
function prefixed(post: Reply, view: DestinationView, ref: string): Reply {
  if (!view.rollupId || post.title?.includes(ref)) return post;
  return { ...post, title: `${ref}: ${post.title ?? ''}`.trim() };
}
