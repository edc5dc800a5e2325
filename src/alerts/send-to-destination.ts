import Bottleneck from 'bottleneck';
import type { Publisher } from '../chat/publisher.js';
import type { Reply } from '../core/reply.js';
import type { DeliveryOptions } from './delivery.js';
import type { DeliveryRefused, RefusalReport } from './delivery-failure.js';
import { type Sent, type SmallerForm, sendSmaller } from './send-smaller.js';
import { destinationKey, type RoutedDestination } from './types.js';

/** The sending part of DeliveryOptions, and where refusals are logged and counted. */
export interface SenderOptions
  extends Pick<DeliveryOptions, 'publisher' | 'limits' | 'deadLetter' | 'log'> {
  refusals: RefusalReport;
}

const DEFAULT_LIMITS: Record<RoutedDestination['platform'], Bottleneck.ConstructorOptions> = {
  // Discord allows about 5 messages per 5 s per channel; a little slack for clock skew.
  discord: {
    maxConcurrent: 1,
    reservoir: 5,
    reservoirRefreshAmount: 5,
    reservoirRefreshInterval: 5000,
  },
  matrix: { maxConcurrent: 1, minTime: 200 },
  console: { maxConcurrent: 1 },
};

/**
 * The sending side of alert delivery: each post goes through its platform's publisher, paced
 * per destination (one limiter each) within the platform's rate limits; a post the chat refuses
 * for good goes in a smaller form, and one no form got past can go to the dead letters.
 */
export class DestinationSender {
  private readonly limiters = new Map<string, Bottleneck>();

  constructor(private readonly opts: SenderOptions) {}

  /** Drops the sends waiting for their turn (their groups stay dirty); the one in flight finishes. */
  async stop(): Promise<void> {
    await Promise.all(
      [...this.limiters.values()].map((l) => l.stop({ dropWaitingJobs: true }).catch(() => {})),
    );
  }

  /**
   * Sends `full`, or the first smaller form the chat accepts when it refuses the full one for
   * good (see sendSmaller); a smaller form shown is logged and counted. Throws DeliveryRefused
   * when none got through.
   */
  async sendForms<T>(
    dest: RoutedDestination,
    what: string,
    full: Reply,
    smaller: SmallerForm[],
    op: (p: Publisher, reply: Reply) => Promise<T>,
  ): Promise<Sent<T>> {
    const sent = await sendSmaller(what, full, smaller, (r) => this.send(dest, (p) => op(p, r)));
    if (sent.refusal) this.opts.refusals.smaller(destinationKey(dest), what, sent.refusal);
    return sent;
  }

  /** See RollupContext.dropPost. Never throws: a dead letter that cannot be written is logged. */
  async dropPost(
    dest: RoutedDestination,
    groupKey: string | undefined,
    refused: DeliveryRefused,
    post: Reply,
  ): Promise<void> {
    const destKey = destinationKey(dest);
    const { image: _picture, ...payload } = post;
    const file = await this.opts
      .deadLetter?.({
        id: `${destKey} ${refused.what}`,
        groupKey,
        destination: destKey,
        what: refused.what,
        reason: refused.message,
        payload,
      })
      .catch((err) => {
        this.opts.log.error(
          { err, destination: destKey, what: refused.what },
          'dead letter not written',
        );
        return undefined;
      });
    this.opts.refusals.deadLettered(destKey, refused, file);
  }

  private limiter(dest: RoutedDestination): Bottleneck {
    const key = destinationKey(dest);
    let l = this.limiters.get(key);
    if (!l) {
      l = new Bottleneck({
        ...DEFAULT_LIMITS[dest.platform],
        ...this.opts.limits?.[dest.platform],
      });
      this.limiters.set(key, l);
    }
    return l;
  }

  private publisher(dest: RoutedDestination): Publisher {
    const p = this.opts.publisher(dest.platform);
    if (!p)
      throw new Error(
        `no ${dest.platform} chat is connected for alert destination ${destinationKey(dest)}`,
      );
    return p;
  }

  private send<T>(dest: RoutedDestination, fn: (p: Publisher) => Promise<T>): Promise<T> {
    const p = this.publisher(dest);
    return this.limiter(dest).schedule(() => fn(p));
  }
}
