import { z } from 'zod';

/**
 * One task of the lab's Git-backed backlog, as stored in `tasks/backlog.yaml`,
 * `tasks/in-progress.yaml` and `tasks/completed/YYYY-MM.yaml`.
 *
 * `tasks/schema.yaml` is the same schema as JSON Schema for other tools (editors, CI);
 * test/backlog/task-schema.test.ts fails when the two drift apart.
 */

export const TITLE_MAX = 200;
export const DESCRIPTION_MAX = 4000;
export const TAG_MAX = 64;

export const TASK_PRIORITIES = ['low', 'medium', 'high', 'critical'] as const;
export type TaskPriority = (typeof TASK_PRIORITIES)[number];
export const DEFAULT_PRIORITY: TaskPriority = 'medium';

/** The lab's build-out phases, in order. */
export const PHASES = {
  1: 'Control plane',
  2: 'Workers',
  3: 'GitOps',
  4: 'Core services',
  5: 'Applications',
} as const;
export type Phase = keyof typeof PHASES;

export const TASK_ID_PATTERN = /^T-\d{4,}$/;
/** RFC 3339 date-time with a `Z` or `±hh:mm` offset, e.g. `2025-01-03T10:00:00Z`. */
export const TIMESTAMP_PATTERN =
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;
/** A tag is one word: no spaces, no commas (chat commands split tag lists on them). */
export const TAG_PATTERN = /^[^\s,]+$/;
/** Inventory node names: x86, pi5, pi4-a, … */
export const NODE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

const timestamp = z
  .string()
  .regex(TIMESTAMP_PATTERN, 'must be a timestamp like 2025-01-03T10:00:00Z')
  .refine((s) => !Number.isNaN(Date.parse(s)), 'is not a valid date')
  .meta({ format: 'date-time' });

export const RequesterSchema = z.strictObject({
  platform: z.string().min(1),
  user_id: z.string().min(1),
  display_name: z.string().min(1),
});

export const TaskSchema = z.strictObject({
  id: z.string().regex(TASK_ID_PATTERN, 'must look like T-0042'),
  title: z.string().min(1).max(TITLE_MAX),
  description: z.string().max(DESCRIPTION_MAX).optional(),
  priority: z.enum(TASK_PRIORITIES),
  phase: z.int().min(1).max(5).optional(),
  tags: z.array(z.string().min(1).max(TAG_MAX).regex(TAG_PATTERN)).default([]),
  node: z.string().min(1).max(63).regex(NODE_PATTERN).optional(),
  created: timestamp,
  created_by: RequesterSchema,
  source: z.string().min(1).optional(),
  started: timestamp.optional(),
  completed: timestamp.optional(),
});

export type Task = z.output<typeof TaskSchema>;
export type TaskCreator = Task['created_by'];

/** Where a task is: which file holds it. */
export type TaskStatus = 'backlog' | 'in-progress' | 'done';
export const TASK_STATUSES: readonly TaskStatus[] = ['backlog', 'in-progress', 'done'];

/** The order fields are written in; hand-written files may use any order. */
export const TASK_FIELD_ORDER = [
  'id',
  'title',
  'description',
  'priority',
  'phase',
  'tags',
  'node',
  'created',
  'created_by',
  'source',
  'started',
  'completed',
] as const;
export type TaskField = (typeof TASK_FIELD_ORDER)[number];

/** Fields holding timestamps: written double-quoted so YAML 1.1 readers keep them strings. */
export const TIMESTAMP_FIELDS: ReadonlySet<string> = new Set(['created', 'started', 'completed']);

export function formatTaskId(n: number): string {
  return `T-${String(n).padStart(4, '0')}`;
}

/** The number of a task id (`T-0042` → 42), or undefined when it is not one. */
export function taskIdNumber(id: string): number | undefined {
  return TASK_ID_PATTERN.test(id) ? Number(id.slice(2)) : undefined;
}

/** A timestamp as the store writes it: UTC, whole seconds (`2025-01-03T10:00:00Z`). */
export function formatTimestamp(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
