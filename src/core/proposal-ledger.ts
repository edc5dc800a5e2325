import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { MessageRef } from '../chat/publisher.js';
import type { Logger } from './logger.js';

/**
 * Proposals waiting for their Confirm, on disk: they live in memory and die with the process,
 * so at the next start each one left is edited to say it expired (nobody presses a button
 * that no longer does anything). `<state>/proposals.json`, rewritten on each change.
 */
export interface LeftProposal {
  code: string;
  /** What was proposed: `/node reboot pi4-a`. */
  command: string;
  ref: MessageRef;
}

export class ProposalLedger {
  private readonly file: string;
  private entries = new Map<string, LeftProposal>();

  constructor(
    stateDir: string,
    private readonly log: Logger,
  ) {
    mkdirSync(stateDir, { recursive: true });
    this.file = path.join(stateDir, 'proposals.json');
  }

  remember(p: LeftProposal): void {
    this.entries.set(p.code, p);
    this.save();
  }

  forget(code: string): void {
    if (this.entries.delete(code)) this.save();
  }

  /** What the previous process left (and forgets it). */
  takeLeft(): LeftProposal[] {
    let left: LeftProposal[] = [];
    try {
      const parsed = JSON.parse(readFileSync(this.file, 'utf8')) as unknown;
      if (Array.isArray(parsed))
        left = parsed.filter(
          (p): p is LeftProposal =>
            typeof p?.code === 'string' &&
            typeof p?.command === 'string' &&
            typeof p?.ref?.messageId === 'string',
        );
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        this.log.warn(
          { err: (err as Error).message, file: this.file },
          'unreadable proposals file; ignored',
        );
    }
    this.entries.clear();
    this.save();
    return left;
  }

  private save(): void {
    try {
      const tmp = `${this.file}.tmp`;
      writeFileSync(tmp, JSON.stringify([...this.entries.values()]));
      renameSync(tmp, this.file);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not write the pending proposals');
    }
  }
}
