/**
 * FakeDiscord — a local Discord (REST API + gateway WebSocket on 127.0.0.1) that a real,
 * unmodified discord.js 14 `Client` logs into, so the bot's Discord adapter can be tested end to
 * end by asserting what a Discord user would see.
 *
 * ```ts
 * const fake = await FakeDiscord.start({
 *   channels: [{ id: OPS, name: 'ops' }],
 *   users: [{ id: ALICE, username: 'alice', roles: ['operator'] }],
 *   roles: [{ name: 'operator' }],
 *   interactionTimeoutMs: 3000,             // deadline for the first answer (default 3 s)
 * });
 * const client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: `${fake.url}/api` } });
 * await client.login('fake-token');
 * await fake.waitForReady();                // IDENTIFY seen, READY + GUILD_CREATE sent
 *
 * fake.commands                             // guild commands from the bulk PUT (with ids)
 * const i = await fake.slashCommand({ user: 'alice', channelId: OPS, name: 'node', subcommand: 'reboot',
 *   options: [{ name: 'node', value: 'pi4-a' }] });          // type comes from the registered command
 * const choices = await fake.autocomplete({ user: 'alice', name: 'node', subcommand: 'reboot',
 *   focused: { name: 'node', value: 'pi4' } });              // the type-8 choices the bot answered
 * await fake.pressButton({ user: 'alice', messageId, customId: 'confirm:abc' });
 * await fake.selectOption({ user: 'alice', messageId, customId: 'pick', values: ['a'] });
 *
 * fake.interactionResponse(i)   // acknowledged/deferred/ephemeral/timedOut, @original now + history, followUps
 * fake.channelMessages(OPS)     // current messages (after edits) incl. ephemeral ones, with history
 * fake.threads()                // threads with starter message and their messages
 * await fake.waitFor((f) => f.threads().length === 1, 2000)  // throws with a state dump on timeout
 * fake.setRateLimit({ route: 'POST /channels/:id/messages', limit: 5, windowMs: 1000 });
 *   // with Discord's headers discord.js waits and never gets a 429; `advertise: false` forces 429s
 * fake.stats.rateLimited        // 429s served;  fake.unhandled: unknown routes (assert empty)
 * fake.denyAccess(OPS)          // the bot may no longer see #ops: 403 50001 Missing Access; grantAccess(OPS)
 * fake.denyThreads(OPS)         // the bot may not start threads in #ops: 403 50013 Missing Permissions
 * fake.lockThread(threadId)     // a moderator locks a thread: posts and edits there → 400 50083
 * fake.deleteMessage(id)        // a moderator deletes a message: 404 10008 Unknown Message from then on
 * fake.dropGateway()            // kill the socket: the client resumes (await fake.waitForReady())
 * fake.withholdHeartbeatAcks()   // no op 11 from now on: a zombied connection (the client must resume)
 * fake.loseAnswers('POST /channels/:id/messages')  // carried out, answer lost (connection reset)
 * await fake.stop()
 * ```
 *
 * Ids must be snowflakes (17–20 digits) — discord.js derives timestamps and rate-limit buckets
 * from them; `snowflake()` makes one, and omitted ids are generated. Users may be referred to by
 * id or username. With `strictCommands` (default) a user can only run registered commands with
 * declared options, like the Discord client. Details of the wire behaviour: README.md here.
 *
 * Follows discord-api-docs (github.com/discord/discord-api-docs, `developers/`):
 * `interactions/receiving-and-responding.mdx` (3 s first answer, autocomplete included; token valid
 * 15 min → 401 50027 `Invalid Webhook Token`, settable as `interactionTokenTtlMs`),
 * `resources/channel.mdx` (Start Thread from Message: text/announcement channels only, one per
 * message → 50024 from a message inside a thread, 160004 a second time),
 * `resources/message.mdx` + `resources/webhook.mdx` (Allowed Mentions Object and its defaults,
 * Edit Message re-parsing mentions → `fake.pings`, mentions.ts; Create Message `nonce` ≤ 25
 * characters and `enforce_nonce`: the same nonce within 5 minutes returns the first message),
 * `events/gateway.mdx` (Hello, heartbeats and their ACKs — `withholdHeartbeatAcks()` makes the
 * "zombied" connection a client must close and resume — Identify, Resume with replay, op 7,
 * op 9, close codes), `topics/rate-limits.mdx` (rate-limit.ts), `topics/opcodes-and-status-codes.mdx`
 * (JSON error codes: 10003 Unknown Channel, 10008 Unknown Message, 40005 Request entity too large,
 * 50001 Missing Access, 50013 Missing Permissions, 50035 Invalid Form Body, 50083 an operation
 * on an archived thread), `topics/permissions.mdx` (VIEW_CHANNEL: without it a channel's routes
 * answer 403 50001; CREATE_PUBLIC_THREADS: without it Start Thread answers 403 50013),
 * `topics/threads.mdx` ("Locked Threads": without MANAGE_THREADS no messages are created or
 * edited in a locked thread — Discord answers 50083 "Thread is archived", discord-api-docs#6884;
 * archived threads: a post unarchives an unlocked one, edits are refused).
 *
 * ```ts
 * fake.interactionTokenTtlMs = 1500     // tokens of interactions sent from now on die after 1.5 s
 * fake.pings                            // mentions that would have notified someone (expect [])
 * fake.messageWrites()                  // message-writing requests, each with its allowedMentions
 * ```
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AutocompleteInput, SlashCommandInput } from './command-schema.js';
import { FakeGateway, type GatewayFrame } from './gateway.js';
import type { RecordedRequest } from './http.js';
import { type ComponentInput, InteractionFactory } from './interactions.js';
import type { Ping } from './mentions.js';
import {
  type FakeDiscordOptions,
  type FakeDiscordStats,
  type InteractionHandle,
  seedState,
} from './options.js';
import { Payloads } from './payloads.js';
import { type GlobalRateLimit, RateLimiter, type RateLimitRule } from './rate-limit.js';
import type { StoredInteraction } from './records.js';
import { createFakeServer } from './server.js';
import type { FakeState } from './state.js';
import { isObject, type JsonObject } from './util.js';
import {
  channelMessageViews,
  dumpState,
  type InteractionView,
  interactionView,
  type MessageView,
  messageView,
  type ThreadView,
  threadViews,
} from './views.js';

export type { AutocompleteInput, OptionInput, SlashCommandInput } from './command-schema.js';
export type { RecordedRequest } from './http.js';
export type { ComponentInput } from './interactions.js';
export type { Ping } from './mentions.js';
export type { FakeDiscordOptions, FakeDiscordStats, InteractionHandle } from './options.js';
export type { GlobalRateLimit, RateLimitRule } from './rate-limit.js';
export { snowflake } from './util.js';
export type { InteractionView, MessageView, ThreadView } from './views.js';

const GUILD_MESSAGES_INTENT = 1 << 9;

const MESSAGE_WRITES = new Set([
  'POST /channels/:id/messages',
  'PATCH /channels/:id/messages/:id',
  'POST /webhooks/:id/:token',
  'PATCH /webhooks/:id/:token/messages/:id',
]);

export class FakeDiscord {
  url = '';
  readonly requests: RecordedRequest[] = [];
  readonly unhandled: { method: string; path: string; error?: string }[] = [];
  readonly appId: string;
  readonly guildId: string;
  readonly botUserId: string;
  private readonly state: FakeState;
  private readonly payloads: Payloads;
  private readonly factory: InteractionFactory;
  private readonly limiter = new RateLimiter();
  private readonly gateway: FakeGateway;
  private readonly server: Server;
  /** Deadline for the first answer to interactions sent from now on (Discord: 3000 ms). */
  interactionTimeoutMs: number;
  /**
   * Lifetime of the token of interactions sent from now on (Discord: 15 min): afterwards its
   * webhook routes (`@original`, follow-ups) answer 401 Invalid Webhook Token (50027).
   */
  interactionTokenTtlMs: number;
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(o: FakeDiscordOptions) {
    const s = seedState(o);
    this.state = s;
    this.appId = s.appId;
    this.guildId = s.guildId;
    this.botUserId = s.botId;
    this.interactionTimeoutMs = o.interactionTimeoutMs ?? 3000;
    this.interactionTokenTtlMs = o.interactionTokenTtlMs ?? 15 * 60_000;
    this.payloads = new Payloads(s, {
      baseUrl: () => this.url,
      guildName: o.guildName ?? 'homelab',
      startedAt: Date.now(),
    });
    this.factory = new InteractionFactory(s, this.payloads, o.strictCommands ?? true);
    this.gateway = new FakeGateway({
      heartbeatIntervalMs: o.heartbeatIntervalMs ?? 41_250,
      ...(o.token === undefined ? {} : { token: o.token }),
      ready: (sessionId) => this.payloads.ready(sessionId, `${this.gatewayUrl}/resume`),
      guildCreate: () => this.payloads.guild(),
    });
    this.server = createFakeServer({
      state: s,
      payloads: this.payloads,
      gateway: this.gateway,
      limiter: this.limiter,
      token: o.token,
      gatewayUrl: () => this.gatewayUrl,
      record: (r) => this.requests.push(r),
      unhandled: (r) => this.unhandled.push(r),
      loseAnswer: (route) => {
        const left = route ? (this.answersToLose.get(route) ?? 0) : 0;
        if (left > 0) this.answersToLose.set(route!, left - 1);
        return left > 0;
      },
    });
  }

  private readonly answersToLose = new Map<string, number>();

  /**
   * The next `times` successful requests on `route` (e.g. `POST /channels/:id/messages`) are
   * carried out but their answers are lost: the connection is reset before the response, as
   * when a proxy or the network drops it. A client that sends again makes a duplicate unless it
   * sent `nonce` + `enforce_nonce` (messages) or handles 40060 (interaction callbacks).
   */
  loseAnswers(route: string, times = 1): void {
    this.answersToLose.set(route, (this.answersToLose.get(route) ?? 0) + times);
  }

  /** `port`: a fixed one (a bot configured before Discord is up); default any free port. */
  static async start(options: FakeDiscordOptions = {}, port = 0): Promise<FakeDiscord> {
    const fake = new FakeDiscord(options);
    await new Promise<void>((resolve) => fake.server.listen(port, '127.0.0.1', resolve));
    fake.url = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    return fake;
  }

  get gatewayUrl(): string {
    return this.url.replace(/^http/, 'ws');
  }

  /** Guild commands as registered by the last bulk overwrite (Discord's shape, with ids). */
  get commands(): JsonObject[] {
    return this.state.guildCommands;
  }

  get globalCommands(): JsonObject[] {
    return this.state.globalCommands;
  }

  get stats(): FakeDiscordStats {
    return {
      requests: this.requests.length,
      rateLimited: this.limiter.rateLimited,
      bucketsExhausted: this.limiter.bucketsExhausted,
      rateLimitedByRoute: Object.fromEntries(this.limiter.rateLimitedByRoute),
      ...this.gateway.stats,
    };
  }

  /** Recent gateway frames (op/t, both directions) and the URLs the client connected to. */
  get gatewayLog(): {
    frames: GatewayFrame[];
    connectUrls: string[];
    intents: number;
    clientCloseCodes: number[];
  } {
    return {
      frames: this.gateway.frames,
      connectUrls: this.gateway.connectUrls,
      intents: this.gateway.intents,
      clientCloseCodes: this.gateway.clientCloseCodes,
    };
  }

  waitForReady(timeoutMs = 5000): Promise<void> {
    return this.gateway.whenReady(timeoutMs);
  }

  setRateLimit(rule: RateLimitRule): void {
    this.limiter.set(rule);
  }

  /**
   * The bot loses VIEW_CHANNEL on a channel (an admin changed its permissions): every bot-token
   * route on it or its threads answers 403 50001 `Missing Access` until `grantAccess`.
   */
  denyAccess(channelId: string): void {
    this.state.channel(channelId);
    this.state.noAccess.add(channelId);
  }

  grantAccess(channelId: string): void {
    this.state.noAccess.delete(channelId);
  }

  /**
   * The bot loses CREATE_PUBLIC_THREADS on a channel: starting a thread there answers 403 50013
   * `Missing Permissions` until `allowThreads` (posts and edits in the channel still work).
   */
  denyThreads(channelId: string): void {
    this.state.channel(channelId);
    this.state.noThreads.add(channelId);
  }

  allowThreads(channelId: string): void {
    this.state.noThreads.delete(channelId);
  }

  /**
   * A moderator locks a thread (and with `archived`, closes it too): the bot, without
   * MANAGE_THREADS, can no longer post or edit there — 400 50083 `Thread is archived`. THREAD_UPDATE
   * is dispatched.
   */
  lockThread(threadId: string, opts: { locked?: boolean; archived?: boolean } = {}): void {
    const t = this.state.channel(threadId);
    if (!this.state.isThread(t)) throw new Error(`FakeDiscord: ${threadId} is not a thread`);
    t.locked = opts.locked ?? true;
    if (opts.archived !== undefined) t.archived = opts.archived;
    this.gateway.dispatch('THREAD_UPDATE', this.payloads.channel(t));
  }

  /**
   * A moderator deletes a message: from then on it is 404 10008 `Unknown Message` to the bot (edit,
   * start a thread from it). A thread started from it stays, as on Discord. MESSAGE_DELETE is
   * dispatched to a client with the GuildMessages intent.
   */
  deleteMessage(messageId: string): void {
    const m = this.state.messages.get(messageId);
    if (!m || m.deleted) throw new Error(`FakeDiscord: no message ${messageId}`);
    m.deleted = true;
    if (this.gateway.intents & GUILD_MESSAGES_INTENT)
      this.gateway.dispatch('MESSAGE_DELETE', {
        id: m.id,
        channel_id: m.channelId,
        guild_id: this.guildId,
      });
  }

  /** Applies to every route (like Discord's 50 req/s); `null` turns it off. */
  setGlobalRateLimit(limit: GlobalRateLimit | null): void {
    this.limiter.setGlobal(limit);
  }

  clearRateLimits(route?: string): void {
    this.limiter.clear(route);
  }

  private async send(i: StoredInteraction): Promise<InteractionHandle> {
    await this.gateway.whenReady(5000);
    i.sentAt = Date.now();
    i.deadline = i.sentAt + this.interactionTimeoutMs;
    i.tokenExpiresAt = i.sentAt + this.interactionTokenTtlMs;
    this.state.interactions.set(i.id, i);
    this.state.interactionsByToken.set(i.token, i);
    this.gateway.dispatch('INTERACTION_CREATE', i.payload);
    return {
      id: i.id,
      token: i.token,
      type: i.type,
      userId: i.userId,
      channelId: i.channelId,
      sentAt: i.sentAt,
    };
  }

  /** A user runs a slash command (waits for a connected client first). */
  async slashCommand(input: SlashCommandInput): Promise<InteractionHandle> {
    return this.send(this.factory.slashCommand(input));
  }

  /**
   * A user types into an autocompleted option; resolves with the choices the bot answered.
   * Autocomplete has the same 3 s deadline as any interaction: without an answer by then the
   * user sees "Loading options failed", and this rejects (`timeoutMs` caps the wait further).
   */
  async autocomplete(
    input: AutocompleteInput,
    timeoutMs = this.interactionTimeoutMs,
  ): Promise<JsonObject[]> {
    const i = this.factory.autocomplete(input);
    await this.send(i);
    const wait = Math.min(timeoutMs, i.deadline - Date.now());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        reject(
          new Error(
            `FakeDiscord: no autocomplete answer within ${wait} ms (the user sees "Loading options failed")\n${this.dump()}`,
          ),
        );
      }, wait);
      this.timers.add(timer);
      i.onAnswer.push(() => {
        clearTimeout(timer);
        this.timers.delete(timer);
        resolve(i.choices ?? []);
      });
    });
  }

  /** A user presses a button (must exist, be enabled and visible to that user). */
  async pressButton(input: ComponentInput): Promise<InteractionHandle> {
    return this.send(this.factory.component(input));
  }

  async selectOption(input: ComponentInput & { values: string[] }): Promise<InteractionHandle> {
    return this.send(this.factory.component(input, input.values));
  }

  /**
   * Mentions in messages the bot created or edited that would have notified someone (content
   * with `@everyone`/`@here`/`<@id>`/`<@&id>` that `allowed_mentions` — or its absence — let
   * through). See mentions.ts.
   */
  get pings(): Ping[] {
    return this.state.pings;
  }

  /**
   * Requests that create or edit a message: channel messages, interaction callbacks with a
   * message (types 4, 7), follow-ups and webhook edits — each with `allowedMentions` as sent.
   */
  messageWrites(): RecordedRequest[] {
    return this.requests.filter(
      (r) =>
        r.status < 300 &&
        (MESSAGE_WRITES.has(r.route ?? '') ||
          (r.route === 'POST /interactions/:id/:token/callback' &&
            isObject(r.body) &&
            (r.body.type === 4 || r.body.type === 7))),
    );
  }

  /** Messages of a channel or thread, oldest first, as they look now. `asUser` hides others' ephemerals. */
  channelMessages(
    channelId: string,
    opts: { asUser?: string; includeDeleted?: boolean } = {},
  ): MessageView[] {
    const user = opts.asUser ? this.factory.resolveUser(opts.asUser).id : null;
    return channelMessageViews(this.state, channelId, user, opts.includeDeleted ?? false);
  }

  message(id: string): MessageView | undefined {
    const m = this.state.messages.get(id);
    return m ? messageView(this.state, m) : undefined;
  }

  interactionResponse(i: InteractionHandle | string): InteractionView {
    const stored = this.state.interactions.get(typeof i === 'string' ? i : i.id);
    if (!stored)
      throw new Error(`FakeDiscord: unknown interaction ${typeof i === 'string' ? i : i.id}`);
    return interactionView(this.state, stored);
  }

  interactions(): InteractionView[] {
    return [...this.state.interactions.values()].map((i) => interactionView(this.state, i));
  }

  /** Threads (oldest first) with their starter message and their messages. */
  threads(): ThreadView[] {
    return threadViews(this.state);
  }

  /** Polls until `predicate(fake)` is truthy; on timeout throws with a dump of the state. */
  async waitFor<T>(predicate: (fake: FakeDiscord) => T, timeoutMs = 2000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      try {
        const v = predicate(this);
        if (v) return v;
      } catch (err) {
        lastError = err;
      }
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const why = lastError ? `\nlast predicate error: ${String(lastError)}` : '';
    throw new Error(
      `FakeDiscord.waitFor: condition not met within ${timeoutMs} ms${why}\n${this.dump()}`,
    );
  }

  dump(): string {
    const recent = this.requests
      .slice(-15)
      .map(
        (r) =>
          `    ${r.status} ${r.method} ${r.path}${r.errorCode ? ` (code ${r.errorCode})` : ''}`,
      );
    return dumpState(this.state, [
      `  unhandled: ${JSON.stringify(this.unhandled)}`,
      `  stats: ${JSON.stringify(this.stats)}`,
      '  last requests:',
      ...recent,
    ]);
  }

  /** Kills the gateway connection (default: no close frame → client RESUMEs). See FakeGateway.drop. */
  dropGateway(opts: { code?: number; invalidate?: boolean } = {}): void {
    this.gateway.drop(opts);
  }

  /** Sends op 7 RECONNECT. */
  /** Stops (or, with `false`, resumes) answering heartbeats with op 11 ACK. */
  withholdHeartbeatAcks(on = true): void {
    this.gateway.ackHeartbeats = !on;
  }

  requestReconnect(): void {
    this.gateway.requestReconnect();
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.gateway.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
