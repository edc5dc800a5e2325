import type { Reply } from '../core/reply.js';

/** A message the bot posted on its own (not as an answer): enough to edit it or reply in its thread later. Serializable. */
export interface MessageRef {
  platform: 'discord' | 'matrix' | 'console';
  /** Channel id, room id, or `console`. */
  target: string;
  messageId: string;
  /** The thread under the message, once there is one. */
  threadId?: string;
}

/**
 * Posting without a command: alert threads. Each chat adapter that can post implements it
 * with its own renderer; the alert pipeline only sees this interface.
 */
export interface Publisher {
  readonly platform: MessageRef['platform'];
  post(target: string, reply: Reply): Promise<MessageRef>;
  edit(ref: MessageRef, reply: Reply): Promise<void>;
  /** Posts into the thread under `ref`'s message, starting the thread on first use; returns `ref` with `threadId`. */
  reply(ref: MessageRef, reply: Reply, threadName: string): Promise<MessageRef>;
}
