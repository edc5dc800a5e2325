/**
 * The RBAC the bot ships: every Role, ClusterRole, RoleBinding and ClusterRoleBinding among the
 * resources deploy/kustomization.yaml lists (read as test/deploy does, strict YAML), which
 * FakeKube authorizes against unless a test passes its own `rbac`.
 */
import { baseResources } from '../../deploy/manifests.js';
import type { RbacObject } from './rbac.js';

const KINDS = new Set(['ClusterRole', 'Role', 'ClusterRoleBinding', 'RoleBinding']);

export function shippedRbac(): RbacObject[] {
  return baseResources()
    .map((m) => m.doc)
    .filter((doc) => KINDS.has(doc.kind))
    .map((doc) => structuredClone(doc) as RbacObject);
}

/** The shipped objects with one verb taken out of the rules that grant it on `resource`. */
export function withoutGrant(
  objects: readonly RbacObject[],
  remove: { resource: string; verb: string },
): RbacObject[] {
  return objects.map((o) => {
    if (o.kind !== 'ClusterRole' && o.kind !== 'Role') return o;
    const rules = (o.rules ?? []).flatMap((r) => {
      if (!r.resources?.includes(remove.resource) || !r.verbs.includes(remove.verb)) return [r];
      const rest = { ...r, verbs: r.verbs.filter((v) => v !== remove.verb) };
      const others = r.resources.filter((x) => x !== remove.resource);
      return [
        ...(rest.verbs.length ? [rest] : []),
        ...(others.length ? [{ ...r, resources: others }] : []),
      ];
    });
    return { ...o, rules };
  });
}
