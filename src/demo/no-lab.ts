/**
 * The demo's answers for what would need the lab. A read says in one line what it would ask
 * and how to get a lab to ask; an action run for real (dry_run:false) says what it would send.
 * Nothing here contacts anything.
 */
import type { Args } from '../core/command.js';
import type { CommandContext } from '../core/context.js';
import { UserError } from '../core/errors.js';
import type { Reply } from '../core/reply.js';

/** What a command would ask (or tell) the lab, and the config keys that connect a real one. */
export interface LabAsk {
  /** A verb phrase with the exact request: `send GET /apis/… to the Kubernetes API`. */
  asks: string;
  /** The keys to set: `kube.kubeconfig (or kube.inCluster: true)`. */
  connect: string;
}

function howToConnect(connect: string): string {
  return `To ask a real lab, set ${connect} in a config file (npm start -- --config FILE), or start the local lab: npm run lab.`;
}

/** A read-only command's demo answer: not an error, the demo simply has nothing to read. */
export function noLabReply(ask: LabAsk): Reply {
  return {
    severity: 'info',
    title: `Demo: there is no lab to ask. This would ${ask.asks}.`,
    text: howToConnect(ask.connect),
  };
}

/** What the demo's stand-ins throw where a real client would reach the lab. */
export class NoLabError extends UserError {
  constructor(ask: LabAsk, what: 'ask' | 'change' = 'ask') {
    super(
      `Demo: there is no lab to ${what}. This would ${ask.asks}.`,
      what === 'change'
        ? `Leave out dry_run:false to see the whole plan. ${howToConnect(ask.connect)}`
        : howToConnect(ask.connect),
    );
  }
}

/** A read-only command's `execute` that, in the demo, answers with what it would ask instead. */
export function demoAware<A extends Args>(
  ask: (ctx: CommandContext<A>) => LabAsk,
  execute: (ctx: CommandContext<A>) => Promise<Reply>,
): (ctx: CommandContext<A>) => Promise<Reply> {
  return async (ctx) => (ctx.config.demo ? noLabReply(ask(ctx)) : execute(ctx));
}
