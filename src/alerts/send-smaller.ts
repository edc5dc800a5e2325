import type { Reply } from '../core/reply.js';
import {
  DeliveryRefused,
  describeRefusal,
  type Refusal,
  refusalOf,
  scopeOf,
} from './delivery-failure.js';

/** A smaller form of a post, given why the larger one was refused (`413 40005 Request entity too large`). */
export type SmallerForm = (why: string) => Reply;

export interface Sent<T> {
  value: T;
  /** Set when the full form was refused and a smaller one shown instead. */
  refusal?: Refusal;
}

/**
 * Sends `full`; if the chat refuses it for good (see {@link refusalOf}), the smaller forms in
 * turn, each told why. A refusal no smaller form can help (no access), or the last form refused
 * as well → {@link DeliveryRefused}: nothing was shown. Anything else (429, 5xx, network) is
 * thrown as it came, for the caller to retry as before.
 */
export async function sendSmaller<T>(
  what: string,
  full: Reply,
  smaller: readonly SmallerForm[],
  send: (reply: Reply) => Promise<T>,
): Promise<Sent<T>> {
  let refusal: Refusal | undefined;
  for (let i = 0; i <= smaller.length; i++) {
    const form = i === 0 ? full : smaller[i - 1]!(describeRefusal(refusal!));
    try {
      return { value: await send(form), ...(refusal ? { refusal } : {}) };
    } catch (err) {
      const r = refusalOf(err);
      if (!r) throw err;
      // The first refusal says why the full form did not fit; keep it unless access is now lost.
      refusal = !refusal || r.noAccess ? r : refusal;
      if (r.noAccess || i === smaller.length) throw new DeliveryRefused(r, what);
    }
  }
  throw new Error('unreachable');
}

/**
 * What `sending` sent, or its refusal when that stands in the way of this post or message only
 * (see scopeOf: `on` is `channel` for a new message, `message` for an edit of or reply under one
 * already posted). A refusal of the whole destination, and any other error, is thrown.
 */
export async function unlessOnlyThis<T>(
  on: 'channel' | 'message',
  sending: Promise<Sent<T>>,
): Promise<Sent<T> | DeliveryRefused> {
  try {
    return await sending;
  } catch (err) {
    if (err instanceof DeliveryRefused && scopeOf(err.refusal, on) !== 'destination') return err;
    throw err;
  }
}
