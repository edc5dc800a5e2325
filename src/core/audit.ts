import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';

export type Decision = 'allowed' | 'denied' | 'confirmed' | 'cancelled' | 'expired' | 'invalid';
export type Outcome = 'ok' | 'failed' | 'user-error' | 'error' | 'dry-run' | 'not-run';

export interface AuditEntry {
  ts: string;
  id: string;
  platform: string;
  user: { id: string; name: string };
  conversation: string;
  command: string;
  args: Record<string, unknown>;
  decision: Decision;
  result: Outcome;
  durationMs: number;
  roles?: string[];
  dryRun?: boolean;
  /** Set when the result is `error`: the id in the log and in the user's answer. */
  errorId?: string;
  /** The message the user saw, for denials and user errors. */
  message?: string;
  /** What `force:true` overrode: the refusals the preconditions would have answered. */
  overridden?: string[];
}

export interface AuditSink {
  write(entry: AuditEntry): void;
}

/**
 * One JSON line per invocation in `<state dir>/audit.jsonl`. Written synchronously: an
 * invocation is never reported done before its audit line is on disk.
 */
export class FileAudit implements AuditSink {
  readonly file: string;

  constructor(stateDir: string) {
    mkdirSync(stateDir, { recursive: true });
    this.file = path.join(stateDir, 'audit.jsonl');
  }

  write(entry: AuditEntry): void {
    appendFileSync(this.file, `${JSON.stringify(entry)}\n`, { mode: 0o600 });
  }
}
