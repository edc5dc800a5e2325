/**
 * Which mentions in a message would notify someone — discord-api-docs
 * `developers/resources/message.mdx` ("Allowed Mentions Object", "Edit Message") and
 * `developers/resources/webhook.mdx` ("Edit Webhook Message"):
 *
 * - Without `allowed_mentions`, regular (bot-token) messages parse users, roles and everyone;
 *   interaction responses and webhook messages parse users only.
 * - An edit that changes `content` reconstructs the mentions from the new content with the edit's
 *   own `allowed_mentions`, or the defaults — never with the one the message was created with.
 * - `parse` holds `users`/`roles`/`everyone`; `users`/`roles` list ids that may ping. `parse:
 *   ["users"]` together with `users: [...]` (or roles likewise) is a 400; ≤ 100 ids each.
 *
 * Deliberately stricter than Discord (a "would ping" check): the bot is assumed to have
 * MENTION_EVERYONE and every role to be mentionable; mentions inside code spans count. Only a
 * backslash-escaped `\<@…>` is text. Components V2 text is not looked at (the bot does not use it).
 */

import { isObject, type Json } from './util.js';
import type { ErrorCollector } from './validate.js';

export type MentionType = 'users' | 'roles' | 'everyone';

/** A mention that would notify: `@everyone`/`@here`, a user or a role. */
export interface Ping {
  kind: 'everyone' | 'here' | 'user' | 'role';
  /** User or role id. */
  id?: string;
  messageId: string;
  channelId: string;
  /** `POST /channels/:id/messages`, `PATCH /webhooks/:id/:token/messages/:id`, … */
  route: string;
  edit: boolean;
  /** The `allowed_mentions` the request carried (undefined: none). */
  allowedMentions: Json | undefined;
  content: string;
}

export const DEFAULT_PARSE = {
  /** Messages sent and edited with the bot token. */
  channel: ['users', 'roles', 'everyone'] as MentionType[],
  /** Interaction callbacks, follow-ups and webhook edits. */
  webhook: ['users'] as MentionType[],
};

/** The mentions written in `content`, in order (escaped ones excluded). */
export function mentionsIn(content: string): Pick<Ping, 'kind' | 'id'>[] {
  const out: Pick<Ping, 'kind' | 'id'>[] = [];
  const re = /(\\?)(?:@(everyone|here)|<@(&?)!?(\d+)>)/g;
  for (const m of content.matchAll(re)) {
    if (m[1]) continue;
    if (m[2]) out.push({ kind: m[2] as 'everyone' | 'here' });
    else out.push({ kind: m[3] ? 'role' : 'user', id: m[4]! });
  }
  return out;
}

const ids = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];

/** The mentions of `content` that would ping under `allowed` (or the context's defaults). */
export function wouldPing(
  content: string,
  allowed: Json | undefined,
  defaults: readonly MentionType[],
): Pick<Ping, 'kind' | 'id'>[] {
  const given = isObject(allowed) ? allowed : undefined;
  const parse = given ? (ids(given.parse) as MentionType[]) : [...defaults];
  const users = given ? ids(given.users) : [];
  const roles = given ? ids(given.roles) : [];
  return mentionsIn(content).filter((m) => {
    if (m.kind === 'everyone' || m.kind === 'here') return parse.includes('everyone');
    if (m.kind === 'user') return parse.includes('users') || users.includes(m.id!);
    return parse.includes('roles') || roles.includes(m.id!);
  });
}

/** Discord's 400s for an `allowed_mentions` object. */
export function validateAllowedMentions(
  e: ErrorCollector,
  value: unknown,
  base: (string | number)[],
): void {
  if (value === undefined || value === null) return;
  const p = [...base, 'allowed_mentions'];
  if (!isObject(value)) {
    e.add(p, 'MODEL_TYPE_CONVERT', 'Only dictionaries may be used in a ModelType');
    return;
  }
  const parse = ids(value.parse);
  for (const [i, t] of parse.entries()) {
    if (!['users', 'roles', 'everyone'].includes(t))
      e.add(
        [...p, 'parse', i],
        'BASE_TYPE_CHOICES',
        `Value must be one of {'users', 'roles', 'everyone'}.`,
      );
  }
  for (const kind of ['users', 'roles'] as const) {
    const list = ids(value[kind]);
    e.arrayMax([...p, kind], value[kind], 100);
    if (parse.includes(kind) && list.length > 0) {
      e.add(
        p,
        'MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE',
        `parse:["${kind}"] and ${kind}: [ids...] are mutually exclusive.`,
      );
    }
  }
}
