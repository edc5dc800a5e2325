import type { Responder } from '../../core/dispatcher.js';
import type { Logger } from '../../core/logger.js';
import type { Reply } from '../../core/reply.js';
import { LatestOnly } from '../latest-only.js';
import { type MatrixContent, renderMatrix, renderMatrixStep } from './render.js';

/** What the responder needs from a MatrixClient: sending one event. */
export interface MatrixSender {
  sendEvent(roomId: string, eventType: string, content: Record<string, unknown>): Promise<string>;
}

const PROGRESS_EVERY_MS = 1000;
const MAX_RATE_LIMIT_RETRIES = 8;

/**
 * Sends one event, waiting out 429 M_LIMIT_EXCEEDED answers (matrix-bot-sdk does not retry
 * them itself) so that a burst of step logs is delayed, never dropped.
 */
export async function sendWithRetry(
  client: MatrixSender,
  roomId: string,
  eventType: string,
  content: Record<string, unknown>,
): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await client.sendEvent(roomId, eventType, content);
    } catch (err) {
      const e = err as { statusCode?: number; errcode?: string; retryAfterMs?: number };
      const limited = e.statusCode === 429 || e.errcode === 'M_LIMIT_EXCEEDED';
      if (!limited || attempt >= MAX_RATE_LIMIT_RETRIES) throw err;
      const wait = Math.min(30_000, e.retryAfterMs ?? 1000 * 2 ** attempt);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

/**
 * One command's answers in a room: a notice replying to the command, edited in place
 * (`m.replace`) for progress and the result, and step logs in a thread (`m.thread`) under
 * that notice — or in the command's own thread when it was typed in one.
 */
export class MatrixResponder implements Responder {
  private chain: Promise<unknown> = Promise.resolve();
  private mainEventId?: string;
  private lastThreadEventId?: string;
  private readonly progressEdits: LatestOnly<Reply>;

  constructor(
    private readonly client: MatrixSender,
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
          await this.show(renderMatrix(r, { now: this.now(), prefix: this.opts.prefix }));
        }),
      () => this.now(),
    );
  }

  send(reply: Reply): Promise<void> {
    this.progressEdits.cancel();
    return this.enqueue(async () => {
      const eventId = await this.show(
        renderMatrix(reply, { now: this.now(), prefix: this.opts.prefix }),
      );
      if (reply.confirm) this.opts.onProposal?.(eventId, reply.confirm.code);
    });
  }

  progress(reply: Reply): Promise<void> {
    return this.progressEdits.push(reply);
  }

  step(line: string): Promise<void> {
    return this.enqueue(async () => {
      const root =
        this.commandThreadRoot ??
        this.mainEventId ??
        (await this.show(renderMatrix({ text: 'Working on it; steps in the thread.' })));
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

  /** Posts the main notice, or edits it if it exists. Returns its event id. */
  private async show(content: MatrixContent): Promise<string> {
    if (this.mainEventId) {
      await sendWithRetry(this.client, this.roomId, 'm.room.message', {
        msgtype: content.msgtype,
        body: `* ${content.body}`,
        format: content.format,
        formatted_body: `* ${content.formatted_body}`,
        'm.new_content': content,
        'm.relates_to': { rel_type: 'm.replace', event_id: this.mainEventId },
      });
      return this.mainEventId;
    }
    const relates = this.commandThreadRoot
      ? {
          rel_type: 'm.thread',
          event_id: this.commandThreadRoot,
          is_falling_back: false,
          'm.in_reply_to': { event_id: this.commandEventId ?? this.commandThreadRoot },
        }
      : this.commandEventId
        ? { 'm.in_reply_to': { event_id: this.commandEventId } }
        : undefined;
    this.mainEventId = await sendWithRetry(this.client, this.roomId, 'm.room.message', {
      ...content,
      ...(relates ? { 'm.relates_to': relates } : {}),
    });
    if (this.commandThreadRoot) this.lastThreadEventId = this.mainEventId;
    return this.mainEventId;
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
