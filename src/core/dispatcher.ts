import { randomUUID } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { Metrics } from '../http/metrics.js';
import type { AccessPolicy } from './access.js';
import { answerErrors, withDecision } from './answer-errors.js';
import type { AuditSink, Decision } from './audit.js';
import { OptionAutocomplete } from './autocomplete.js';
import {
  type Action,
  type Args,
  type Command,
  type OptionChoice,
  permissionId,
} from './command.js';
import { type CommandContext, commandContext } from './context.js';
import { dryRunReply, isDryRun } from './dry-run.js';
import { UserError } from './errors.js';
import type { Inventory } from './inventory.js';
import type { ChatUser, Conversation, Invocation } from './invocation.js';
import { label } from './invocation.js';
import type { Logger } from './logger.js';
import { executeJournaled } from './operation-journaling.js';
import { checkPreconditions } from './preconditions.js';
import type { ProposalLedger } from './proposal-ledger.js';
import { cancelledReply, expiredReply, type Proposal, Proposals } from './proposals.js';
import { Recorder } from './recorder.js';
import type { Registry } from './registry.js';
import { resolveWords, validateArgs } from './resolve.js';
import type { Responder } from './responder.js';
import type { Services } from './services.js';
import { tokenize } from './tokenize.js';

export type { Responder } from './responder.js';

/** One allowed run: what, for whom, where it answers; a proposal is one waiting for Confirm. */
type Run = Proposal;

export interface DispatcherDeps {
  registry: Registry;
  access: AccessPolicy;
  config: Config;
  inventory: Inventory;
  services: Services;
  audit: AuditSink;
  metrics?: Metrics;
  /** Proposals on disk, so the next start can say they expired. */
  proposals?: ProposalLedger;
  log: Logger;
  now?: () => number;
}

/**
 * parse → authorize → (dry run | confirm) → execute → audit. The only place that decides
 * whether something runs; adapters only translate. Its stages live beside it: `dry-run.ts`,
 * `proposals.ts` (waiting for a Confirm, on disk too), `preconditions.ts` (checks that refuse),
 * `operation-journaling.ts` (long runs journaled), `answer-errors.ts` and `recorder.ts` (audit).
 */
export class Dispatcher {
  private readonly proposals: Proposals;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly shutdown = new AbortController();
  private readonly now: () => number;
  private readonly recorder: Recorder;
  private readonly completion: OptionAutocomplete;

  constructor(private readonly deps: DispatcherDeps) {
    this.now = deps.now ?? Date.now;
    this.completion = new OptionAutocomplete(deps);
    this.recorder = new Recorder(deps.registry, deps.audit, deps.log, this.now, deps.metrics);
    this.proposals = new Proposals(
      deps.config.confirm.timeoutSeconds * 1000,
      deps.proposals,
      (p) => this.onExpired(p),
      this.now,
    );
  }

  /** A text command from the console or Matrix: `/node reboot pi4-a`, `!task add title:"…"`. */
  handleText(
    text: string,
    user: ChatUser,
    conversation: Conversation,
    responder: Responder,
    origin: Invocation['origin'] = {},
  ): Promise<void> {
    return this.track(this.runText(text, user, conversation, responder, origin));
  }

  /** A structured invocation (Discord slash command). */
  dispatch(inv: Invocation, responder: Responder): Promise<void> {
    return this.track(
      this.guard(inv, responder, this.now(), async () => {
        const command = this.deps.registry.command(inv.command);
        const action = this.deps.registry.action(command, inv.subcommand);
        await this.authorizeAndRun(inv, command, action, inv.args, responder, this.now());
      }),
    );
  }

  /** The same user's yes to a proposal. */
  confirm(code: string, user: ChatUser, responder: Responder): Promise<void> {
    return this.track(this.decide(code, user, responder, true));
  }

  cancel(code: string, user: ChatUser, responder: Responder): Promise<void> {
    return this.track(this.decide(code, user, responder, false));
  }

  /** Autocomplete for one option of an action (Discord): see `OptionAutocomplete`. */
  autocomplete(
    command: string,
    sub: string | undefined,
    option: string,
    partial: string,
    user: ChatUser,
  ): Promise<OptionChoice<string>[]> {
    return this.completion.choices({ command, sub, option, partial, user });
  }

  /** The newest proposal waiting for this user, if any. */
  pendingCode(user: ChatUser): string | undefined {
    return this.proposals.latestCode(user);
  }

  /** Waits for in-flight work; with `abort`, also signals handlers to stop and expires proposals. */
  async drain(abort = false): Promise<void> {
    if (abort) {
      this.shutdown.abort();
      this.proposals.expireAll();
    }
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p)).catch(() => {});
    return p;
  }

  private async runText(
    text: string,
    user: ChatUser,
    conversation: Conversation,
    responder: Responder,
    origin: Invocation['origin'],
  ): Promise<void> {
    const startedAt = this.now();
    const body = text.trim().replace(/^[/!]/, '');
    const inv: Invocation = {
      id: randomUUID(),
      command: body.split(/\s+/)[0] ?? '',
      args: {},
      user,
      conversation,
      origin: { ...origin, text },
      receivedAt: new Date(startedAt),
    };
    await this.guard(inv, responder, startedAt, async () => {
      const tokens = tokenize(body);
      const [head, code] = tokens;
      if (head && !head.name && ['confirm', 'cancel'].includes(head.value.toLowerCase())) {
        const c = code?.value ?? this.pendingCode(user);
        if (!c) throw new UserError('Nothing is waiting for confirmation.');
        await this.decide(c, user, responder, head.value.toLowerCase() === 'confirm');
        return;
      }
      const { command, action, raw } = resolveWords(this.deps.registry, tokens);
      inv.command = command.name;
      inv.subcommand = command.action ? undefined : action.name;
      inv.args = raw;
      await this.authorizeAndRun(inv, command, action, raw, responder, startedAt);
    });
  }

  private async authorizeAndRun(
    inv: Invocation,
    command: Command,
    action: Action,
    raw: Record<string, unknown>,
    responder: Responder,
    startedAt: number,
  ): Promise<void> {
    const { args, dryRun: explicitDryRun } = validateArgs(command, action, raw);
    inv.args = args;
    const permission = permissionId(command.name, command.action ? undefined : action.name);
    const decision = this.deps.access.check(inv.user, permission, action);
    if (!decision.allowed) {
      await responder.send(
        { severity: 'error', title: `Not allowed: /${label(inv)}`, text: decision.reason },
        { ephemeral: true },
      );
      this.recorder.record(inv, 'denied', 'not-run', startedAt, {
        roles: decision.roles,
        message: decision.reason,
      });
      return;
    }
    const run: Run = { inv, command, action, args, responder, startedAt, roles: decision.roles };
    await withDecision('allowed', () => this.proceed(run, explicitDryRun, permission));
  }

  /** An allowed run: its dry run, its proposal (when it must be confirmed), or the run itself. */
  private async proceed(
    run: Run,
    explicitDryRun: boolean | undefined,
    permission: string,
  ): Promise<void> {
    const { inv, action, args, responder, startedAt, roles } = run;
    const dryRun = isDryRun(action, explicitDryRun, permission, this.deps.config);
    const ctx = this.context(inv, args, dryRun, responder);
    if (dryRun) {
      const plan = await action.plan!(ctx);
      await responder.send(dryRunReply(inv, plan, explicitDryRun));
      this.recorder.record(inv, 'allowed', 'dry-run', startedAt, { roles, dryRun: true });
      return;
    }
    const mustConfirm =
      typeof action.confirm === 'function' ? action.confirm(args) : action.confirm === true;
    if (mustConfirm) {
      await checkPreconditions(action, ctx);
      const plan = await action.plan!(ctx);
      await this.proposals.propose(run, plan);
      return;
    }
    await this.execute(run, ctx, 'allowed');
  }

  private async decide(
    code: string,
    user: ChatUser,
    responder: Responder,
    yes: boolean,
  ): Promise<void> {
    const taken = this.proposals.take(code, user);
    if (!taken.ok) {
      await responder.send(
        { severity: 'error', title: yes ? 'Cannot confirm' : 'Cannot cancel', text: taken.why },
        { ephemeral: true },
      );
      return;
    }
    const p = taken.proposal;
    if (!yes) {
      await p.responder.send(cancelledReply(p.inv));
      this.recorder.record(p.inv, 'cancelled', 'not-run', p.startedAt, { roles: p.roles });
      return;
    }
    const ctx = this.context(p.inv, p.args, false, p.responder);
    await this.guard(p.inv, p.responder, p.startedAt, () =>
      withDecision('confirmed', () => this.execute(p, ctx, 'confirmed')),
    );
  }

  private async execute(run: Run, ctx: CommandContext, decision: Decision): Promise<void> {
    const { inv, action, responder, startedAt, roles } = run;
    // Again right before it runs: the world may have changed while the proposal waited.
    const overridden = await checkPreconditions(action, ctx);
    const result = await executeJournaled(inv, action, ctx);
    await responder.send(result);
    this.recorder.record(inv, decision, result.severity === 'error' ? 'failed' : 'ok', startedAt, {
      roles,
      ...overridden,
    });
  }

  /** Runs `fn`; turns errors into answers and audit lines. */
  private guard(
    inv: Invocation,
    responder: Responder,
    startedAt: number,
    fn: () => Promise<void>,
  ): Promise<void> {
    return answerErrors(this.recorder, this.deps.log, inv, responder, startedAt, fn);
  }

  private context(
    inv: Invocation,
    args: Args,
    dryRun: boolean,
    responder: Responder,
  ): CommandContext {
    return commandContext(this.deps, inv, args, dryRun, responder, this.shutdown.signal);
  }

  private onExpired(p: Proposal): void {
    const { inv, responder, startedAt, roles } = p;
    this.recorder.record(inv, 'expired', 'not-run', startedAt, { roles });
    void this.track(
      responder
        .send(expiredReply(inv, this.deps.config.confirm.timeoutSeconds))
        .catch((err) => this.deps.log.warn({ err }, 'could not report an expired confirmation')),
    );
  }
}
