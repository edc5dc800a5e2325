import { randomUUID } from 'node:crypto';
import type { MessageRef } from '../chat/publisher.js';
import type { Config } from '../config/schema.js';
import type { Metrics } from '../http/metrics.js';
import type { RunningOperation } from '../ops/operations.js';
import { type AccessPolicy, matchesPattern } from './access.js';
import type { AuditSink, Decision } from './audit.js';
import { DATA_SOURCES, Suggestions } from './autocomplete.js';
import {
  type Action,
  type Args,
  type Command,
  effectiveOptions,
  type OptionChoice,
  permissionId,
} from './command.js';
import { ConfirmationStore, type Pending } from './confirmations.js';
import type { CommandContext, Progress } from './context.js';
import { isUserError, newErrorId, UserError } from './errors.js';
import type { Inventory } from './inventory.js';
import type { ChatUser, Conversation, Invocation } from './invocation.js';
import { label, userLabel } from './invocation.js';
import type { Logger } from './logger.js';
import type { ProposalLedger } from './proposal-ledger.js';
import { Recorder } from './recorder.js';
import type { Registry } from './registry.js';
import { planText, type Reply } from './reply.js';
import { resolveWords, validateArgs } from './resolve.js';
import type { Services } from './services.js';
import { tokenize } from './tokenize.js';

/** Where one invocation's answers go. Adapters implement it per message/interaction. */
export interface Responder {
  /** Shows the invocation's message, or edits it in place if already shown. */
  send(reply: Reply, opts?: { ephemeral?: boolean }): Promise<void>;
  /** An in-place progress update of long work (edits the same message; a status line on the console). */
  progress(reply: Reply): Promise<void>;
  /** Appends a step line to the invocation's thread. */
  step(line: string): Promise<void>;
  /**
   * The bot's message answering the invocation (and its thread), once shown: enough to edit it
   * and post in its thread later, from another process too (an operation resumed after a restart).
   */
  ref?(): MessageRef | undefined;
}

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

interface Proposal {
  inv: Invocation;
  command: Command;
  action: Action;
  args: Args;
  responder: Responder;
  startedAt: number;
  roles: string[];
}

/**
 * parse → authorize → (dry run | confirm) → execute → audit. The only place that decides
 * whether something runs; adapters only translate.
 */
export class Dispatcher {
  private readonly confirmations: ConfirmationStore<Proposal>;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly shutdown = new AbortController();
  private readonly now: () => number;
  private readonly recorder: Recorder;
  private readonly suggestions: Suggestions;

  constructor(private readonly deps: DispatcherDeps) {
    this.now = deps.now ?? Date.now;
    this.suggestions = new Suggestions(deps);
    this.recorder = new Recorder(deps.registry, deps.audit, deps.log, this.now, deps.metrics);
    this.confirmations = new ConfirmationStore<Proposal>(
      deps.config.confirm.timeoutSeconds * 1000,
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

  /**
   * Autocomplete for one option of an action (Discord): at most 25 choices, within the lookup
   * budget. Lab data (nodes, tasks, apps, alerts) only for a user who may read it there: the
   * action's permission checked as if it were read-only (open to all under `readOnly: open`
   * unless it needs a role; under `readOnly: roles` a role must allow it).
   */
  async autocomplete(
    command: string,
    sub: string | undefined,
    option: string,
    partial: string,
    user: ChatUser,
  ): Promise<OptionChoice<string>[]> {
    try {
      const cmd = this.deps.registry.command(command);
      const action = this.deps.registry.action(cmd, sub);
      const opt = effectiveOptions(action).find((o) => o.name === option);
      if (!opt?.autocomplete) return [];
      const permission = permissionId(cmd.name, cmd.action ? undefined : action.name);
      if (
        DATA_SOURCES.has(opt.autocomplete) &&
        !this.deps.access.check(user, permission, {
          sideEffects: false,
          needsRole: action.needsRole,
        }).allowed
      )
        return [];
      return await this.suggestions.suggest(opt.autocomplete, partial);
    } catch {
      return [];
    }
  }

  /** The newest proposal waiting for this user, if any. */
  pendingCode(user: ChatUser): string | undefined {
    return this.confirmations.latestFor(user)?.code;
  }

  /** Waits for in-flight work; with `abort`, also signals handlers to stop and expires proposals. */
  async drain(abort = false): Promise<void> {
    if (abort) {
      this.shutdown.abort();
      this.confirmations.expireAll();
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
    await withDecision('allowed', () =>
      this.proceed(
        inv,
        command,
        action,
        args,
        explicitDryRun,
        permission,
        decision.roles,
        responder,
        startedAt,
      ),
    );
  }

  private async proceed(
    inv: Invocation,
    command: Command,
    action: Action,
    args: Args,
    explicitDryRun: boolean | undefined,
    permission: string,
    roles: string[],
    responder: Responder,
    startedAt: number,
  ): Promise<void> {
    const dryRun =
      action.sideEffects &&
      (explicitDryRun ??
        this.deps.config.dryRun.commands.some((p) => matchesPattern(p, permission)));
    const ctx = this.context(inv, args, dryRun, responder);
    if (dryRun) {
      const plan = await action.plan!(ctx);
      await responder.send({
        severity: 'info',
        title: `Dry run: /${label(inv)}`,
        text: `${plan.summary}\nNothing was done. These are the exact steps it would take:`,
        code: planText(plan),
        fields: plan.warnings?.length
          ? [{ name: 'Before you run it', value: plan.warnings.join('\n') }]
          : undefined,
        footer:
          explicitDryRun === undefined
            ? 'Dry run is the default for this command here; add dry_run:false to run it.'
            : undefined,
      });
      this.recorder.record(inv, 'allowed', 'dry-run', startedAt, { roles, dryRun: true });
      return;
    }
    const mustConfirm =
      typeof action.confirm === 'function' ? action.confirm(args) : action.confirm === true;
    if (mustConfirm) {
      await action.preconditions?.(ctx);
      const plan = await action.plan!(ctx);
      const pending = this.confirmations.propose(inv.user, {
        inv,
        command,
        action,
        args,
        responder,
        startedAt,
        roles,
      });
      await responder.send({
        severity: 'warning',
        title: `Confirm: /${label(inv)}`,
        text: `${plan.summary}\nThis is what will happen:`,
        code: planText(plan),
        fields: plan.warnings?.length
          ? [{ name: 'Before you confirm', value: plan.warnings.join('\n') }]
          : undefined,
        confirm: { code: pending.code, expiresAt: pending.expiresAt },
        buttons: [
          { id: `confirm:${pending.code}`, label: 'Confirm', style: 'danger' },
          { id: `cancel:${pending.code}`, label: 'Cancel', style: 'secondary' },
        ],
      });
      const ref = responder.ref?.();
      if (ref && ref.platform !== 'console')
        this.deps.proposals?.remember({ code: pending.code, command: `/${label(inv)}`, ref });
      return;
    }
    await this.execute(inv, action, ctx, responder, startedAt, 'allowed', roles);
  }

  private async decide(
    code: string,
    user: ChatUser,
    responder: Responder,
    yes: boolean,
  ): Promise<void> {
    const taken = this.confirmations.take(code, user);
    if (taken.ok || taken.reason === 'expired') this.deps.proposals?.forget(code.toUpperCase());
    if (!taken.ok) {
      const why = {
        unknown: `There is no pending confirmation ${code.toUpperCase()}; it may have expired or been answered already. Run the command again.`,
        expired: `Confirmation ${code.toUpperCase()} expired; nothing was done. Run the command again.`,
        'not-yours': `Only the person who asked can confirm or cancel ${code.toUpperCase()}.`,
      }[taken.reason];
      await responder.send(
        { severity: 'error', title: yes ? 'Cannot confirm' : 'Cannot cancel', text: why },
        { ephemeral: true },
      );
      return;
    }
    const p = taken.pending.payload;
    if (!yes) {
      await p.responder.send({
        severity: 'info',
        title: `Cancelled: /${label(p.inv)}`,
        text: 'Nothing was done.',
      });
      this.recorder.record(p.inv, 'cancelled', 'not-run', p.startedAt, { roles: p.roles });
      return;
    }
    const ctx = this.context(p.inv, p.args, false, p.responder);
    await this.guard(p.inv, p.responder, p.startedAt, () =>
      withDecision('confirmed', () =>
        this.execute(p.inv, p.action, ctx, p.responder, p.startedAt, 'confirmed', p.roles),
      ),
    );
  }

  private async execute(
    inv: Invocation,
    action: Action,
    ctx: CommandContext,
    responder: Responder,
    startedAt: number,
    decision: Decision,
    roles: string[],
  ): Promise<void> {
    // Again right before it runs: the world may have changed while the proposal waited.
    const overridden = ctx.dryRun ? undefined : await action.preconditions?.(ctx);
    const op =
      action.operation && !ctx.dryRun ? await this.beginOperation(inv, action, ctx) : undefined;
    let result: Reply;
    try {
      result = await action.execute(op ? { ...ctx, progress: journaled(ctx.progress, op) } : ctx);
    } finally {
      // Stopping (SIGTERM): the record stays, and the next start reports where it stood.
      if (op && !this.shutdown.signal.aborted) await op.finish();
    }
    await responder.send(result);
    this.recorder.record(inv, decision, result.severity === 'error' ? 'failed' : 'ok', startedAt, {
      roles,
      ...(overridden && overridden.length > 0 ? { overridden } : {}),
    });
  }

  private async beginOperation(
    inv: Invocation,
    action: Action,
    ctx: CommandContext,
  ): Promise<RunningOperation> {
    const a = ctx.args as Record<string, unknown>;
    const target = String(a.node ?? a.target ?? a.app ?? a.nodes ?? inv.subcommand ?? inv.command);
    return this.deps.services.operations().begin({
      kind: action.operation!,
      title: `/${label(inv)}`,
      target,
      command: `/${label(inv)}`,
      requestedBy: inv.user,
      origin: { conversation: inv.conversation, message: ctx.progress.ref?.() },
      messageRef: () => ctx.progress.ref?.(),
      totalSteps: 1,
    });
  }

  /** Runs `fn`; turns errors into answers and audit lines. */
  private async guard(
    inv: Invocation,
    responder: Responder,
    startedAt: number,
    fn: () => Promise<void>,
  ): Promise<void> {
    try {
      await fn();
    } catch (err) {
      const decision = (err as { decision?: Decision }).decision ?? 'invalid';
      if (isUserError(err)) {
        await responder
          .send({ severity: 'error', title: err.message, text: err.hint }, { ephemeral: true })
          .catch(() => {});
        this.recorder.record(inv, decision, 'user-error', startedAt, { message: err.message });
        return;
      }
      const errorId = newErrorId();
      this.deps.log.error(
        { err, errorId, invocation: inv.id, command: label(inv) },
        'command failed',
      );
      await responder
        .send(
          {
            severity: 'error',
            title: 'Something went wrong',
            text: `The command failed unexpectedly (error ${errorId}). The details are in the bot's log under that id.`,
          },
          { ephemeral: true },
        )
        .catch(() => {});
      this.recorder.record(inv, decision === 'invalid' ? 'allowed' : decision, 'error', startedAt, {
        errorId,
      });
    }
  }

  private context(
    inv: Invocation,
    args: Args,
    dryRun: boolean,
    responder: Responder,
  ): CommandContext {
    return {
      args,
      invocation: inv,
      dryRun,
      log: this.deps.log.child({
        invocation: inv.id,
        command: label(inv),
        user: userLabel(inv.user),
      }),
      config: this.deps.config,
      inventory: this.deps.inventory,
      services: this.deps.services,
      progress: {
        update: (r) => responder.progress(r),
        step: (l) => responder.step(l),
        ref: () => responder.ref?.(),
      },
      signal: this.shutdown.signal,
    };
  }

  private onExpired(p: Pending<Proposal>): void {
    this.deps.proposals?.forget(p.code);
    const { inv, responder, startedAt, roles } = p.payload;
    this.recorder.record(inv, 'expired', 'not-run', startedAt, { roles });
    const seconds = this.deps.config.confirm.timeoutSeconds;
    void this.track(
      responder
        .send({
          severity: 'info',
          title: `Expired: /${label(inv)}`,
          text: `Not confirmed within ${seconds} s; nothing was done. Run the command again to start over.`,
        })
        .catch((err) => this.deps.log.warn({ err }, 'could not report an expired confirmation')),
    );
  }
}

/** Tags errors thrown by `fn` with the access decision already made, for the audit line. */
async function withDecision(decision: Decision, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (typeof err === 'object' && err !== null && !('decision' in err)) {
      (err as { decision?: Decision }).decision = decision;
    }
    throw err;
  }
}

/** Progress that also writes the operation's step to the journal before showing it. */
function journaled(progress: Progress, op: RunningOperation): Progress {
  return {
    ...progress,
    update: async (reply) => {
      if (reply.progress) {
        op.record.step.total = Math.max(reply.progress.total, 1);
        await op.step(reply.progress.done, reply.progress.label ?? reply.title ?? 'working');
      }
      await progress.update(reply);
    },
  };
}
