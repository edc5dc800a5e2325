/** Operation records as a killed process leaves them, and a state dir to put them in. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { OperationRecord } from '../../src/ops/journal.js';

export function stateDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'ops-records-'));
}

const at = new Date(Date.now() - 3000).toISOString();

/** Left 3 s ago, running; a /node update of pis answering in console message 1 unless `over` says otherwise. */
export function record(over: Partial<OperationRecord>): OperationRecord {
  return {
    version: 1,
    id: 'op-000000',
    kind: 'node.update',
    title: '/node update target:pis',
    target: 'pis',
    command: '/node update target:pis',
    requestedBy: { platform: 'console', id: 'ops', displayName: 'ops' },
    origin: {
      conversation: { platform: 'console', id: 'ops' },
      message: { platform: 'console', target: 'ops', messageId: '1', threadId: '1' },
    },
    startedAt: at,
    updatedAt: at,
    aliveAt: at,
    status: 'running',
    step: { index: 0, total: 1, label: 'starting' },
    changed: [],
    data: {},
    ...over,
  };
}
