import { discordAdapter, matrixAdapter } from './app-adapters.js';
import { AppServices } from './app-services.js';
import { expireLeftProposals, pickUpOperations } from './app-startup.js';
import type { ChatAdapter } from './chat/adapter.js';
import type { Publisher } from './chat/publisher.js';
import { connectChat } from './chat-connect.js';
import { ConfigError } from './config/load.js';
import type { Config } from './config/schema.js';
import { AccessPolicy } from './core/access.js';
import { type AuditSink, FileAudit } from './core/audit.js';
import type { Command } from './core/command.js';
import { Dispatcher } from './core/dispatcher.js';
import { UserError } from './core/errors.js';
import { Inventory } from './core/inventory.js';
import type { ChatUser } from './core/invocation.js';
import type { Logger } from './core/logger.js';
import { checkPermissionPatterns } from './core/permission-patterns.js';
import { ProposalLedger } from './core/proposal-ledger.js';
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
  /** Where the config came from, for start-up errors (`--config` file or `built-in demo`). */
  configSource?: string;
  /** First wait before reconnecting a chat that is down at start (doubles up to a minute). */
  reconnectDelayMs?: number;
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
  private readonly proposals: ProposalLedger;
  /** What start-up waits for, shown by /readyz (e.g. a chat server that is down). */
  private waiting?: string;
  /** Chats lost for good after start-up (/readyz 503 with the reason; the rest go on). */
  private readonly lost: string[] = [];
  private readonly stopping = new AbortController();
  httpPort?: number;

  private constructor(
    private readonly opts: AppOptions,
    readonly registry: Registry,
  ) {
    const { config, log } = opts;
    this.access = new AccessPolicy(config.access);
    this.proposals = new ProposalLedger(config.state.dir, log);
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
      proposals: this.proposals,
      log,
    });
  }

  /** Throws `ConfigError` when a permission pattern in the config matches no command. */
  static async create(opts: AppOptions): Promise<App> {
    const registry = new Registry([...(await loadCommands()), ...(opts.extraCommands ?? [])]);
    const problems = checkPermissionPatterns(opts.config, registry.list());
    if (problems.length > 0) throw new ConfigError(opts.configSource ?? 'configuration', problems);
    return new App(opts, registry);
  }

  /**
   * Resolves when the bot has no more input: only when the console (at end of stdin) is its
   * only chat. With Discord or Matrix next to it, the end of stdin (a pod has none) closes
   * the console and the bot goes on.
   */
  get finished(): Promise<void> | undefined {
    if (this.adapters.some((a) => a.finished === undefined)) return undefined;
    const f = this.adapters.map((a) => a.finished as Promise<void>);
    return f.length > 0 ? Promise.all(f).then(() => undefined) : undefined;
  }

  async start(): Promise<void> {
    const { config, log } = this.opts;
    const alerts = config.alerts.enabled ? await this.alertService() : undefined;
    if (config.http.enabled) {
      this.http = new HttpServer({
        ...config.http,
        metrics: this.metrics,
        ready: () => this.ready && this.lost.length === 0,
        waitingFor: () => (this.lost.length ? `lost: ${this.lost.join('; ')}` : this.waiting),
        log,
      });
      if (alerts) {
        const { webhookHandler } = await import('./alerts/webhook.js');
        this.http.route(
          'POST',
          '/hooks/alertmanager',
          webhookHandler({
            auth: config.alerts.webhook,
            maxBodyBytes: config.alerts.webhook.maxBodyBytes,
            accept: (payload, body) => alerts.accept(payload, body),
            backlogFull: () => alerts.backlogFull(),
            isRepeatBody: (body) => alerts.isRepeatBody(body),
            log,
            onResult: (status) => this.metrics.webhookRequests.inc({ status: String(status) }),
          }),
        );
      }
      this.httpPort = await this.http.start();
    }
    if (config.chat.console.enabled && this.opts.console) {
      const { ConsoleAdapter } = await import('./chat/console/console-adapter.js');
      this.adapters.push(new ConsoleAdapter({ dispatcher: this.dispatcher, ...this.opts.console }));
    }
    // Clone (and in the demo, seed) the task repo in the background: the first /task is fast.
    this.services.tasks().catch((err) => log.warn({ err }, 'task repo not available yet'));
    const { dispatcher, registry, access, metrics } = this;
    const deps = { config, dispatcher, registry, access, metrics, log };
    if (config.chat.discord) this.adapters.push(await discordAdapter(config.chat.discord, deps));
    if (config.chat.matrix) this.adapters.push(await matrixAdapter(config.chat.matrix, deps));
    const consoleAdapter = this.adapters.find((a) => a.name === 'console');
    if (consoleAdapter && this.adapters.length > 1) {
      void consoleAdapter.finished?.then(() =>
        log.info(
          { adapters: this.adapters.filter((a) => a !== consoleAdapter).map((a) => a.name) },
          'console input ended; the bot keeps running for its other chats',
        ),
      );
    }
    // Operations a previous process left are taken over (their locks held) before any chat
    // takes a command; they report and go on once the chats are connected.
    const publisher = (platform: string) => this.publisher(platform);
    const pickedUp = await pickUpOperations({
      config,
      services: this.services,
      metrics: this.metrics,
      publisher,
      signal: this.stopping.signal,
      log,
    });
    for (const adapter of this.adapters) {
      adapter.onLost = (reason) => {
        this.lost.push(`${adapter.name} (${reason})`);
        log.error({ adapter: adapter.name, reason }, `${adapter.name} lost for good: ${reason}`);
      };
      await connectChat(adapter, {
        log,
        firstDelayMs: this.opts.reconnectDelayMs,
        signal: this.stopping.signal,
        waiting: (reason) => {
          this.waiting = reason;
        },
      });
    }
    this.waiting = 'operations left by the previous run (reporting)';
    this.resumed = pickedUp.go().catch((err) => log.error({ err }, 'picking up operations failed'));
    await expireLeftProposals(this.proposals, publisher, log);
    // Alert delivery (and what a previous run left in the outbox) needs connected chats.
    this.waiting = 'alert delivery (applying the outbox)';
    await alerts?.start();
    this.waiting = undefined;
    this.ready = true;
    log.info({ adapters: this.adapters.map((a) => a.name) }, 'ready');
  }

  /** Resumed operations, still running in the background. */
  private resumed?: Promise<void>;

  private readonly publishers = new Map<string, Publisher>();

  /** The publisher of a started adapter, created once (it may keep per-thread state). */
  private publisher(platform: string): Publisher | undefined {
    let p = this.publishers.get(platform);
    if (!p) {
      p = this.adapters.find((a) => a.name === platform)?.publisher?.();
      if (p) this.publishers.set(platform, p);
    }
    return p;
  }

  /** The alert pipeline; refuses an unauthenticated webhook reachable from the network. */
  private async alertService() {
    const { config, log } = this.opts;
    const { webhook, alertmanager } = config.alerts;
    if (!config.http.enabled) {
      throw new UserError(
        'alerts.enabled needs the HTTP server.',
        'Set http.enabled: true (Alertmanager posts to /hooks/alertmanager).',
      );
    }
    const loopback = ['127.0.0.1', '::1', 'localhost'].includes(config.http.host);
    if (!loopback && !webhook.token && !webhook.username) {
      throw new UserError(
        `The alert webhook would listen on ${config.http.host} without authentication.`,
        'Set alerts.webhook.token (or CHATOPS_ALERT_TOKEN), or basic auth with alerts.webhook.username/password, and the same in the Alertmanager receiver.',
      );
    }
    const [{ AlertService }, { AlertmanagerClient }] = await Promise.all([
      import('./alerts/alert-service.js'),
      import('./alerts/alertmanager-client.js'),
    ]);
    const service = new AlertService({
      stateDir: config.state.dir,
      routes: config.alerts,
      rollupThreshold: config.alerts.rollupThreshold,
      maxBacklog: config.alerts.maxBacklog,
      onDeadLetter: () => this.metrics.alertDeadLetters.inc(),
      onDeliveryRefused: (r) => this.metrics.alertDeliveriesFailed.inc(r),
      publisher: (platform) => this.publisher(platform),
      alertmanager: alertmanager.url
        ? new AlertmanagerClient({
            url: alertmanager.url,
            token: alertmanager.token,
            timeoutMs: alertmanager.timeoutMs,
          })
        : undefined,
      graphs: await this.alertGraphs(),
      log,
    });
    this.services.alertService = service;
    return service;
  }

  /** Graphs on alert messages when alerts.prometheus.url is set (the renderer loads on first use). */
  private async alertGraphs() {
    const { prometheus } = this.opts.config.alerts;
    if (!prometheus.url) return undefined;
    const [{ AlertGraphs }, { PrometheusClient, durationSeconds }] = await Promise.all([
      import('./alerts/graph/alert-graphs.js'),
      import('./alerts/graph/prometheus-client.js'),
    ]);
    return new AlertGraphs({
      prometheus: new PrometheusClient({ url: prometheus.url, timeoutMs: prometheus.timeoutMs }),
      rangeSeconds: durationSeconds(prometheus.range),
      stepSeconds: prometheus.step ? durationSeconds(prometheus.step) : undefined,
      timeoutMs: prometheus.timeoutMs,
      log: this.opts.log.child({ component: 'alert-graphs' }),
    });
  }

  /** Graceful stop: no new input, in-flight commands finish, proposals expire, HTTP closes. */
  async stop(): Promise<void> {
    this.ready = false;
    this.stopping.abort();
    // Every phase is bounded: a stuck peer must not keep the process from exiting.
    const phase = async (what: string, fn: () => Promise<unknown>, ms = 10_000) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), ms);
      });
      const result = await Promise.race([
        fn().catch((err) => this.opts.log.warn({ err, what }, 'stopping failed')),
        late,
      ]);
      clearTimeout(timer);
      if (result === 'late') this.opts.log.warn({ what, ms }, 'stopping took too long; going on');
    };
    // Alert delivery first, while the chats are still connected.
    await phase('alert delivery', async () => this.services.alertService?.stop());
    for (const adapter of this.adapters)
      await phase(`${adapter.name} adapter`, () => adapter.stop());
    await phase('running commands', () => this.dispatcher.drain(true), 30_000);
    // Resumed operations stop at their wait (their records stay for the next start).
    await phase('resumed operations', async () => this.resumed, 10_000);
    await phase('services', () => this.services.close());
    await phase('HTTP server', async () => this.http?.stop(), 5_000);
  }
}
