import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import type { MessageRef } from '../chat/publisher.js';
import type { ChatUser, Conversation } from '../core/invocation.js';
import type { Logger } from '../core/logger.js';
import { moveAside, writeDurably } from '../core/state-file.js';

/**
 * What a long operation (a reboot, a drain, a rolling update, an Argo sync being followed, a
 * backup run) has told the disk: who asked, where to report, the step reached, and what it
 * changed that must be undone. One file per operation in `<state>/operations/`, rewritten
 * durably (temp file, fsync, rename, fsync of the directory) *before* each step's effect, so
 * a process killed at any point leaves a record that says at least as much as happened.
 *
 * The record says what was intended; a resumed operation finds out what really happened by
 * looking (boot ids, the node's conditions), never by trusting the record alone.
 */

export type OperationKind =
  | 'node.reboot'
  | 'node.drain'
  | 'node.update'
  | 'node.provision'
  | 'argo.sync'
  | 'argo.rollback'
  | 'backup.run';

export interface OperationOrigin {
  /** The conversation the command came from. */
  conversation: Conversation;
  /** The bot's message that answers the command (edited with the result), once known. */
  message?: MessageRef;
}

export interface OperationRecord {
  version: 1;
  id: string;
  kind: OperationKind;
  /** `Reboot of pi4-a` */
  title: string;
  /** The node, group or app it acts on. */
  target: string;
  /** What was typed: `/node reboot pi4-a force:true`. */
  command: string;
  requestedBy: ChatUser;
  origin: OperationOrigin;
  startedAt: string;
  updatedAt: string;
  /** Written while the process runs the operation; how long the bot was down is measured from it. */
  aliveAt: string;
  /** running: a process is on it. interrupted: the process that ran it is gone; left for a person. */
  status: 'running' | 'interrupted';
  step: { index: number; total: number; label: string };
  /** What this operation changed that is still changed: `cordoned pi4-a`. */
  changed: string[];
  /** Facts a resumed step needs: the boot id before the reboot, when the reboot was sent. */
  data: Record<string, string | number | boolean | undefined>;
  /** Set when interrupted: where it stopped and what to run. */
  note?: string;
  /**
   * The operation this one runs as a step of (a Pi's reboot during /node update): both report in
   * that one's message, and after a restart that one answers for both once this one has ended.
   */
  parent?: string;
}

const ID = /^op-[0-9a-z]{4,12}$/;

export class OperationJournal {
  private readonly dir: string;

  constructor(
    stateDir: string,
    private readonly log: Logger,
  ) {
    this.dir = path.join(stateDir, 'operations');
    mkdirSync(this.dir, { recursive: true });
  }

  private file(id: string): string {
    return path.join(this.dir, `${id}.json`);
  }

  async write(record: OperationRecord): Promise<void> {
    await writeDurably(this.file(record.id), `${JSON.stringify(record, null, 1)}\n`);
  }

  async remove(id: string): Promise<void> {
    await unlink(this.file(id)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  /**
   * Every record on disk. A file that cannot be read as a record (truncated, hand-edited) is
   * moved aside with a warning that names it: reported, never in the way of start-up.
   */
  load(): { records: OperationRecord[]; setAside: string[] } {
    const records: OperationRecord[] = [];
    const setAside: string[] = [];
    for (const name of readdirSync(this.dir).sort()) {
      if (!name.endsWith('.json')) continue;
      const file = path.join(this.dir, name);
      try {
        const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<OperationRecord>;
        const problem = invalid(parsed, name);
        if (problem) throw new Error(problem);
        records.push(parsed as OperationRecord);
      } catch (err) {
        setAside.push(moveAside(file, (err as Error).message, this.log, 'operation record'));
      }
    }
    return { records, setAside };
  }
}

/** Why a parsed file is not a usable record, if it is not. */
function invalid(r: Partial<OperationRecord>, name: string): string | undefined {
  if (typeof r !== 'object' || r === null) return 'not an object';
  if (r.version !== 1) return `unknown version ${String(r.version)}`;
  if (typeof r.id !== 'string' || !ID.test(r.id) || `${r.id}.json` !== name) return 'bad id';
  if (typeof r.kind !== 'string' || typeof r.target !== 'string') return 'no kind or target';
  if (!r.step || typeof r.step.index !== 'number') return 'no step';
  if (!r.requestedBy || !r.origin?.conversation) return 'no requester or origin';
  if (!Array.isArray(r.changed) || typeof r.data !== 'object' || r.data === null)
    return 'no changed/data';
  return undefined;
}
