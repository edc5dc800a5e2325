import { AppServices } from './app-services.js';
import type { ChatAdapter } from './chat/adapter.js';
import type { Config } from './config/schema.js';
import { AccessPolicy } from './core/access.js';
import { type AuditSink, FileAudit } from './core/audit.js';
import type { Command } from './core/command.js';
import { Dispatcher } from './core/dispatcher.js';
import { UserError } from './core/errors.js';
import { Inventory } from './core/inventory.js';
import type { ChatUser } from './core/invocation.js';
import type { Logger } from './core/logger.js';
import { loadCommands, Registry } from './core/registry.js';
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
  /** Extra commands next to those in commands/ (tests). */
  extraCommands?: Command[];
}

/** The wired bot: registry, access, dispatcher, adapters, HTTP. `main.ts` only parses argv. */
export class App {
  readonly dispatcher: Dispatcher;
  readonly metrics = new Metrics();
  readonly services: AppServices;
  readonly access: AccessPolicy;
  private readonly adapters: ChatAdapter[] = [];
  private http?: HttpServer;
  private ready = false;
  httpPort?: number;

  private constructor(
    private readonly opts: AppOptions,
    readonly registry: Registry,
  ) {
    const { config, log } = opts;
    this.access = new AccessPolicy(config.access);
    const services = new AppServices(config, log, () => registry.list());
    this.services = services;
    this.dispatcher = new Dispatcher({
      registry,
      access: this.access,
      config,
      inventory: new Inventory(config.inventory.nodes),
      services,
      audit: opts.audit ?? new FileAudit(config.state.dir),
      metrics: this.metrics,
      log,
    });
  }

  static async create(opts: AppOptions): Promise<App> {
    const registry = new Registry([...(await loadCommands()), ...(opts.extraCommands ?? [])]);
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
    // Clone (and in the demo, seed) the task repo in the background: the first /task is fast.
    this.services.tasks().catch((err) => log.warn({ err }, 'task repo not available yet'));
    if (config.chat.discord) this.adapters.push(await this.discordAdapter(config.chat.discord));
    if (config.chat.matrix) this.adapters.push(await this.matrixAdapter(config.chat.matrix));
    for (const adapter of this.adapters) await adapter.start();
    this.ready = true;
    log.info({ adapters: this.adapters.map((a) => a.name) }, 'ready');
  }

  private async discordAdapter(
    discord: NonNullable<Config['chat']['discord']>,
  ): Promise<ChatAdapter> {
    if (!discord.token) {
      throw new UserError(
        'chat.discord.token is not set.',
        'Set CHATOPS_DISCORD_TOKEN or CHATOPS_DISCORD_TOKEN_FILE, or chat.discord.tokenFile in the config.',
      );
    }
    // Loaded only when configured: discord.js costs start-up time and memory.
    const { DiscordAdapter } = await import('./chat/discord/discord-adapter.js');
    return new DiscordAdapter({
      config: discord,
      dispatcher: this.dispatcher,
      commands: () => this.registry.list(),
      log: this.opts.log,
      apiUrl: discord.apiUrl,
    });
  }

  private async matrixAdapter(matrix: NonNullable<Config['chat']['matrix']>): Promise<ChatAdapter> {
    if (!matrix.accessToken) {
      throw new UserError(
        'chat.matrix.accessToken is not set.',
        'Set CHATOPS_MATRIX_TOKEN or CHATOPS_MATRIX_TOKEN_FILE, or chat.matrix.accessTokenFile in the config.',
      );
    }
    const { MatrixAdapter } = await import('./chat/matrix/matrix-adapter.js');
    return new MatrixAdapter({
      config: matrix,
      dispatcher: this.dispatcher,
      access: this.access,
      stateDir: this.opts.config.state.dir,
      log: this.opts.log,
    });
  }

  /** Graceful stop: no new input, in-flight commands finish, proposals expire, HTTP closes. */
  async stop(): Promise<void> {
    this.ready = false;
    for (const adapter of this.adapters) await adapter.stop();
    await this.dispatcher.drain(true);
    await this.services.close();
    await this.http?.stop();
  }
}
