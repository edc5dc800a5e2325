import type { Config } from '../config/schema.js';
import type { Action } from './command.js';
import type { ChatUser } from './invocation.js';

export interface AccessDecision {
  allowed: boolean;
  /** Roles of the user that matched (for the audit log). */
  roles: string[];
  /** Why not, in words the user can act on. */
  reason?: string;
}

/** `*`, `node.*`, `node.reboot`, `help` */
export function matchesPattern(pattern: string, permission: string): boolean {
  if (pattern === '*' || pattern === permission) return true;
  if (pattern.endsWith('.*')) {
    const prefix = pattern.slice(0, -2);
    return permission === prefix || permission.startsWith(`${prefix}.`);
  }
  return false;
}

/** Does a role member entry (`discord:123`, `console:*`, `matrix:@a:b`) cover this user? */
export function memberMatches(member: string, user: ChatUser): boolean {
  const colon = member.indexOf(':');
  const platform = member.slice(0, colon);
  const id = member.slice(colon + 1);
  if (platform !== user.platform) return false;
  if (id === '*' || id === user.id) return true;
  if (user.platform === 'matrix') {
    // matrix:powerlevel>=50 — everyone with at least that power level in the room. The Matrix
    // adapter sets powerLevel only in the configured rooms (chat.matrix.rooms): anyone can make
    // a room of her own, where she has level 100.
    const pl = /^powerlevel>=(\d+)$/.exec(id);
    return pl !== null && user.powerLevel !== undefined && user.powerLevel >= Number(pl[1]);
  }
  return user.platform === 'discord' && (user.roles ?? []).includes(id);
}

/** What the policy needs to know about an action: does it change things, or need a role anyway. */
export type Guarded = Pick<Action, 'sideEffects' | 'needsRole'>;

/**
 * Who may do what. Roles map members per platform to permission patterns. Read-only
 * actions are open to everyone unless `access.readOnly: roles`; side-effecting ones, and
 * read-only ones marked `needsRole`, always need a role whose `allow` matches.
 */
export class AccessPolicy {
  constructor(private readonly access: Config['access']) {}

  /** Whether any rule looks at Matrix power levels (so adapters fetch them only then). */
  usesPowerLevels(): boolean {
    return Object.values(this.access.roles).some((r) =>
      r.members.some((m) => m.startsWith('matrix:powerlevel>=')),
    );
  }

  /** Matrix user ids named in any role: who may invite the bot into a room. */
  matrixMembers(): string[] {
    return Object.values(this.access.roles).flatMap((r) =>
      r.members.filter((m) => m.startsWith('matrix:@')).map((m) => m.slice('matrix:'.length)),
    );
  }

  rolesOf(user: ChatUser): string[] {
    return Object.entries(this.access.roles)
      .filter(([, role]) => role.members.some((m) => memberMatches(m, user)))
      .map(([name]) => name);
  }

  check(user: ChatUser, permission: string, action: Guarded): AccessDecision {
    const roles = this.rolesOf(user);
    const open = this.access.readOnly === 'open';
    if (!action.sideEffects && !action.needsRole && open) return { allowed: true, roles };
    const granting = roles.filter((r) =>
      this.access.roles[r]!.allow.some((p) => matchesPattern(p, permission)),
    );
    if (granting.length > 0) return { allowed: true, roles: granting };
    const could = Object.entries(this.access.roles)
      .filter(([, role]) => role.allow.some((p) => matchesPattern(p, permission)))
      .map(([name]) => name);
    const who = `${user.platform}:${user.id}`;
    const yours =
      roles.length > 0
        ? `Your roles (${roles.join(', ')}) do not allow ${permission}.`
        : `You (${who}) have no role.`;
    const fix =
      could.length > 0
        ? `Roles that allow it: ${could.join(', ')}. An admin can add "${who}" to one of them under access.roles.<role>.members.`
        : `No role allows ${permission}; an admin can add it to a role's allow list in access.roles.`;
    const why =
      !action.sideEffects && open
        ? ` ${permission} needs a role although it changes nothing: it shows what only operators should see.`
        : '';
    return { allowed: false, roles, reason: `${yours}${why} ${fix}` };
  }
}
