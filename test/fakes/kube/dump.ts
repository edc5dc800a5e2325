/** What the fake holds and saw, as text for a failing test's message. */
import type { AuthzDecision } from './rbac.js';
import type { ObjectStore } from './store.js';

export interface RequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  contentType: string;
  status: number;
  /** Who sent it: the authenticated user's name ('' when the token was refused). */
  user: string;
  /** It came over TLS (the fake's `tls: true` mode). */
  tls: boolean;
}

export interface DumpInput {
  store: ObjectStore;
  requests: RequestRecord[];
  unhandled: RequestRecord[];
  errors: string[];
  denied: AuthzDecision[];
  openWatches: number;
}

export function dumpFake(input: DumpInput): string {
  const { store, requests, unhandled, errors, denied, openWatches } = input;
  const nodes = store.list('nodes').map((n) => {
    const conditions = (n.status as { conditions: { type: string; status: string }[] }).conditions;
    const ready = conditions.find((c) => c.type === 'Ready')?.status;
    const cordoned = (n.spec as { unschedulable?: boolean }).unschedulable ? ' cordoned' : '';
    return `  ${n.metadata.name} Ready=${ready}${cordoned}`;
  });
  const pods = store.list('pods').map((p) => {
    const node = (p.spec as { nodeName?: string }).nodeName ?? '-';
    const terminating = p.metadata.deletionTimestamp ? ' Terminating' : '';
    return `  ${p.metadata.namespace}/${p.metadata.name} on ${node}${terminating}`;
  });
  const apps = store.list('applications').map((a) => {
    const s = a.status as { sync?: { status?: string }; operationState?: { phase?: string } };
    const op = a.operation ? ' (operation set)' : '';
    return `  ${a.metadata.name} ${s.sync?.status} op=${s.operationState?.phase ?? '-'}${op}`;
  });
  const reqs = requests.slice(-30).map((r) => {
    const q = Object.keys(r.query).length ? `?${new URLSearchParams(r.query)}` : '';
    return `  ${r.status} ${r.method} ${r.path}${q}`;
  });
  return [
    `nodes:\n${nodes.join('\n')}`,
    `pods:\n${pods.join('\n')}`,
    apps.length ? `applications:\n${apps.join('\n')}` : '',
    `open watches: ${openWatches}`,
    `last requests:\n${reqs.join('\n')}`,
    unhandled.length
      ? `UNHANDLED:\n${unhandled.map((r) => `  ${r.method} ${r.path}`).join('\n')}`
      : '',
    denied.length ? `FORBIDDEN (RBAC):\n${denied.map((d) => `  ${d.reason}`).join('\n')}` : '',
    errors.length ? `FAKE KUBE ERRORS:\n${errors.join('\n')}` : '',
  ]
    .filter(Boolean)
    .join('\n');
}
