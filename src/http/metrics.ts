import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/** The bot's Prometheus metrics, on a registry of its own (no globals). */
export class Metrics {
  readonly registry = new Registry();
  readonly invocations = new Counter({
    name: 'chatops_invocations_total',
    help: 'Chat command invocations by command, access decision and result',
    labelNames: ['command', 'decision', 'result'] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'chatops_invocation_duration_seconds',
    help: 'Time from receiving a command to its final answer',
    labelNames: ['command'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300, 900],
    registers: [this.registry],
  });

  readonly webhookRequests = new Counter({
    name: 'chatops_alert_webhook_requests_total',
    help: 'Alertmanager webhook requests by HTTP status answered',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });

  readonly alertDeadLetters = new Counter({
    name: 'chatops_alert_dead_letters_total',
    help: 'Alert notifications that could not be applied, and alert posts a chat refused for themselves alone (a locked thread), moved to alerts/dead-letter.jsonl',
    registers: [this.registry],
  });

  readonly alertDeliveriesFailed = new Counter({
    name: 'chatops_alert_deliveries_failed_total',
    help: 'Alert posts a chat refused for good (a 4xx that is not a rate limit), by platform, the platform error code, and outcome: smaller (shown in a smaller form), retrying (nothing gets into the channel or room yet), dead-letter (that post alone refused: moved to alerts/dead-letter.jsonl, the rest go on) or reposted (a firing group whose root message was deleted, posted again)',
    labelNames: ['platform', 'reason', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly operationsInterrupted = new Counter({
    name: 'chatops_operations_interrupted_total',
    help: 'Long operations (reboots, drains, updates, syncs) a restart interrupted and that were not resumed',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly operationsResumed = new Counter({
    name: 'chatops_operations_resumed_total',
    help: 'Long operations picked up again after a restart',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'chatops_' });
  }
}
