import { z } from 'zod';
import { type Matcher, matches, parseMatchers } from './matchers.js';
import { own } from './records.js';
import { type Destination, destinationKey, type RoutedDestination } from './types.js';

/**
 * Where alert groups go: `alerts.routes` (first match wins unless `continue: true`) and
 * `alerts.default` (when no route matched). The schema's output keeps the input's shape
 * (matcher strings, `{ discord: "…" }`), so the effective config prints and re-validates as
 * written; matchers are checked here and compiled once per config object in `route()`.
 */

const DestinationSchema = z
  .strictObject({
    discord: z.string().regex(/^\d+$/, 'a Discord channel id (digits)').optional(),
    matrix: z
      .string()
      .regex(/^![^:\s]+:\S+$/, 'a Matrix room id like !abc:example.org (not an alias)')
      .optional(),
    console: z.literal(true).optional(),
  })
  .refine(
    (d) => [d.discord, d.matrix, d.console].filter((v) => v !== undefined).length === 1,
    'set exactly one of discord, matrix or console',
  );

const MatchSchema = z.array(z.string()).superRefine((list, ctx) => {
  list.forEach((m, i) => {
    try {
      parseMatchers(m);
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: [i], message: (err as Error).message });
    }
  });
});

/** Severity label value → mentions (Discord `<@&role>`/`<@user>`, Matrix user ids). */
const MentionsSchema = z.record(z.string(), z.array(z.string().min(1)));

export const AlertRouteSchema = z.strictObject({
  /** All must match the group's labels (commonLabels merged with groupLabels); none = any group. */
  match: MatchSchema.default([]),
  /** An empty list drops the groups this route catches (like a null receiver). */
  to: z.array(DestinationSchema),
  mentions: MentionsSchema.default({}),
  /** Keep looking at the following routes after this one matched. */
  continue: z.boolean().default(false),
});

export const AlertRoutesSchema = z.strictObject({
  routes: z.array(AlertRouteSchema).default([]),
  /** For groups no route matched. */
  default: z
    .strictObject({ to: z.array(DestinationSchema), mentions: MentionsSchema.default({}) })
    .prefault({ to: [{ console: true }] }),
});

export type AlertRoutesConfig = z.output<typeof AlertRoutesSchema>;
export type AlertRoute = z.output<typeof AlertRouteSchema>;
type DestinationConfig = z.output<typeof DestinationSchema>;

export interface GroupLabels {
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
}

export function toDestination(d: DestinationConfig): Destination {
  if (d.discord !== undefined) return { platform: 'discord', target: d.discord };
  if (d.matrix !== undefined) return { platform: 'matrix', target: d.matrix };
  return { platform: 'console', target: 'console' };
}

const compiled = new WeakMap<AlertRoute, Matcher[]>();

function matchersOf(r: AlertRoute): Matcher[] {
  let ms = compiled.get(r);
  if (!ms) {
    ms = parseMatchers(r.match);
    compiled.set(r, ms);
  }
  return ms;
}

/**
 * A route's mentions are one list for all its destinations; each platform gets the ones it
 * can ping: Discord `<@user>`/`<@&role>`, Matrix `@user:server` (and `@room`). The console
 * pings nobody.
 */
function mentionFits(mention: string, dest: Destination): boolean {
  if (dest.platform === 'discord') return /^<@[!&]?\d+>$/.test(mention);
  if (dest.platform === 'matrix') return /^@[^:\s]+:\S+$/.test(mention) || mention === '@room';
  return false;
}

/**
 * The destinations of one group, each once, in the order routes name them; mentions for
 * the group's `severity` label, merged over every route that sends to the destination.
 */
export function route(config: AlertRoutesConfig, group: GroupLabels): RoutedDestination[] {
  const labels = { ...group.commonLabels, ...group.groupLabels };
  const severity = own(labels, 'severity') ?? '';
  const out = new Map<string, RoutedDestination>();
  const add = (to: DestinationConfig[], mentions: Record<string, string[]>) => {
    for (const d of to) {
      const dest = toDestination(d);
      const key = destinationKey(dest);
      const entry = out.get(key) ?? { ...dest, mentions: [] };
      for (const m of own(mentions, severity) ?? []) {
        if (mentionFits(m, dest) && !entry.mentions.includes(m)) entry.mentions.push(m);
      }
      out.set(key, entry);
    }
  };
  let matched = false;
  for (const r of config.routes) {
    if (!matches(matchersOf(r), labels)) continue;
    matched = true;
    add(r.to, r.mentions);
    if (!r.continue) break;
  }
  if (!matched) add(config.default.to, config.default.mentions);
  return [...out.values()];
}
