import { z } from 'zod';
import { recordOf } from './records.js';
import type { WebhookPayload } from './types.js';

/**
 * The Alertmanager webhook payload (version "4"), validated before anything is stored.
 * Unknown extra fields are accepted and dropped (a newer Alertmanager may add some);
 * missing or mistyped required fields are refused with a reason that names the field, so
 * the webhook can answer 400 — which Alertmanager never retries — only for requests that
 * can never succeed.
 */

export const MAX_ALERTS = 10_000;
/** Per label or annotation value, in UTF-8 bytes. */
export const MAX_VALUE_BYTES = 64 * 1024;

const value = z.string().superRefine((v, ctx) => {
  // Cheap bound first: a UTF-16 code unit is at most 3 UTF-8 bytes.
  if (v.length * 3 <= MAX_VALUE_BYTES) return;
  const bytes = Buffer.byteLength(v, 'utf8');
  if (bytes > MAX_VALUE_BYTES) {
    ctx.addIssue({ code: 'custom', message: `longer than 64 KiB (${bytes} bytes)` });
  }
});

/**
 * A label or annotation set: an object of strings. Not `z.record`, which builds its output
 * by assignment on a plain object, so a label named `__proto__` would vanish: every name is
 * kept as data here (an own property, see records.ts).
 */
const labelSet = z.custom<Record<string, string>>().transform((input, ctx) => {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    ctx.addIssue({ code: 'invalid_type', expected: 'record', input, message: 'expected object' });
    return z.NEVER;
  }
  const entries: [string, string][] = [];
  for (const [name, v] of Object.entries(input)) {
    const r = value.safeParse(v, { reportInput: true });
    if (r.success) entries.push([name, r.data]);
    else
      for (const issue of r.error.issues) ctx.addIssue({ ...issue, path: [name, ...issue.path] });
  }
  return recordOf(entries);
});

const timestamp = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)), 'expected an RFC 3339 timestamp');

const status = z.enum(['firing', 'resolved']);

const AlertSchema = z.object({
  status,
  labels: labelSet,
  annotations: labelSet,
  startsAt: timestamp,
  endsAt: timestamp,
  generatorURL: z.string(),
  fingerprint: z.string().min(1, 'must not be empty'),
});

export const WebhookPayloadSchema = z.object({
  version: z.literal('4'),
  receiver: z.string(),
  status,
  alerts: z.array(AlertSchema).max(MAX_ALERTS, `at most ${MAX_ALERTS} alerts`),
  groupLabels: labelSet,
  commonLabels: labelSet,
  commonAnnotations: labelSet,
  externalURL: z.string(),
  groupKey: z.string().min(1, 'must not be empty'),
  /** Added to version 4 by Alertmanager 0.22 without a version bump: absent means none. */
  truncatedAlerts: z.int().min(0, 'must be 0 or more').default(0),
});

export type ParseResult = { ok: true; payload: WebhookPayload } | { ok: false; reason: string };

/** At most this many problems are listed in a reason; the rest are counted. */
const MAX_LISTED = 5;

export function parsePayload(body: unknown): ParseResult {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, reason: `expected a JSON object, got ${typeName(body)}` };
  }
  const parsed = WebhookPayloadSchema.safeParse(body, { reportInput: true });
  if (parsed.success) return { ok: true, payload: parsed.data };
  const issues = parsed.error.issues;
  const listed = issues.slice(0, MAX_LISTED).map((i) => `${formatPath(i.path)}: ${describe(i)}`);
  if (issues.length > MAX_LISTED) listed.push(`(and ${issues.length - MAX_LISTED} more)`);
  return { ok: false, reason: listed.join('; ') };
}

/** `alerts[2].labels.severity`; keys that are not identifiers are quoted: `labels["a b"]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const k of path) {
    if (typeof k === 'number') out += `[${k}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(String(k))) out += `${out ? '.' : ''}${String(k)}`;
    else out += `[${JSON.stringify(String(k))}]`;
  }
  return out || '(payload)';
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `a string (${show(v)})`;
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${v}`;
  return typeof v;
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return typeName(v);
}

function describe(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined
        ? 'required'
        : `expected ${issue.expected === 'record' ? 'object' : issue.expected}, got ${typeName(issue.input)}`;
    case 'invalid_value': {
      if (issue.input === undefined) return 'required';
      const want = issue.values.map((v) => JSON.stringify(v));
      const expected = want.length === 1 ? want[0] : `one of ${want.join(', ')}`;
      return `expected ${expected}, got ${show(issue.input)}`;
    }
    default:
      return issue.message;
  }
}
