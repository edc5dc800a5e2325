import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppServices } from './app-services.js';
import type { ChatAdapter } from './chat/adapter.js';
import type { Publisher } from './chat/publisher.js';
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
import { setAsideIfCorruptJson } from './core/state-file.js';
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

/** A chat server's refusal that retrying cannot fix (a revoked or wrong token). */
function refusedCredentials(err: unknown): boolean {
  const e = err as { code?: unknown; status?: unknown; statusCode?: unknown; errcode?: unknown };
  return (
    e?.code === 'TokenInvalid' ||
    e?.status === 401 ||
    e?.statusCode === 401 ||
    e?.statusCode === 403 ||
    e?.errcode === 'M_UNKNOWN_TOKEN' ||
    e?.errcode === 'M_MISSING_TOKEN'
  );
}

function errorText(err: unknown): string {
  const e = err as { message?: string; code?: string; errcode?: string };
  return e?.message || e?.errcode || e?.code || String(err);
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
        ready: () => this.ready,
        waitingFor: () => this.waiting,
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
    if (config.chat.discord) this.adapters.push(await this.discordAdapter(config.chat.discord));
    if (config.chat.matrix) this.adapters.push(await this.matrixAdapter(config.chat.matrix));
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
    const pickedUp = await this.pickUpOperations();
    for (const adapter of this.adapters) await this.connect(adapter);
    this.waiting = 'operations left by the previous run (reporting)';
    this.resumed = pickedUp.go().catch((err) => log.error({ err }, 'picking up operations failed'));
    await this.expireLeftProposals();
    // Alert delivery (and what a previous run left in the outbox) needs connected chats.
    this.waiting = 'alert delivery (applying the outbox)';
    await alerts?.start();
    this.waiting = undefined;
    this.ready = true;
    log.info({ adapters: this.adapters.map((a) => a.name) }, 'ready');
  }

  /**
   * Starts an adapter; a chat server that cannot be reached is tried again (1 s, 2 s, … up to a
   * minute, each attempt logged, /readyz 503 meanwhile) until it answers or the bot stops, so a
   * lab that boots the bot before its homeserver needs no manual restart. Webhooks taken
   * meanwhile wait in the outbox. Credentials the server refuses stop the start (UserError).
   */
  private async connect(adapter: ChatAdapter): Promise<void> {
    const { log } = this.opts;
    let delay = this.opts.reconnectDelayMs ?? 1000;
    for (let attempt = 1; ; attempt++) {
      this.waiting = `${adapter.name} (attempt ${attempt})`;
      try {
        await adapter.start();
        if (attempt > 1) log.info({ adapter: adapter.name, attempt }, 'chat connected');
        return;
      } catch (err) {
        if (err instanceof UserError) throw err;
        if (refusedCredentials(err)) {
          throw new UserError(
            `${adapter.name} refused the bot's credentials (${errorText(err)}).`,
            `Check the ${adapter.name === 'discord' ? 'bot token (chat.discord.token, CHATOPS_DISCORD_TOKEN)' : 'access token (chat.matrix.accessToken, CHATOPS_MATRIX_TOKEN)'}: retrying cannot fix it.`,
          );
        }
        if (this.stopping.signal.aborted) throw err;
        this.waiting = `${adapter.name} (attempt ${attempt} failed: ${errorText(err)}; next in ${Math.round(delay / 1000)} s)`;
        log.warn(
          { adapter: adapter.name, attempt, retryInMs: delay, err: errorText(err) },
          `${adapter.name} cannot be reached; trying again`,
        );
        await adapter.stop().catch(() => undefined);
        await sleep(delay, undefined, { signal: this.stopping.signal }).catch(() => undefined);
        if (this.stopping.signal.aborted)
          throw new Error(`stopped while connecting to ${adapter.name}`);
        delay = Math.min(delay * 2, 60_000);
      }
    }
  }

  /** Proposals the previous process showed and never got an answer to: each says it expired. */
  private async expireLeftProposals(): Promise<void> {
    for (const p of this.proposals.takeLeft()) {
      await this.publisher(p.ref.platform)
        ?.edit(p.ref, {
          severity: 'info',
          title: `Expired: ${p.command}`,
          text: 'The bot restarted before this was confirmed; nothing was done. Run the command again to start over.',
        })
        .catch((err) =>
          this.opts.log.warn({ err, code: p.code }, 'could not expire a left proposal'),
        );
    }
  }

  /** Resumed operations, still running in the background. */
  private resumed?: Promise<void>;

  private async pickUpOperations() {
    const { log } = this.opts;
    const { pickUp } = await import('./ops/resume.js');
    const { resumers } = await import('./ops/resumers.js');
    return pickUp({
      operations: this.services.operations(),
      publisher: (platform) => this.publisher(platform),
      resumers: resumers({
        services: this.services,
        config: this.opts.config,
        lock: this.services.lock,
        signal: this.stopping.signal,
      }),
      log: log.child({ component: 'operations' }),
      onInterrupted: (r) => this.metrics.operationsInterrupted.inc({ kind: r.kind }),
      onResumed: (r) => this.metrics.operationsResumed.inc({ kind: r.kind }),
    });
  }

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
    // The sync token file: a corrupt one would fail every start (the SDK cannot read it).
    setAsideIfCorruptJson(path.join(this.opts.config.state.dir, 'matrix-sync.json'), this.opts.log);
    const { MatrixAdapter } = await import('./chat/matrix/matrix-adapter.js');
    return new MatrixAdapter({
      config: matrix,
      dispatcher: this.dispatcher,
      access: this.access,
      stateDir: this.opts.config.state.dir,
      log: this.opts.log,
      metricsRegistry: this.metrics.registry,
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
