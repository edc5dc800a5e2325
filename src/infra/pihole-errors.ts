import { HttpRequestError } from '../core/http-request.js';
import type { PiholeResponse } from './pihole-http.js';

/** What a request to Pi-hole failed with: shown as is, per instance. */
export class PiholeError extends Error {
  override readonly name = 'PiholeError';
  constructor(
    message: string,
    readonly status?: number,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** Pi-hole's JSON error body. */
export interface ApiError {
  error?: { key?: string; message?: string; hint?: string | null };
}

/**
 * A request that got no answer: a timeout (httpRequest's own: ETIMEDOUT), or the host
 * unreachable.
 */
export function networkError(url: string, err: unknown, timeoutMs: number): PiholeError {
  const e = err as Error;
  if (e instanceof HttpRequestError && e.code === 'ETIMEDOUT') {
    return new PiholeError(`no answer from ${url} within ${timeoutMs} ms.`);
  }
  const code = e instanceof HttpRequestError ? e.code : undefined;
  return new PiholeError(
    `cannot reach ${url}${code ? ` (${code})` : `: ${e.message}`}.`,
    undefined,
    'Is Pi-hole (pihole-FTL) running, and is the URL right?',
  );
}

export async function apiError(res: PiholeResponse): Promise<ApiError> {
  try {
    return (await res.json()) as ApiError;
  } catch {
    return {};
  }
}

/** An answer that is not a success, as what `what` failed with. */
export async function httpError(what: string, res: PiholeResponse): Promise<PiholeError> {
  const e = await apiError(res);
  if (res.status === 429 && e.error?.key === 'rate_limiting') {
    return new PiholeError(
      `${what} was refused: Pi-hole is rate-limiting (429 rate_limiting), still after one retry.`,
      429,
      'Try again in a moment.',
    );
  }
  const detail = e.error?.message ?? res.statusText;
  return new PiholeError(
    `${what} failed: ${res.status}${e.error?.key ? ` ${e.error.key}` : ''}${detail ? ` — ${detail}` : ''}.`,
    res.status,
    e.error?.hint ?? undefined,
  );
}
