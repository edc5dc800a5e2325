import { randomBytes } from 'node:crypto';

/**
 * An error whose message is safe to show to the chat user as is. Say what went wrong and
 * what to do: "pi9 is not in the inventory; known nodes: x86, pi5, …".
 */
export class UserError extends Error {
  override readonly name = 'UserError';
  constructor(
    message: string,
    /** Extra lines shown under the message (hints, lists). */
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** A short id that ties a generic "something went wrong" answer to a log line. */
export function newErrorId(): string {
  return `E-${randomBytes(4).toString('hex')}`;
}

/** Wraps a cause with what we were doing: "while evicting pods on pi4-a: …". */
export function wrapError(context: string, cause: unknown): Error {
  const message = cause instanceof Error ? cause.message : String(cause);
  return new Error(`${context}: ${message}`, { cause });
}

export function isUserError(err: unknown): err is UserError {
  return err instanceof UserError;
}
