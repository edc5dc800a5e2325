/**
 * The API server's RBAC authorizer over Roles, ClusterRoles and their bindings, as the fake is
 * given them (parsed YAML: deploy/*.yaml through shipped-rbac.ts, or a test's own). Follows
 * kubernetes/kubernetes:
 * - plugin/pkg/auth/authorizer/rbac/rbac.go: RuleAllows — verb, API group, resource (the
 *   request's `resource/subresource`, or `*`, or `* /subresource`) and resourceNames must all
 *   match; non-resource requests match nonResourceURLs (exact, `*`, or a `prefix*`). The first
 *   rule that allows wins ("RBAC: allowed by <binding>"); nothing allowing is a denial whose
 *   reason lists only resolution errors (a binding to a missing role).
 * - pkg/registry/rbac/validation/rule.go: VisitRulesFor — every ClusterRoleBinding's role applies
 *   everywhere; a RoleBinding's (to a Role of its namespace or to a ClusterRole) only in its
 *   namespace. Subjects: User by name, Group by the user's groups, ServiceAccount as
 *   `system:serviceaccount:<ns>:<name>` (namespace defaulting to the binding's); sources are
 *   described `ClusterRoleBinding "b" of ClusterRole "r" to ServiceAccount "name/ns"`.
 * - A user in `system:masters` is allowed everything before RBAC is asked (the privileged-group
 *   authorizer). Every authenticated user may read /version, /healthz, /api, /apis… (the
 *   bootstrap ClusterRoles system:public-info-viewer and system:discovery, bound to
 *   system:authenticated), added here as on any cluster.
 * - The denial: staging/src/k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/errors.go
 *   (Forbidden, forbiddenMessage) inside apimachinery pkg/api/errors NewForbidden:
 *   `nodes "pi4-a" is forbidden: User "system:serviceaccount:chatops:homelab-chatops" cannot patch
 *   resource "nodes" in API group "" at the cluster scope` (`… in the namespace "argocd"`),
 *   reason Forbidden, details {name, group, kind: <resource>}, code 403.
 */

import { appliesTo, describeBinding, forbiddenText, ruleAllows } from './rbac-match.js';
import type { RequestInfo } from './request-info.js';

export { forbidden } from './rbac-match.js';

export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

export interface Subject {
  kind: 'User' | 'Group' | 'ServiceAccount';
  name: string;
  namespace?: string;
}

interface Meta {
  name: string;
  namespace?: string;
}

export type RbacObject =
  | { kind: 'ClusterRole' | 'Role'; metadata: Meta; rules?: PolicyRule[] }
  | {
      kind: 'ClusterRoleBinding' | 'RoleBinding';
      metadata: Meta;
      roleRef: { apiGroup?: string; kind: 'ClusterRole' | 'Role'; name: string };
      subjects?: Subject[];
    };

export interface UserInfo {
  name: string;
  groups: string[];
}

/** The bot's identity: the ServiceAccount homelab-chatops in chatops (deploy/serviceaccount.yaml). */
export const BOT_SERVICE_ACCOUNT: UserInfo = serviceAccountUser('chatops', 'homelab-chatops');
/** Whoever pokes the fake from a test as cluster admin (the kubeconfig of `kube.adminKubeconfigFile`). */
export const ADMIN_USER: UserInfo = {
  name: 'fake-admin',
  groups: ['system:masters', 'system:authenticated'],
};

export function serviceAccountUser(namespace: string, name: string): UserInfo {
  return {
    name: `system:serviceaccount:${namespace}:${name}`,
    groups: [
      'system:serviceaccounts',
      `system:serviceaccounts:${namespace}`,
      'system:authenticated',
    ],
  };
}

/** One verb on one resource (or URL) of one rule of a role: the unit a least-privilege test counts. */
export interface Grant {
  /** `ClusterRole homelab-chatops`, `Role argocd/homelab-chatops`. */
  role: string;
  /** Index of the rule in the role's `rules`. */
  rule: number;
  apiGroup: string;
  /** `nodes`, `pods/eviction`, or a non-resource URL such as `/version`. */
  resource: string;
  verb: string;
}

export const grantKey = (g: Grant) =>
  `${g.role} rules[${g.rule}]: ${g.verb} ${g.resource}${g.apiGroup ? `.${g.apiGroup}` : ''}`;

export interface AuthzDecision {
  user: string;
  verb: string;
  apiGroup: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  path: string;
  allowed: boolean;
  /** `RBAC: allowed by …`, `system:masters`, or the 403 message. */
  reason: string;
  /** The rule entry that allowed it (none for system:masters). */
  grant?: Grant;
}

const roleId = (kind: string, m: Meta) =>
  kind === 'Role' ? `Role ${m.namespace}/${m.name}` : `ClusterRole ${m.name}`;

/** Every verb × resource × group (and verb × URL) entry of the roles: what a test must see used. */
export function grantsOf(objects: readonly RbacObject[]): Grant[] {
  const out: Grant[] = [];
  for (const o of objects) {
    if (o.kind !== 'ClusterRole' && o.kind !== 'Role') continue;
    (o.rules ?? []).forEach((r, rule) => {
      const role = roleId(o.kind, o.metadata);
      for (const verb of r.verbs) {
        for (const apiGroup of r.apiGroups ?? []) {
          for (const resource of r.resources ?? []) {
            out.push({ role, rule, apiGroup, resource, verb });
          }
        }
        for (const url of r.nonResourceURLs ?? []) {
          out.push({ role, rule, apiGroup: '', resource: url, verb });
        }
      }
    });
  }
  return out;
}

const BOOTSTRAP: RbacObject[] = [
  {
    kind: 'ClusterRole',
    metadata: { name: 'system:public-info-viewer' },
    rules: [
      {
        verbs: ['get'],
        nonResourceURLs: ['/healthz', '/livez', '/readyz', '/version', '/version/'],
      },
    ],
  },
  {
    kind: 'ClusterRole',
    metadata: { name: 'system:discovery' },
    rules: [
      {
        verbs: ['get'],
        nonResourceURLs: [
          '/api',
          '/api/*',
          '/apis',
          '/apis/*',
          '/openapi',
          '/openapi/*',
          '/version',
          '/version/',
        ],
      },
    ],
  },
  ...['system:public-info-viewer', 'system:discovery'].map(
    (name): RbacObject => ({
      kind: 'ClusterRoleBinding',
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ kind: 'Group', name: 'system:authenticated' }],
    }),
  ),
];

export type Binding = Extract<RbacObject, { roleRef: unknown }>;
type Role = Exclude<RbacObject, Binding>;

export class RbacAuthorizer {
  readonly decisions: AuthzDecision[] = [];
  private readonly objects: RbacObject[];

  constructor(objects: readonly RbacObject[]) {
    for (const o of objects) {
      if (!['ClusterRole', 'Role', 'ClusterRoleBinding', 'RoleBinding'].includes(o.kind)) {
        throw new Error(`FakeKube RBAC: not an RBAC object: ${JSON.stringify(o).slice(0, 120)}`);
      }
      if ((o.kind === 'Role' || o.kind === 'RoleBinding') && !o.metadata.namespace) {
        throw new Error(`FakeKube RBAC: ${o.kind} ${o.metadata.name} has no namespace`);
      }
    }
    this.objects = [...objects, ...BOOTSTRAP];
  }

  /** Decides (and records) one request; a denial's reason is the API server's 403 message. */
  authorize(user: UserInfo, info: RequestInfo): AuthzDecision {
    const base = {
      user: user.name,
      verb: info.verb,
      apiGroup: info.apiGroup,
      resource: info.resource,
      subresource: info.subresource,
      namespace: info.namespace,
      name: info.name,
      path: info.path,
    };
    let decision: AuthzDecision;
    if (user.groups.includes('system:masters')) {
      decision = { ...base, allowed: true, reason: 'system:masters' };
    } else {
      const { grant, source, errors } = this.visit(user, info);
      decision = grant
        ? { ...base, allowed: true, reason: `RBAC: allowed by ${source}`, grant }
        : { ...base, allowed: false, reason: forbiddenText(user, info, errors) };
    }
    this.decisions.push(decision);
    return decision;
  }

  /** VisitRulesFor + authorizingVisitor: the first rule entry that allows, or the errors met. */
  private visit(user: UserInfo, info: RequestInfo) {
    const errors: string[] = [];
    const bindings = [
      ...this.objects.filter((o): o is Binding => o.kind === 'ClusterRoleBinding'),
      ...(info.namespace
        ? this.objects.filter(
            (o): o is Binding =>
              o.kind === 'RoleBinding' && o.metadata.namespace === info.namespace,
          )
        : []),
    ];
    for (const b of bindings) {
      const ns = b.kind === 'RoleBinding' ? (b.metadata.namespace ?? '') : '';
      const subject = (b.subjects ?? []).find((s) => appliesTo(user, s, ns));
      if (!subject) continue;
      const role = this.role(b.roleRef.kind, b.roleRef.name, ns);
      if (!role) {
        const what = b.roleRef.kind === 'Role' ? 'role' : 'clusterrole';
        errors.push(`${what}.rbac.authorization.k8s.io "${b.roleRef.name}" not found`);
        continue;
      }
      for (const [index, rule] of (role.rules ?? []).entries()) {
        const entry = ruleAllows(info, rule);
        if (!entry) continue;
        const grant: Grant = { role: roleId(role.kind, role.metadata), rule: index, ...entry };
        return { grant, source: describeBinding(b, subject), errors };
      }
    }
    return { errors };
  }

  private role(kind: 'Role' | 'ClusterRole', name: string, ns: string): Role | undefined {
    return this.objects.find(
      (o): o is Role =>
        o.kind === kind &&
        o.metadata.name === name &&
        (kind === 'ClusterRole' || o.metadata.namespace === ns),
    );
  }
}
