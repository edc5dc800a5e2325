import { UserError } from '../core/errors.js';
import {
  DESCRIPTION_MAX,
  NODE_PATTERN,
  PHASES,
  type Phase,
  TAG_MAX,
  TAG_PATTERN,
  TASK_PRIORITIES,
  type TaskPriority,
  TITLE_MAX,
} from './task-schema.js';

/**
 * Checking what a chat user typed before it reaches a task file, with messages that say
 * what to change. Strings are kept exactly as given (no trimming) so they round-trip.
 */

/** Who asked for a change; becomes `created_by` and the commit's Requested-by trailer. */
export interface Requester {
  platform: string;
  userId: string;
  displayName: string;
  /** Link or reference to the chat message, stored as the task's `source` on add. */
  source?: string;
}

export interface NewTask {
  title: string;
  description?: string;
  priority?: TaskPriority;
  phase?: number;
  tags?: string[];
  node?: string;
}

/** Fields to change; null removes an optional field. */
export interface TaskEdits {
  title?: string;
  description?: string | null;
  priority?: TaskPriority;
  phase?: number | null;
  tags?: string[];
  node?: string | null;
}

const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

function text(field: string, value: unknown, max: number): string {
  if (typeof value !== 'string') throw new UserError(`The ${field} must be text.`);
  if (LONE_SURROGATE.test(value)) {
    throw new UserError(`The ${field} contains broken characters (unpaired surrogates).`);
  }
  if (value.length > max) {
    throw new UserError(
      `The ${field} is ${value.length} characters long; the limit is ${max}.`,
      field === 'title' ? 'Shorten it and put the details in the description.' : undefined,
    );
  }
  return value;
}

export function checkTitle(value: unknown): string {
  const title = text('title', value, TITLE_MAX);
  if (title.trim() === '') throw new UserError('The title is empty.');
  return title;
}

/** undefined (no description) for an empty string. */
export function checkDescription(value: unknown): string | undefined {
  const d = text('description', value, DESCRIPTION_MAX);
  return d === '' ? undefined : d;
}

export function checkPriority(value: unknown): TaskPriority {
  const p = typeof value === 'string' ? value.toLowerCase() : value;
  if (!(TASK_PRIORITIES as readonly unknown[]).includes(p)) {
    throw new UserError(
      `Unknown priority "${String(value)}".`,
      `Use one of: ${TASK_PRIORITIES.join(', ')}.`,
    );
  }
  return p as TaskPriority;
}

export function checkPhase(value: unknown): Phase {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || !(n in PHASES)) {
    const list = Object.entries(PHASES).map(([k, v]) => `${k} ${v}`);
    throw new UserError(`Unknown phase "${String(value)}".`, `Phases: ${list.join(', ')}.`);
  }
  return n as Phase;
}

export function checkTags(value: unknown): string[] {
  if (!Array.isArray(value)) throw new UserError('Tags must be a list of words.');
  const out: string[] = [];
  for (const tag of value) {
    if (typeof tag !== 'string' || !TAG_PATTERN.test(tag) || tag.length > TAG_MAX) {
      throw new UserError(
        `"${String(tag)}" is not a valid tag.`,
        `A tag is one word of at most ${TAG_MAX} characters, without spaces or commas.`,
      );
    }
    if (!out.includes(tag)) out.push(tag);
  }
  return out;
}

export function checkNode(value: unknown): string {
  if (typeof value !== 'string' || !NODE_PATTERN.test(value) || value.length > 63) {
    throw new UserError(
      `"${String(value)}" is not a node name.`,
      'Node names look like x86, pi5, pi4-a.',
    );
  }
  return value;
}

export function checkRequester(who: Requester): Requester {
  if (!who || typeof who.platform !== 'string' || !who.platform || !who.userId) {
    throw new Error('a change needs a requester with platform and userId');
  }
  return who;
}
