/**
 * What @kubernetes/client-node 1.x needs that is easy to get wrong.
 *
 * - PATCH: the generated APIs (CoreV1Api.patchNode, CustomObjectsApi.patchNamespacedCustomObject,
 *   …) send `Content-Type: application/json-patch+json` unless told otherwise — a merge-patch
 *   body sent that way is refused with 400 ("cannot unmarshal object into Go value of type
 *   jsonpatch.Patch"). Pass `MERGE_PATCH` as the call's second argument (the header name must
 *   be spelled `Content-Type` exactly: the request keeps headers in a plain object).
 * - Errors: a non-2xx answer rejects with `ApiException` {code, body, headers}; `body` is the
 *   response TEXT (a JSON `Status`: {reason, message, details {name, kind, causes[]}, code}),
 *   except for 401, where it is undefined. Its message is long (it includes every header), so
 *   never show it: use `kubeStatus(err)`. A server that does not answer rejects with node-fetch's
 *   `FetchError` {code: 'ECONNREFUSED' | 'ETIMEDOUT' | …}.
 */
import { ApiException, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { UserError, wrapError } from '../core/errors.js';

/** Per-call options that make a PATCH a JSON merge patch (RFC 7386). */
export const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** A Kubernetes `Status` answer, read from whatever client-node threw. */
export interface KubeStatus {
  /** HTTP code: 404 NotFound, 409 Conflict/AlreadyExists, 410 Expired, 429 TooManyRequests, … */
  code: number;
  /** Machine-readable reason: NotFound, Conflict, TooManyRequests, Unauthorized, … */
  reason: string;
  message: string;
  /** details.causes: for a blocked eviction, [{reason: 'DisruptionBudget', message}]. */
  causes: { reason?: string; message: string }[];
}

/** An API error with its Status, in a short message: "while cordoning pi4-a: 409 Conflict: …". */
export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  constructor(
    context: string,
    readonly status: KubeStatus,
    cause: unknown,
  ) {
    super(
      `${context}: ${status.code} ${status.reason}${status.message ? `: ${status.message}` : ''}`,
      {
        cause,
      },
    );
  }
}

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  409: 'Conflict',
  410: 'Expired',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
};

function parseBody(body: unknown): Record<string, unknown> | undefined {
  if (typeof body === 'string') {
    try {
      return JSON.parse(body) as Record<string, unknown>;
    } catch {
      return body ? { message: body.slice(0, 200) } : undefined;
    }
  }
  return body && typeof body === 'object' ? (body as Record<string, unknown>) : undefined;
}

/** The Status of a failed call (ApiException, KubeApiError, or a watch's status error). */
export function kubeStatus(err: unknown): KubeStatus | undefined {
  if (err instanceof KubeApiError) return err.status;
  const e = err as { code?: unknown; body?: unknown; headers?: unknown; statusCode?: unknown };
  let code: number | undefined;
  if (err instanceof ApiException || (typeof e?.code === 'number' && 'headers' in (e ?? {}))) {
    code = e.code as number;
  } else if (typeof e?.statusCode === 'number') {
    code = e.statusCode; // Watch: `new Error(statusText)` with statusCode
  }
  if (code === undefined) return undefined;
  const body = parseBody(e.body);
  const details = body?.details as { causes?: { reason?: string; message?: string }[] } | undefined;
  return {
    code,
    reason: String(body?.reason ?? REASONS[code] ?? `HTTP ${code}`),
    message: String(
      body?.message ?? (err instanceof Error && !(err instanceof ApiException) ? err.message : ''),
    ),
    causes: (details?.causes ?? []).map((c) => ({
      ...(c.reason ? { reason: c.reason } : {}),
      message: String(c.message ?? ''),
    })),
  };
}

export const hasStatus = (err: unknown, code: number) => kubeStatus(err)?.code === code;

const CONNECTION_CODES = [
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
];

/** The API server did not answer (down, rebooting, unreachable). */
export function isConnectionError(err: unknown): boolean {
  const e = err as { name?: string; code?: unknown; type?: string };
  return (
    (e?.name === 'FetchError' && (e.type === 'system' || e.type === 'request-timeout')) ||
    (typeof e?.code === 'string' && CONNECTION_CODES.includes(e.code))
  );
}

/** Worth trying again: no answer, 429, or a 5xx. */
export function isTransient(err: unknown): boolean {
  const code = kubeStatus(err)?.code;
  return isConnectionError(err) || code === 429 || (code !== undefined && code >= 500);
}

/**
 * What the user sees when a call failed "while <context>": bad credentials and an unreachable
 * server are UserErrors (the fix is in the config or the lab); everything else keeps its cause
 * for the log and gets a short message.
 */
export function kubeError(context: string, err: unknown, server: string): Error {
  if (err instanceof UserError || err instanceof KubeApiError) return err;
  const status = kubeStatus(err);
  if (status?.code === 401 || status?.code === 403) {
    return new UserError(
      `The Kubernetes API refused the bot (${status.code} ${status.reason}) while ${context}.`,
      status.code === 401
        ? 'Check the kube section of the config: the kubeconfig, its context and its token.'
        : `The bot's account may not do this: ${status.message || 'forbidden'}.`,
    );
  }
  if (status) return new KubeApiError(`while ${context}`, status, err);
  if (isConnectionError(err)) {
    const code = (err as { code?: string }).code;
    return new UserError(
      `The Kubernetes API at ${server} did not answer${code ? ` (${code})` : ''} while ${context}.`,
      'Is the control-plane node up? /node status shows it.',
    );
  }
  return wrapError(`while ${context}`, err);
}

/**
 * Runs one API call: an abort passes through as it is, a 404 becomes `notFound()` (the
 * unknown node/app UserError) when given, everything else goes through `kubeError`.
 */
export async function callKube<T>(
  what: string,
  server: string,
  fn: () => Promise<T>,
  opts: { notFound?: () => Promise<Error>; signal?: AbortSignal } = {},
): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    if (opts.notFound && hasStatus(err, 404)) throw await opts.notFound();
    throw kubeError(what, err, server);
  }
}
