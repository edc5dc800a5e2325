import type { Metrics } from '../http/metrics.js';
import type { AuditEntry, AuditSink, Decision, Outcome } from './audit.js';
import { effectiveOptions } from './command.js';
import type { Invocation } from './invocation.js';
import type { Logger } from './logger.js';
import type { Registry } from './registry.js';

/** Writes the audit line and the metrics of a finished invocation: one place, one shape. */
export class Recorder {
  constructor(
    private readonly registry: Registry,
    private readonly audit: AuditSink,
    private readonly log: Logger,
    private readonly now: () => number,
    private readonly metrics?: Metrics,
  ) {}

  record(
    inv: Invocation,
    decision: Decision,
    result: Outcome,
    startedAt: number,
    extra: Partial<AuditEntry> = {},
  ): void {
    const durationMs = this.now() - startedAt;
    const command = [inv.command, inv.subcommand].filter(Boolean).join(' ');
    const entry: AuditEntry = {
      ts: new Date(this.now()).toISOString(),
      id: inv.id,
      platform: inv.user.platform,
      user: { id: inv.user.id, name: inv.user.displayName },
      conversation: inv.conversation.id,
      command,
      args: redactArgs(this.registry, inv),
      decision,
      result,
      durationMs,
      ...extra,
    };
    try {
      this.audit.write(entry);
    } catch (err) {
      this.log.error({ err, entry }, 'could not write the audit log');
    }
    // Unparsable input is counted under one label: typos must not grow the metric's cardinality.
    const metric = decision === 'invalid' && result === 'user-error' ? 'invalid' : command;
    this.metrics?.invocations.inc({ command: metric, decision, result });
    this.metrics?.duration.observe({ command: metric }, durationMs / 1000);
  }
}

function redactArgs(registry: Registry, inv: Invocation): Record<string, unknown> {
  let secret: Set<string> = new Set();
  try {
    const command = registry.command(inv.command);
    const action = registry.action(command, inv.subcommand);
    secret = new Set(
      effectiveOptions(action)
        .filter((o) => o.secret)
        .map((o) => o.name),
    );
  } catch {
    // unknown command: keep the raw args
  }
  return Object.fromEntries(
    Object.entries(inv.args).map(([k, v]) => [k, secret.has(k) ? '[redacted]' : v]),
  );
}
