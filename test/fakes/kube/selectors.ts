/**
 * Field and label selectors as the API server reads them. Like the real one, each resource
 * supports only some field labels; any other answers 400 "field label not supported".
 */
import type { KObject, Resource } from './store.js';

const FIELD_LABELS: Record<Resource, string[]> = {
  nodes: ['metadata.name', 'spec.unschedulable'],
  namespaces: ['metadata.name', 'status.phase'],
  pods: [
    'metadata.name',
    'metadata.namespace',
    'spec.nodeName',
    'spec.restartPolicy',
    'spec.schedulerName',
    'spec.serviceAccountName',
    'status.phase',
    'status.podIP',
  ],
  applications: ['metadata.name', 'metadata.namespace'],
  'lh-volumes': ['metadata.name', 'metadata.namespace'],
  'lh-replicas': ['metadata.name', 'metadata.namespace'],
  'lh-engines': ['metadata.name', 'metadata.namespace'],
  'lh-nodes': ['metadata.name', 'metadata.namespace'],
  'lh-settings': ['metadata.name', 'metadata.namespace'],
  'lh-backups': ['metadata.name', 'metadata.namespace'],
};

interface Term {
  path: string;
  op: '=' | '!=';
  value: string;
}

export type Selector = (obj: KObject) => boolean;

export class SelectorError extends Error {}

function terms(selector: string): Term[] {
  return selector
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(s);
      if (!m) throw new SelectorError(`invalid selector: '${s}'`);
      return { path: m[1]!, op: m[2] === '!=' ? '!=' : '=', value: m[3]! };
    });
}

function lookup(obj: unknown, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur === undefined || cur === null ? '' : String(cur);
}

/** `spec.nodeName=pi4-a,metadata.namespace!=kube-system` → a predicate. */
export function fieldSelector(resource: Resource, selector: string | undefined): Selector {
  if (!selector) return () => true;
  const ts = terms(selector);
  for (const t of ts) {
    if (!FIELD_LABELS[resource].includes(t.path)) {
      throw new SelectorError(`field label not supported: ${t.path}`);
    }
  }
  return (obj) =>
    ts.every((t) => {
      // spec.unschedulable is "false" when unset, as the real field selector sees it.
      const v = lookup(obj, t.path) || (t.path === 'spec.unschedulable' ? 'false' : '');
      return t.op === '=' ? v === t.value : v !== t.value;
    });
}

/** Equality-based label selectors: `app=web`, `tier!=db`, `app` (exists), `!app`. */
export function labelSelector(selector: string | undefined): Selector {
  if (!selector) return () => true;
  const parts = selector
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return (obj) => {
    const labels = obj.metadata.labels ?? {};
    return parts.every((p) => {
      if (p.startsWith('!')) return !(p.slice(1) in labels);
      if (!/[=!]/.test(p)) return p in labels;
      const t = terms(p)[0]!;
      return t.op === '=' ? labels[t.path] === t.value : labels[t.path] !== t.value;
    });
  };
}
