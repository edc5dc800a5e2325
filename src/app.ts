import type { ChatAdapter } from './chat/adapter.js';
import type { Config } from './config/schema.js';
import { AccessPolicy } from './core/access.js';
import { type AuditSink, FileAudit } from './core/audit.js';
import { Dispatcher } from './core/dispatcher.js';
import { Inventory } from './core/inventory.js';
import type { ChatUser } from './core/invocation.js';
import type { Logger } from './core/logger.js';
import { loadCommands, Registry } from './core/registry.js';
import type { Services } from './core/services.js';
import { Metrics } from './http/metrics.js';
import { HttpServer } from './http/server.js';

export interface AppOptions {
  config: Config;
  log: Logger;
  console?: {
    user: ChatUser;
    input: NodeJS.ReadableStream;
    output: NodeJS.WritableStream;
    interactive: boolean;
  };
  audit?: AuditSink;
}

/** The wired bot: registry, access, dispatcher, adapters, HTTP. `main.ts` only parses argv. */
export class App {
  readonly dispatcher: Dispatcher;
  readonly metrics = new Metrics();
  private readonly adapters: ChatAdapter[] = [];
  private http?: HttpServer;
  private ready = false;
  httpPort?: number;

  private constructor(
    private readonly opts: AppOptions,
    readonly registry: Registry,
  ) {
    const { config, log } = opts;
    const services: Services = { commands: () => registry.list() };
    this.dispatcher = new Dispatcher({
      registry,
      access: new AccessPolicy(config.access),
      config,
      inventory: new Inventory(config.inventory.nodes),
      services,
      audit: opts.audit ?? new FileAudit(config.state.dir),
      metrics: this.metrics,
      log,
    });
  }

  static async create(opts: AppOptions): Promise<App> {
    const registry = new Registry(await loadCommands());
    return new App(opts, registry);
  }

  /** Resolves when every adapter that can finish (the console at end of input) has. */
  get finished(): Promise<void> | undefined {
    const f = this.adapters
      .map((a) => a.finished)
      .filter((p): p is Promise<void> => p !== undefined);
    return f.length > 0 ? Promise.all(f).then(() => undefined) : undefined;
  }

  async start(): Promise<void> {
    const { config, log } = this.opts;
    if (config.http.enabled) {
      this.http = new HttpServer({
        ...config.http,
        metrics: this.metrics,
        ready: () => this.ready,
        log,
      });
      this.httpPort = await this.http.start();
    }
    if (config.chat.console.enabled && this.opts.console) {
      const { ConsoleAdapter } = await import('./chat/console/console-adapter.js');
      this.adapters.push(new ConsoleAdapter({ dispatcher: this.dispatcher, ...this.opts.console }));
    }
    for (const adapter of this.adapters) await adapter.start();
    this.ready = true;
    log.info({ adapters: this.adapters.map((a) => a.name) }, 'ready');
  }

  /** Graceful stop: no new input, in-flight commands finish, proposals expire, HTTP closes. */
  async stop(): Promise<void> {
    this.ready = false;
    for (const adapter of this.adapters) await adapter.stop();
    await this.dispatcher.drain(true);
    await this.http?.stop();
  }
}
