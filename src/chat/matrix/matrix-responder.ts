import type { Responder } from '../../core/dispatcher.js';
import type { Logger } from '../../core/logger.js';
import type { Reply } from '../../core/reply.js';
import { LatestOnly } from '../latest-only.js';
import type { MessageRef } from '../publisher.js';
import { fitsInEvent } from './fit-message.js';
import { renderMatrix, renderMatrixStep } from './render.js';
import {
  editContent,
  type MatrixPoster,
  movedNotice,
  type Relates,
  sendImage,
  sendReply,
} from './send-reply.js';
import { sendWithRetry } from './send-with-retry.js';

export { type MatrixSender, rateLimitWaitMs, sendWithRetry } from './send-with-retry.js';

const PROGRESS_EVERY_MS = 1000;

/**
 * One command's answers in a room: a notice replying to the command, edited in place
 * (`m.replace`) for progress and the result, and step logs in a thread (`m.thread`) under
 * that notice — or in the command's own thread when it was typed in one. An answer too large
 * for one Matrix event is split or sent as a file (send-reply.ts); an edit too large shows
 * where the full answer went, and the answer follows as a reply.
 */
export class MatrixResponder implements Responder {
  private chain: Promise<unknown> = Promise.resolve();
  private mainEventId?: string;
  private lastThreadEventId?: string;
  private readonly progressEdits: LatestOnly<Reply>;

  constructor(
    private readonly client: MatrixPoster,
    private readonly roomId: string,
    private readonly commandEventId: string | undefined,
    /** The thread the command was typed in, if any. */
    private readonly commandThreadRoot: string | undefined,
    private readonly log: Logger,
    private readonly opts: {
      prefix: string;
      now?: () => number;
      onProposal?: (eventId: string, code: string) => void;
    },
  ) {
    this.progressEdits = new LatestOnly(
      PROGRESS_EVERY_MS,
      (r) =>
        this.enqueue(async () => {
          await this.show(r);
        }),
      () => this.now(),
    );
  }

  send(reply: Reply): Promise<void> {
    this.progressEdits.cancel();
    return this.enqueue(async () => {
      const eventId = await this.show(reply);
      if (reply.confirm) this.opts.onProposal?.(eventId, reply.confirm.code);
    });
  }

  progress(reply: Reply): Promise<void> {
    return this.progressEdits.push(reply);
  }

  ref(): MessageRef | undefined {
    if (!this.mainEventId) return undefined;
    return {
      platform: 'matrix',
      target: this.roomId,
      messageId: this.mainEventId,
      threadId: this.commandThreadRoot ?? this.mainEventId,
    };
  }

  step(line: string): Promise<void> {
    return this.enqueue(async () => {
      const root =
        this.commandThreadRoot ??
        this.mainEventId ??
        (await this.show({ text: 'Working on it; steps in the thread.' }));
      const content = {
        ...renderMatrixStep(line),
        'm.relates_to': {
          rel_type: 'm.thread',
          event_id: root,
          is_falling_back: true,
          'm.in_reply_to': { event_id: this.lastThreadEventId ?? root },
        },
      };
      this.lastThreadEventId = await sendWithRetry(
        this.client,
        this.roomId,
        'm.room.message',
        content,
      );
    });
  }

  private render(reply: Reply) {
    return renderMatrix(reply, { now: this.now(), prefix: this.opts.prefix });
  }

  /** Posts the main notice, or edits it if it exists. Returns its event id. */
  private async show(reply: Reply): Promise<string> {
    if (this.mainEventId) {
      const edit = editContent(this.mainEventId, this.render(reply));
      if (fitsInEvent(edit)) {
        await sendWithRetry(this.client, this.roomId, 'm.room.message', edit);
        // An edit cannot add a picture: it follows as an m.image replying to the notice.
        if (reply.image)
          await sendImage(this.client, this.roomId, reply.image, {
            ...(this.commandThreadRoot
              ? { rel_type: 'm.thread', event_id: this.commandThreadRoot, is_falling_back: false }
              : {}),
            'm.in_reply_to': { event_id: this.mainEventId },
          });
        return this.mainEventId;
      }
      // Too large to edit in place (an edit carries the text twice): say where it went,
      // then send it whole as a reply to the main notice.
      const notice = editContent(this.mainEventId, this.render(movedNotice(reply)));
      await sendWithRetry(this.client, this.roomId, 'm.room.message', notice);
      await this.post(reply, this.mainEventId);
      return this.mainEventId;
    }
    const ids = await this.post(reply, this.commandEventId);
    this.mainEventId = ids[0]!;
    return this.mainEventId;
  }

  /** A new message replying to `replyTo` (in the command's thread, if any); its parts follow each other. */
  private async post(reply: Reply, replyTo: string | undefined): Promise<string[]> {
    const thread = this.commandThreadRoot;
    const relates = (sent: string[]): Relates => {
      const to = sent.at(-1) ?? replyTo;
      if (thread)
        return {
          rel_type: 'm.thread',
          event_id: thread,
          is_falling_back: false,
          'm.in_reply_to': { event_id: to ?? thread },
        };
      return to ? { 'm.in_reply_to': { event_id: to } } : undefined;
    };
    const ids = await sendReply(this.client, this.roomId, reply, {
      render: (r) => this.render(r),
      relates,
    });
    if (thread) this.lastThreadEventId = ids.at(-1);
    return ids;
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  private enqueue(fn: () => Promise<void>): Promise<void> {
    const next = this.chain.then(fn).catch((err) => {
      this.log.warn({ err, room: this.roomId }, 'Matrix reply failed');
    });
    this.chain = next;
    return next;
  }
}
