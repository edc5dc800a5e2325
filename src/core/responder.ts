import type { MessageRef } from '../chat/publisher.js';
import type { Reply } from './reply.js';

/** Where one invocation's answers go. Adapters implement it per message/interaction. */
export interface Responder {
  /** Shows the invocation's message, or edits it in place if already shown. */
  send(reply: Reply, opts?: { ephemeral?: boolean }): Promise<void>;
  /** An in-place progress update of long work (edits the same message; a status line on the console). */
  progress(reply: Reply): Promise<void>;
  /** Appends a step line to the invocation's thread. */
  step(line: string): Promise<void>;
  /**
   * The bot's message answering the invocation (and its thread), once shown: enough to edit it
   * and post in its thread later, from another process too (an operation resumed after a restart).
   */
  ref?(): MessageRef | undefined;
}
