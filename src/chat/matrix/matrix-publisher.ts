import type { Reply } from '../../core/reply.js';
import type { MessageRef, Publisher } from '../publisher.js';
import { type MatrixSender, sendWithRetry } from './matrix-responder.js';
import { renderMatrix } from './render.js';

/** Alert roots as notices, edits as `m.replace`, updates in an `m.thread` under the root. */
export class MatrixPublisher implements Publisher {
  readonly platform = 'matrix';
  /** Last event in each thread, for the reply fallback of older clients. */
  private readonly lastInThread = new Map<string, string>();

  constructor(
    private readonly client: MatrixSender,
    private readonly prefix: string,
  ) {}

  async post(target: string, reply: Reply): Promise<MessageRef> {
    const eventId = await sendWithRetry(this.client, target, 'm.room.message', {
      ...renderMatrix(reply, { prefix: this.prefix }),
    });
    return { platform: 'matrix', target, messageId: eventId };
  }

  async edit(ref: MessageRef, reply: Reply): Promise<void> {
    const content = renderMatrix(reply, { prefix: this.prefix });
    await sendWithRetry(this.client, ref.target, 'm.room.message', {
      ...content,
      body: `* ${content.body}`,
      formatted_body: `* ${content.formatted_body}`,
      'm.new_content': content,
      'm.relates_to': { rel_type: 'm.replace', event_id: ref.messageId },
    });
  }

  async reply(ref: MessageRef, reply: Reply): Promise<MessageRef> {
    const previous = this.lastInThread.get(ref.messageId) ?? ref.messageId;
    const eventId = await sendWithRetry(this.client, ref.target, 'm.room.message', {
      ...renderMatrix(reply, { prefix: this.prefix }),
      'm.relates_to': {
        rel_type: 'm.thread',
        event_id: ref.messageId,
        is_falling_back: true,
        'm.in_reply_to': { event_id: previous },
      },
    });
    this.lastInThread.set(ref.messageId, eventId);
    return { ...ref, threadId: ref.messageId };
  }
}
