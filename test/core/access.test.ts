import { describe, expect, it } from 'vitest';
import { AccessPolicy, matchesPattern, memberMatches } from '../../src/core/access.js';
import type { ChatUser } from '../../src/core/invocation.js';

const alice: ChatUser = { platform: 'discord', id: '111', displayName: 'alice', roles: ['900'] };
const bob: ChatUser = { platform: 'matrix', id: '@bob:lab.example', displayName: 'bob' };
const eve: ChatUser = { platform: 'discord', id: '666', displayName: 'eve' };

const READ = { sideEffects: false };
const CHANGE = { sideEffects: true };
const SENSITIVE = { sideEffects: false, needsRole: true };

const policy = new AccessPolicy({
  readOnly: 'open',
  roles: {
    admin: { members: ['console:*', 'discord:900'], allow: ['*'] },
    tasks: { members: ['matrix:@bob:lab.example'], allow: ['task.*', 'argo.sync'] },
  },
});

describe('access', () => {
  it('matches permission patterns', () => {
    expect(matchesPattern('*', 'node.reboot')).toBe(true);
    expect(matchesPattern('node.*', 'node.reboot')).toBe(true);
    expect(matchesPattern('node.*', 'nodes.reboot')).toBe(false);
    expect(matchesPattern('argo.sync', 'argo.sync')).toBe(true);
    expect(matchesPattern('argo.sync', 'argo.rollback')).toBe(false);
  });

  it('matches members by platform, user id, Discord role id and wildcard', () => {
    expect(memberMatches('discord:111', alice)).toBe(true);
    expect(memberMatches('discord:900', alice)).toBe(true);
    expect(memberMatches('matrix:111', alice)).toBe(false);
    expect(
      memberMatches('console:*', { platform: 'console', id: 'root', displayName: 'root' }),
    ).toBe(true);
    expect(memberMatches('discord:*', bob)).toBe(false);
  });

  it('opens read-only commands to everyone and guards side effects by role', () => {
    expect(policy.check(eve, 'node.list', READ).allowed).toBe(true);
    expect(policy.check(alice, 'node.reboot', CHANGE)).toEqual({ allowed: true, roles: ['admin'] });
    expect(policy.check(bob, 'task.add', CHANGE)).toEqual({ allowed: true, roles: ['tasks'] });
  });

  it('explains a denial: who, which roles would allow it, where to add the member', () => {
    const denied = policy.check(bob, 'node.reboot', CHANGE);
    expect(denied.allowed).toBe(false);
    expect(denied.reason).toBe(
      'Your roles (tasks) do not allow node.reboot. Roles that allow it: admin. An admin can add "matrix:@bob:lab.example" to one of them under access.roles.<role>.members.',
    );
    expect(policy.check(eve, 'task.add', CHANGE).reason).toMatch(
      /^You \(discord:666\) have no role\. Roles that allow it: admin, tasks\./,
    );
  });

  it('requires roles for read-only commands too when configured', () => {
    const strict = new AccessPolicy({
      readOnly: 'roles',
      roles: { ops: { members: ['discord:111'], allow: ['node.*'] } },
    });
    expect(strict.check(eve, 'node.list', READ).allowed).toBe(false);
    expect(strict.check(alice, 'node.list', READ).allowed).toBe(true);
  });

  it('requires a role for read-only actions marked needsRole, even when read-only is open', () => {
    const denied = policy.check(eve, 'node.logs', SENSITIVE);
    expect(denied.allowed).toBe(false);
    expect(denied.reason).toBe(
      'You (discord:666) have no role. node.logs needs a role although it changes nothing: it shows what only operators should see. Roles that allow it: admin. An admin can add "discord:666" to one of them under access.roles.<role>.members.',
    );
    expect(policy.check(bob, 'node.logs', SENSITIVE).allowed).toBe(false);
    expect(policy.check(alice, 'node.logs', SENSITIVE)).toEqual({
      allowed: true,
      roles: ['admin'],
    });
  });
});
