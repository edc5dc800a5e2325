/**
 * How one request meets one rule, subject and denial, after kubernetes/kubernetes (see rbac.ts):
 * RuleAllows (plugin/pkg/auth/authorizer/rbac/rbac.go) with VerbMatches, APIGroupMatches,
 * ResourceMatches, ResourceNameMatches, NonResourceURLMatches (pkg/apis/rbac/v1/
 * evaluation_helpers.go); appliesToUser and the binding describers (pkg/registry/rbac/validation/
 * rule.go); the 403 text (apiserver responsewriters/errors.go forbiddenMessage, apimachinery
 * api/errors NewForbidden).
 */
import type { AuthzDecision, Binding, PolicyRule, Subject, UserInfo } from './rbac.js';
import type { RequestInfo } from './request-info.js';
import { ApiError } from './status.js';

export function appliesTo(user: UserInfo, s: Subject, bindingNamespace: string): boolean {
  switch (s.kind) {
    case 'User':
      return user.name === s.name;
    case 'Group':
      return user.groups.includes(s.name);
    case 'ServiceAccount': {
      const ns = s.namespace || bindingNamespace;
      return ns !== '' && user.name === `system:serviceaccount:${ns}:${s.name}`;
    }
    default:
      return false;
  }
}

export function describeBinding(b: Binding, s: Subject): string {
  const ns = b.kind === 'RoleBinding' ? (b.metadata.namespace ?? '') : '';
  const who =
    s.kind === 'ServiceAccount'
      ? `${s.kind} "${s.name}/${s.namespace || ns}"`
      : `${s.kind} "${s.name}"`;
  const name = b.kind === 'RoleBinding' ? `${b.metadata.name}/${ns}` : b.metadata.name;
  return `${b.kind} "${name}" of ${b.roleRef.kind} "${b.roleRef.name}" to ${who}`;
}

/** RuleAllows; the matching entry (verb, group, resource or URL as the rule spells them). */
export function ruleAllows(
  info: RequestInfo,
  rule: PolicyRule,
): { verb: string; apiGroup: string; resource: string } | undefined {
  const verb = rule.verbs.find((v) => v === '*' || v === info.verb);
  if (verb === undefined) return undefined;
  if (!info.isResourceRequest) {
    const url = (rule.nonResourceURLs ?? []).find(
      (u) =>
        u === '*' ||
        u === info.path ||
        (u.endsWith('*') && info.path.startsWith(u.replace(/\*+$/, ''))),
    );
    return url === undefined ? undefined : { verb, apiGroup: '', resource: url };
  }
  const apiGroup = (rule.apiGroups ?? []).find((g) => g === '*' || g === info.apiGroup);
  if (apiGroup === undefined) return undefined;
  const combined = info.subresource ? `${info.resource}/${info.subresource}` : info.resource;
  const resource = (rule.resources ?? []).find(
    (r) =>
      r === '*' || r === combined || (info.subresource !== '' && r === `*/${info.subresource}`),
  );
  if (resource === undefined) return undefined;
  const names = rule.resourceNames ?? [];
  if (names.length > 0 && !names.includes(info.name)) return undefined;
  return { verb, apiGroup, resource };
}

/** forbiddenMessage inside NewForbidden, with the authorizer's reason when it has one. */
export function forbiddenText(user: UserInfo, info: RequestInfo, errors: string[]): string {
  let msg: string;
  if (!info.isResourceRequest) {
    msg = `User "${user.name}" cannot ${info.verb} path "${info.path}"`;
  } else {
    const resource = info.subresource ? `${info.resource}/${info.subresource}` : info.resource;
    const scope = info.namespace ? `in the namespace "${info.namespace}"` : 'at the cluster scope';
    msg = `User "${user.name}" cannot ${info.verb} resource "${resource}" in API group "${info.apiGroup}" ${scope}`;
  }
  msg = msg.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const unique = [...new Set(errors)];
  if (unique.length > 0) {
    msg += `: RBAC: ${unique.length === 1 ? unique[0] : `[${unique.join(', ')}]`}`;
  }
  if (!info.isResourceRequest || !info.resource) return `forbidden: ${msg}`;
  const qualified = info.apiGroup ? `${info.resource}.${info.apiGroup}` : info.resource;
  return info.name
    ? `${qualified} "${info.name}" is forbidden: ${msg}`
    : `${qualified} is forbidden: ${msg}`;
}

/** The 403 Status for a denial (errors.go Forbidden → NewForbidden). */
export function forbidden(info: RequestInfo, decision: AuthzDecision): ApiError {
  return new ApiError(403, 'Forbidden', decision.reason, {
    ...(info.name ? { name: info.name } : {}),
    ...(info.apiGroup ? { group: info.apiGroup } : {}),
    ...(info.isResourceRequest && info.resource ? { kind: info.resource } : {}),
  });
}
