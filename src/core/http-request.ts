/**
 * One HTTP request over Node's own `http`/`https` (keep-alive agents), the body read whole.
 *
 * For the clients the idle bot keeps running (Discord REST, Matrix): Node's global `fetch` is
 * undici, which on its first call loads its JavaScript and compiles its HTTP parser to
 * WebAssembly — ~16 MB more resident memory on Node 24 than the same requests through
 * `node:http` (docs/benchmarks.md, "fetch or node:http"). No redirects are followed and no
 * compression is asked for (the APIs it talks to need neither).
 */
import http from 'node:http';
import https from 'node:https';

export interface HttpRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** The whole exchange; on expiry the request is aborted with an error `code` 'ETIMEDOUT'. */
  timeoutMs?: number;
  /** Aborts the request with the signal's reason. */
  signal?: AbortSignal;
  /** An answer longer than this fails (EMSGSIZE); default 32 MiB. */
  maxBytes?: number;
}

export interface HttpResponse {
  status: number;
  /** A header's value (the first, if repeated), or null. */
  header(name: string): string | null;
  text: string;
}

/** A request that got no answer: `code` is ECONNREFUSED, ECONNRESET, ETIMEDOUT, ENOTFOUND, … */
export class HttpRequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HttpRequestError';
  }
}

const agents = {
  'http:': new http.Agent({ keepAlive: true }),
  'https:': new https.Agent({ keepAlive: true }),
};

/**
 * A kept-alive connection the server closed while idle fails the next request sent on it
 * (ECONNRESET/EPIPE before any answer): that request is sent once more on a new connection,
 * as Node's documentation of `request.reusedSocket` advises — the server never read it.
 */
export async function httpRequest(
  url: URL | string,
  opts: HttpRequestOptions = {},
): Promise<HttpResponse> {
  try {
    return await attempt(url, opts);
  } catch (err) {
    if (!(err instanceof StaleSocketError)) throw err;
    return attempt(url, opts);
  }
}

class StaleSocketError extends HttpRequestError {}

function attempt(url: URL | string, opts: HttpRequestOptions): Promise<HttpResponse> {
  const u = typeof url === 'string' ? new URL(url) : url;
  const lib = u.protocol === 'https:' ? https : u.protocol === 'http:' ? http : undefined;
  if (!lib) return Promise.reject(new HttpRequestError('EPROTO', `unsupported URL ${u.protocol}`));
  if (opts.signal?.aborted) return Promise.reject(opts.signal.reason);
  const body =
    opts.body === undefined
      ? undefined
      : typeof opts.body === 'string'
        ? Buffer.from(opts.body, 'utf8')
        : opts.body;
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | null, res?: HttpResponse): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(res!);
    };
    const req = lib.request(u, {
      method: opts.method ?? 'GET',
      headers: {
        ...opts.headers,
        ...(body ? { 'Content-Length': String(body.byteLength) } : {}),
      },
      agent: agents[u.protocol as 'http:' | 'https:'],
    });
    const onAbort = (): void => {
      const reason = opts.signal?.reason;
      req.destroy();
      finish(reason instanceof Error ? reason : new Error(String(reason)));
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            req.destroy();
            finish(new HttpRequestError('ETIMEDOUT', `no answer within ${opts.timeoutMs} ms`));
          }, opts.timeoutMs);
    let answered = false;
    req.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? 'ECONNRESET';
      const stale = req.reusedSocket && !answered && (code === 'ECONNRESET' || code === 'EPIPE');
      finish(
        stale ? new StaleSocketError(code, err.message) : new HttpRequestError(code, err.message),
      );
    });
    req.on('response', (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      const max = opts.maxBytes ?? 32 * 1024 * 1024;
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > max) {
          req.destroy();
          finish(new HttpRequestError('EMSGSIZE', `the answer is longer than ${max} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('error', (err: NodeJS.ErrnoException) =>
        finish(new HttpRequestError(err.code ?? 'ECONNRESET', err.message)),
      );
      res.on('aborted', () =>
        finish(new HttpRequestError('ECONNRESET', 'the connection closed mid-answer')),
      );
      res.on('end', () => {
        const headers = res.headers;
        finish(null, {
          status: res.statusCode ?? 0,
          header: (name) => {
            const v = headers[name.toLowerCase()];
            return v === undefined ? null : Array.isArray(v) ? (v[0] ?? null) : v;
          },
          text: Buffer.concat(chunks).toString('utf8'),
        });
      });
    });
    req.end(body);
  });
}

/**
 * A multipart/form-data body (RFC 7578): named parts, files with a filename. Returns the body
 * and its Content-Type (with the boundary).
 */
export function multipart(
  parts: { name: string; data: string | Uint8Array; filename?: string; contentType?: string }[],
): { body: Buffer; contentType: string } {
  const boundary = `----chatops${Math.random().toString(16).slice(2)}${Date.now().toString(16)}`;
  const quote = (s: string) => s.replace(/[\r\n"\\]/g, (c) => encodeURIComponent(c));
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${quote(p.name)}"${p.filename !== undefined ? `; filename="${quote(p.filename)}"` : ''}`;
    const type =
      p.contentType ?? (p.filename !== undefined ? 'application/octet-stream' : undefined);
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: ${disposition}\r\n${type ? `Content-Type: ${type}\r\n` : ''}\r\n`,
      ),
      typeof p.data === 'string' ? Buffer.from(p.data, 'utf8') : Buffer.from(p.data),
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}
