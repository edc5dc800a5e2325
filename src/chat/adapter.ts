import type { Publisher } from './publisher.js';

/**
 * A chat platform. Adapters turn platform input into dispatcher calls and render `Reply`s
 * with a pure renderer; nothing outside `src/chat/<platform>` imports a platform SDK.
 */
export interface ChatAdapter {
  readonly name: string;
  start(): Promise<void>;
  /** Stop taking input; in-flight work is awaited by the app. */
  stop(): Promise<void>;
  /** Resolves when the adapter has no more input (console: end of stdin). Others never do. */
  readonly finished?: Promise<void>;
  /** Posting on its own (alert threads); available once started. */
  publisher?(): Publisher;
  /**
   * Set by the app before start: called when the chat is lost for good after start-up (Discord
   * closed the gateway with a code it must not reconnect after, e.g. the token was reset).
   */
  onLost?: (reason: string) => void;
}
