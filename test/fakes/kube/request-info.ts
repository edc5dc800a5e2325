/**
 * What a request asks for, in the authorizer's terms: kubernetes/kubernetes
 * staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go (NewRequestInfo), with
 * APIPrefixes {api, apis} and GrouplessAPIPrefixes {api}:
 *   /api/v1/nodes                           list nodes (watch with ?watch= anything but false/0)
 *   /api/v1/nodes/pi4-a                     get | patch (PATCH) | update (PUT) | delete nodes "pi4-a"
 *   /api/v1/namespaces/apps/pods/web/eviction   create pods/eviction "web" in the namespace apps
 *   /api/v1/namespaces/apps                 get namespaces "apps" (a namespace is a resource too)
 *   /api/v1/watch/nodes                     watch nodes (the old special verb)
 *   /version, /api, /apis, /healthz         non-resource requests: verb = the lowercase method
 * POST = create, GET/HEAD = get (list / watch without a name), PUT = update, PATCH = patch,
 * DELETE = delete (deletecollection without a name).
 */

export interface RequestInfo {
  isResourceRequest: boolean;
  path: string;
  verb: string;
  apiGroup: string;
  apiVersion: string;
  namespace: string;
  resource: string;
  subresource: string;
  name: string;
}

const METHOD_VERBS: Record<string, string> = {
  POST: 'create',
  GET: 'get',
  HEAD: 'get',
  PUT: 'update',
  PATCH: 'patch',
  DELETE: 'delete',
};

/** `watch` and `proxy` as the first part after the version (proxy takes no subresource). */
const SPECIAL_VERBS = new Set(['proxy', 'watch']);
/** /api/v1/namespaces/{ns}/status and …/finalize are the namespace's own subresources. */
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

export function requestInfo(method: string, path: string, query: URLSearchParams): RequestInfo {
  const info: RequestInfo = {
    isResourceRequest: false,
    path,
    verb: method.toLowerCase(),
    apiGroup: '',
    apiVersion: '',
    namespace: '',
    resource: '',
    subresource: '',
    name: '',
  };
  const trimmed = path.replace(/^\/+|\/+$/g, '');
  let parts = trimmed === '' ? [] : trimmed.split('/').map(decodeURIComponent);
  if (parts.length < 3 || (parts[0] !== 'api' && parts[0] !== 'apis')) return info;
  const groupless = parts[0] === 'api';
  parts = parts.slice(1);
  if (!groupless) {
    if (parts.length < 3) return info;
    info.apiGroup = parts[0]!;
    parts = parts.slice(1);
  }
  info.isResourceRequest = true;
  info.apiVersion = parts[0]!;
  parts = parts.slice(1);
  if (SPECIAL_VERBS.has(parts[0]!)) {
    if (parts.length < 2) return info;
    info.verb = parts[0]!;
    parts = parts.slice(1);
  } else {
    info.verb = METHOD_VERBS[method.toUpperCase()] ?? '';
  }
  if (parts[0] === 'namespaces') {
    if (parts.length > 1) {
      info.namespace = parts[1]!;
      if (parts.length > 2 && !NAMESPACE_SUBRESOURCES.has(parts[2]!)) parts = parts.slice(2);
    }
  }
  if (parts.length >= 3 && info.verb !== 'proxy') info.subresource = parts[2]!;
  if (parts.length >= 2) info.name = parts[1]!;
  if (parts.length >= 1) info.resource = parts[0]!;
  if (!info.name && info.verb === 'get') {
    const watch = query.getAll('watch');
    if (watch.length === 0) info.verb = 'list';
    else info.verb = ['false', '0'].includes(watch[0]!.toLowerCase()) ? 'list' : 'watch';
  }
  if (!info.name && info.verb === 'delete') info.verb = 'deletecollection';
  return info;
}
