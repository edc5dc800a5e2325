import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UserError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Metrics } from './metrics.js';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface HttpServerOptions {
  host: string;
  port: number;
  metrics: Metrics;
  /** `/readyz` answers 200 only when this says so. */
  ready: () => boolean;
  /** What start-up still waits for (`/readyz` says it with the 503). */
  waitingFor?: () => string | undefined;
  log: Logger;
}

/** `starting: <what it waits for>`, or `lost: <chat> (<why>)` for a chat lost after start-up. */
function notReady(reason: string | undefined): string {
  if (reason?.startsWith('lost: ')) return `${reason}\n`;
  return `starting${reason ? `: ${reason}` : ''}\n`;
}

/** `/healthz`, `/readyz`, `/metrics`, plus routes added by features (webhooks). */
export class HttpServer {
  private readonly routes = new Map<string, Handler>();
  private server?: Server;

  constructor(private readonly opts: HttpServerOptions) {
    this.route('GET', '/healthz', (_req, res) => send(res, 200, 'ok\n'));
    this.route('GET', '/readyz', (_req, res) =>
      opts.ready() ? send(res, 200, 'ready\n') : send(res, 503, notReady(opts.waitingFor?.())),
    );
    this.route('GET', '/metrics', async (_req, res) => {
      const body = await opts.metrics.registry.metrics();
      send(res, 200, body, opts.metrics.registry.contentType);
    });
  }

  route(method: string, path: string, handler: Handler): void {
    this.routes.set(`${method} ${path}`, handler);
  }

  async start(): Promise<number> {
    const server = createServer((req, res) => void this.handle(req, res));
    this.server = server;
    const { host, port: wanted } = this.opts;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE' || err.code === 'EACCES' || err.code === 'EADDRNOTAVAIL') {
          reject(
            new UserError(
              `The HTTP server cannot listen on ${host}:${wanted} (${err.code}).`,
              'Choose another address with http.host/http.port or CHATOPS_HTTP_HOST/CHATOPS_HTTP_PORT.',
            ),
          );
        } else reject(err);
      });
      server.listen(wanted, host, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    this.opts.log.info({ host: this.opts.host, port }, 'HTTP listening');
    return port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      // Keep-alive clients (Alertmanager) may hold connections: cut them after a grace period.
      setTimeout(() => server.closeAllConnections(), 2000).unref();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const handler = this.routes.get(`${req.method} ${path}`);
    if (!handler) {
      const known = [...this.routes.keys()].some((k) => k.endsWith(` ${path}`));
      send(res, known ? 405 : 404, known ? 'method not allowed\n' : 'not found\n');
      return;
    }
    try {
      await handler(req, res);
    } catch (err) {
      this.opts.log.error({ err, path }, 'HTTP handler failed');
      if (!res.headersSent) send(res, 500, 'internal error\n');
      else res.end();
    }
  }
}

export function send(
  res: ServerResponse,
  status: number,
  body: string,
  type = 'text/plain; charset=utf-8',
): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
