import { randomInt } from 'node:crypto';
import type { ChatUser } from './invocation.js';
import { userKey } from './invocation.js';

/** Unambiguous characters: no 0/O, 1/I/L. */
const ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';

export function newConfirmCode(length = 6): string {
  let code = '';
  for (let i = 0; i < length; i++) code += ALPHABET[randomInt(ALPHABET.length)];
  return code;
}

export interface Pending<T> {
  code: string;
  userKey: string;
  expiresAt: number;
  payload: T;
}

export type TakeResult<T> =
  | { ok: true; pending: Pending<T> }
  | { ok: false; reason: 'unknown' | 'expired' | 'not-yours'; pending?: Pending<T> };

/**
 * Proposals waiting for the same user's yes. A code is one-time: taking it (to confirm or
 * cancel) removes it; expiry removes it and calls `onExpire`.
 */
export class ConfirmationStore<T> {
  private readonly pending = new Map<string, Pending<T> & { timer: NodeJS.Timeout }>();

  constructor(
    private readonly ttlMs: number,
    private readonly onExpire: (p: Pending<T>) => void,
    private readonly now: () => number = Date.now,
  ) {}

  propose(user: ChatUser, payload: T): Pending<T> {
    let code = newConfirmCode();
    while (this.pending.has(code)) code = newConfirmCode();
    const entry = { code, userKey: userKey(user), expiresAt: this.now() + this.ttlMs, payload };
    const timer = setTimeout(() => this.expire(code), this.ttlMs);
    timer.unref();
    this.pending.set(code, { ...entry, timer });
    return entry;
  }

  /** Takes the proposal `code` for `user`; someone else's code stays pending. */
  take(code: string, user: ChatUser): TakeResult<T> {
    const entry = this.pending.get(code.toUpperCase());
    if (!entry) return { ok: false, reason: 'unknown' };
    if (entry.userKey !== userKey(user)) return { ok: false, reason: 'not-yours', pending: entry };
    if (this.now() >= entry.expiresAt) {
      this.expire(entry.code);
      return { ok: false, reason: 'expired', pending: entry };
    }
    clearTimeout(entry.timer);
    this.pending.delete(entry.code);
    return { ok: true, pending: entry };
  }

  /** The newest proposal of this user still waiting (console: a bare `y` confirms it). */
  latestFor(user: ChatUser): Pending<T> | undefined {
    const key = userKey(user);
    return [...this.pending.values()].filter((p) => p.userKey === key).at(-1);
  }

  size(): number {
    return this.pending.size;
  }

  /** Expires everything now (shutdown). */
  expireAll(): void {
    for (const code of [...this.pending.keys()]) this.expire(code);
  }

  private expire(code: string): void {
    const entry = this.pending.get(code);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.pending.delete(code);
    this.onExpire(entry);
  }
}
