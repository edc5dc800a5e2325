import type { Action, Args, Command } from './command.js';
import { ConfirmationStore } from './confirmations.js';
import type { ChatUser, Invocation } from './invocation.js';
import { label } from './invocation.js';
import type { ProposalLedger } from './proposal-ledger.js';
import { type Plan, planText, type Reply } from './reply.js';
import type { Responder } from './responder.js';

/** A destructive action shown with its plan, run once the same user confirms it. */
export interface Proposal {
  inv: Invocation;
  command: Command;
  action: Action;
  args: Args;
  responder: Responder;
  startedAt: number;
  roles: string[];
}

export type Taken = { ok: true; proposal: Proposal } | { ok: false; why: string };

/**
 * Proposals waiting for the same user's Confirm: in memory, and — those shown in a chat — in the
 * proposal ledger on disk, so that the next start can say they expired. A code is one-time;
 * taking it, or its expiry, forgets it in both.
 */
export class Proposals {
  private readonly store: ConfirmationStore<Proposal>;

  constructor(
    ttlMs: number,
    private readonly ledger: ProposalLedger | undefined,
    onExpired: (p: Proposal) => void,
    now: () => number,
  ) {
    this.store = new ConfirmationStore<Proposal>(
      ttlMs,
      (p) => {
        this.ledger?.forget(p.code);
        onExpired(p.payload);
      },
      now,
    );
  }

  /** Shows the proposal: its plan, warnings, code and Confirm/Cancel buttons. */
  async propose(p: Proposal, plan: Plan): Promise<void> {
    const pending = this.store.propose(p.inv.user, p);
    await p.responder.send({
      severity: 'warning',
      title: `Confirm: /${label(p.inv)}`,
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
    const ref = p.responder.ref?.();
    if (ref && ref.platform !== 'console')
      this.ledger?.remember({ code: pending.code, command: `/${label(p.inv)}`, ref });
  }

  /** The proposal `code` for `user`'s answer, or why there is none to answer. */
  take(code: string, user: ChatUser): Taken {
    const taken = this.store.take(code, user);
    if (taken.ok || taken.reason === 'expired') this.ledger?.forget(code.toUpperCase());
    if (taken.ok) return { ok: true, proposal: taken.pending.payload };
    const why = {
      unknown: `There is no pending confirmation ${code.toUpperCase()}; it may have expired or been answered already. Run the command again.`,
      expired: `Confirmation ${code.toUpperCase()} expired; nothing was done. Run the command again.`,
      'not-yours': `Only the person who asked can confirm or cancel ${code.toUpperCase()}.`,
    }[taken.reason];
    return { ok: false, why };
  }

  /** The code of the newest proposal waiting for this user, if any. */
  latestCode(user: ChatUser): string | undefined {
    return this.store.latestFor(user)?.code;
  }

  /** Expires every proposal now (shutdown). */
  expireAll(): void {
    this.store.expireAll();
  }
}

/** The answer to a Cancel: nothing was done. */
export function cancelledReply(inv: Invocation): Reply {
  return { severity: 'info', title: `Cancelled: /${label(inv)}`, text: 'Nothing was done.' };
}

/** The answer to a proposal nobody confirmed in time. */
export function expiredReply(inv: Invocation, timeoutSeconds: number): Reply {
  return {
    severity: 'info',
    title: `Expired: /${label(inv)}`,
    text: `Not confirmed within ${timeoutSeconds} s; nothing was done. Run the command again to start over.`,
  };
}
