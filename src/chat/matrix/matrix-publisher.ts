import type { Reply } from '../../core/reply.js';
import type { MessageRef, Publisher } from '../publisher.js';
import { fitsInEvent } from './fit-message.js';
import { renderMatrix } from './render.js';
import {
  editContent,
  imageContent,
  type MatrixPoster,
  movedNotice,
  sendImage,
  sendReply,
} from './send-reply.js';
import { sendWithRetry } from './send-with-retry.js';

/**
 * Alert roots as notices, edits as `m.replace`, updates in an `m.thread` under the root.
 * Nothing is lost to the 64 KiB event limit: a long post is split into parts in the thread,
 * or sent as a file (send-reply.ts); an edit too large points to a reply that carries it.
 * A root's image (an alert graph) is an `m.image` first in its thread; an edit with another
 * image replaces that event's content (`m.replace`), one with the same image leaves it be.
 */
export class MatrixPublisher implements Publisher {
  readonly platform = 'matrix';
  /** Last event in each thread, for the reply fallback of older clients. */
  private readonly lastInThread = new Map<string, string>();
  /** Root → the m.image event showing its picture, and which picture. */
  private readonly images = new Map<string, { eventId: string; key: string }>();

  constructor(
    private readonly client: MatrixPoster,
    private readonly prefix: string,
  ) {}

  private render(reply: Reply) {
    return renderMatrix(reply, { prefix: this.prefix });
  }

  async post(target: string, reply: Reply): Promise<MessageRef> {
    // Parts after the first go into the first one's thread.
    const ids = await sendReply(this.client, target, reply, {
      render: (r) => this.render(r),
      relates: (sent) => (sent[0] ? this.threadRelation(sent[0], sent.at(-1)!) : undefined),
    });
    if (ids.length > 1) this.lastInThread.set(ids[0]!, ids.at(-1)!);
    if (reply.image && ids.length > 1)
      this.images.set(ids[0]!, { eventId: ids.at(-1)!, key: reply.image.key });
    return { platform: 'matrix', target, messageId: ids[0]! };
  }

  async edit(ref: MessageRef, reply: Reply): Promise<void> {
    await this.editText(ref, reply);
    if (reply.image) await this.showImage(ref, reply.image);
  }

  private async showImage(ref: MessageRef, image: NonNullable<Reply['image']>): Promise<void> {
    const root = ref.messageId;
    const shown = this.images.get(root);
    if (shown?.key === image.key) return;
    if (shown) {
      const content = await imageContent(this.client, image);
      await sendWithRetry(this.client, ref.target, 'm.room.message', {
        ...content,
        body: `* ${image.alt}`,
        'm.new_content': content,
        'm.relates_to': { rel_type: 'm.replace', event_id: shown.eventId },
      });
      this.images.set(root, { eventId: shown.eventId, key: image.key });
      return;
    }
    const eventId = await sendImage(
      this.client,
      ref.target,
      image,
      this.threadRelation(root, this.lastInThread.get(root) ?? root),
    );
    this.lastInThread.set(root, eventId);
    this.images.set(root, { eventId, key: image.key });
  }

  private async editText(ref: MessageRef, reply: Reply): Promise<void> {
    const content = editContent(ref.messageId, this.render(reply));
    if (fitsInEvent(content)) {
      await sendWithRetry(this.client, ref.target, 'm.room.message', content);
      return;
    }
    const notice = editContent(ref.messageId, this.render(movedNotice(reply)));
    await sendWithRetry(this.client, ref.target, 'm.room.message', notice);
    await this.reply(ref, { ...reply, image: undefined });
  }

  async reply(ref: MessageRef, reply: Reply, _threadName?: string): Promise<MessageRef> {
    const root = ref.messageId;
    const ids = await sendReply(this.client, ref.target, reply, {
      render: (r) => this.render(r),
      relates: (sent) =>
        this.threadRelation(root, sent.at(-1) ?? this.lastInThread.get(root) ?? root),
    });
    this.lastInThread.set(root, ids.at(-1)!);
    return { ...ref, threadId: root };
  }

  private threadRelation(root: string, previous: string): Record<string, unknown> {
    return {
      rel_type: 'm.thread',
      event_id: root,
      is_falling_back: true,
      'm.in_reply_to': { event_id: previous },
    };
  }
}
