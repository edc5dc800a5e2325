/**
 * Watch streams: `GET <collection>?watch=true` answers 200 at once and then writes one JSON
 * event a line, `{"type":"ADDED|MODIFIED|DELETED|ERROR","object":…}`, until the client leaves,
 * `timeoutSeconds` passes, or the test calls `dropWatches()`.
 *
 * Like the real server: without resourceVersion (or with "0") the stream starts with an ADDED
 * for every matching object; with one, it replays what changed after it, or — when the history
 * was compacted past it — sends an ERROR event with a 410 "Expired" Status and ends. An object
 * that stops matching the field selector arrives as DELETED, one that starts matching as ADDED.
 */
import type { ServerResponse } from 'node:http';
import type { Selector } from './selectors.js';
import {
  type EventType,
  type KObject,
  type ObjectStore,
  type Resource,
  realClearTimeout,
  realSetTimeout,
  type StoreEvent,
} from './store.js';

export interface WatchRequest {
  resource: Resource;
  namespace?: string;
  matches: Selector;
  resourceVersion?: string;
  timeoutSeconds?: number;
}

export interface OpenWatch {
  resource: Resource;
  namespace?: string;
  query: string;
  /** When it was opened (ms since epoch). */
  openedAt: number;
}

interface Stream extends OpenWatch {
  end: () => void;
}

export class WatchHub {
  private readonly streams = new Set<Stream>();
  /** How many watch requests were answered in all (resumes and 410-expired ones count). */
  opened = 0;

  constructor(private readonly store: ObjectStore) {}

  get open(): OpenWatch[] {
    return [...this.streams].map(({ end: _, ...w }) => w);
  }

  serve(res: ServerResponse, req: WatchRequest, query: string): void {
    this.opened += 1;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache' });
    res.flushHeaders();
    const inScope = (o: KObject) =>
      (req.namespace === undefined || o.metadata.namespace === req.namespace) && req.matches(o);
    const send = (type: EventType | 'ERROR', object: unknown) =>
      res.write(`${JSON.stringify({ type, object })}\n`);
    const forward = (ev: StoreEvent) => {
      if (ev.resource !== req.resource) return;
      const now = inScope(ev.object);
      const before = ev.previous !== undefined && inScope(ev.previous);
      if (ev.type === 'DELETED') {
        if (before) send('DELETED', ev.object);
      } else if (now && before) send('MODIFIED', ev.object);
      else if (now) send('ADDED', ev.object);
      else if (before) send('DELETED', ev.object);
    };

    const rv = req.resourceVersion;
    if (rv && rv !== '0') {
      const missed = this.store.since(req.resource, Number(rv));
      if (missed === 'expired') {
        send('ERROR', {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: `too old resource version: ${rv} (${this.store.resourceVersion})`,
          reason: 'Expired',
          code: 410,
        });
        res.end();
        return;
      }
      for (const ev of missed) forward(ev);
    } else {
      for (const o of this.store.list(req.resource, req.namespace)) {
        if (req.matches(o)) send('ADDED', o);
      }
    }

    const unsubscribe = this.store.subscribe(forward);
    const timer =
      req.timeoutSeconds && req.timeoutSeconds > 0
        ? realSetTimeout(() => stream.end(), req.timeoutSeconds * 1000)
        : undefined;
    const stream: Stream = {
      resource: req.resource,
      ...(req.namespace !== undefined ? { namespace: req.namespace } : {}),
      query,
      openedAt: Date.now(),
      end: () => {
        cleanup();
        res.end();
      },
    };
    const cleanup = () => {
      unsubscribe();
      if (timer) realClearTimeout(timer);
      this.streams.delete(stream);
    };
    res.on('close', cleanup);
    this.streams.add(stream);
  }

  /** Ends every open watch stream (a clean end of the response, as when the server restarts). */
  dropAll(): number {
    const all = [...this.streams];
    for (const s of all) s.end();
    return all.length;
  }
}
