/**
 * Loads matrix-bot-sdk (a devDependency), with or without its native E2EE module, for the
 * tests that check the fake homeserver against a real, independent client: the bot itself
 * speaks Matrix with its own client (src/chat/matrix/matrix-client.ts).
 *
 * matrix-bot-sdk `require`s `@matrix-org/matrix-sdk-crypto-nodejs` when it loads (from
 * `lib/e2ee/CryptoClient.js` and `lib/e2ee/RustEngine.js`, both reached from `lib/index.js`).
 * That package's `index.js` throws at once when its native binary is missing, and the binary
 * is only fetched by a postinstall script (from GitHub), which these machines never run
 * (`.npmrc` has `ignore-scripts=true`). So: try the real module first; only if it fails,
 * put a stub in Node's CommonJS module cache (`require.cache`, a documented public API) under
 * the exact file the SDK would load. No loader hooks, no patched resolution: nothing else
 * in the process is affected. The SDK touches none of the module's exports at load time; the
 * stub's classes and functions throw {@link CryptoUnavailableError} as soon as anything uses
 * them (only a client built with a crypto store does).
 *
 * Loading is lazy (call it only when Matrix is configured) and happens once; the SDK itself
 * takes ~0.5 s to load (it pulls in `request`, `express` for app services, `sanitize-html`,
 * `lowdb`, `postgres` — its `index.js` requires all of them and cannot be loaded in part).
 */
import { createRequire, Module } from 'node:module';
import { inspect } from 'node:util';

export type MatrixSdk = typeof import('matrix-bot-sdk');

export interface LoadedSdk {
  sdk: MatrixSdk;
  /** Whether the native crypto module loaded; without it E2EE cannot work. */
  cryptoAvailable: boolean;
  /** Why the native crypto module did not load (first line of the error). */
  cryptoError?: string;
  /** How long loading took, in milliseconds (crypto attempt + SDK). */
  loadMs: number;
}

export const CRYPTO_MODULE = '@matrix-org/matrix-sdk-crypto-nodejs';
/** What an operator runs to get E2EE (downloads the native binary from GitHub). */
export const CRYPTO_INSTALL_HINT = `npm rebuild --ignore-scripts=false ${CRYPTO_MODULE}`;

/** Thrown by every part of the crypto stub. */
export class CryptoUnavailableError extends Error {
  override readonly name = 'CryptoUnavailableError';
  constructor(what: string, cause: string) {
    super(
      `Matrix end-to-end encryption is unavailable (${what} used): the native module ${CRYPTO_MODULE} ` +
        `did not load (${cause}). Install it with \`${CRYPTO_INSTALL_HINT}\` (needs access to ` +
        'GitHub), or set chat.matrix.encryption: false.',
    );
  }
}

let loading: Promise<LoadedSdk> | undefined;

/** Loads matrix-bot-sdk once per process; the SDK's own logging is silenced (see quietSdkLogs). */
export function loadMatrixSdk(): Promise<LoadedSdk> {
  loading ??= load().catch((err: unknown) => {
    loading = undefined; // let a later call try again
    throw err;
  });
  return loading;
}

async function load(): Promise<LoadedSdk> {
  const started = performance.now();
  // Resolve the crypto module exactly as matrix-bot-sdk does, from the SDK's own location.
  const sdkMain = createRequire(import.meta.url).resolve('matrix-bot-sdk');
  const sdkRequire = createRequire(sdkMain);
  let cryptoAvailable = true;
  let cryptoError: string | undefined;
  try {
    sdkRequire(CRYPTO_MODULE);
  } catch (err) {
    cryptoAvailable = false;
    cryptoError = firstLine(err);
    registerCryptoStub(sdkRequire, cryptoError);
  }
  // require, not import(): the SDK is CommonJS, and import() would first run the CJS export
  // scanner over all ~90 modules that lib/index.js re-exports (~0.25 s more).
  const sdk = sdkRequire(sdkMain) as MatrixSdk;
  quietSdkLogs(sdk);
  carryRetryAfter(sdk);
  const loadMs = Math.round(performance.now() - started);
  return cryptoAvailable
    ? { sdk, cryptoAvailable, loadMs }
    : { sdk, cryptoAvailable, cryptoError, loadMs };
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0] ?? text;
}

const ENUMS: Record<string, Record<string, number>> = {
  EncryptionAlgorithm: { OlmV1Curve25519AesSha2: 0, MegolmV1AesSha2: 1 },
  ShieldColor: { Red: 0, Grey: 1, None: 2 },
  HistoryVisibility: { Invited: 0, Joined: 1, Shared: 2, WorldReadable: 3 },
  DeviceKeyAlgorithmName: { Ed25519: 0, Curve25519: 1, SignedCurve25519: 2, Unknown: 3 },
  StoreType: { Sled: 0, Sqlite: 1 },
  RequestType: {
    KeysUpload: 0,
    KeysQuery: 1,
    KeysClaim: 2,
    ToDevice: 3,
    SignatureUpload: 4,
    RoomMessage: 5,
    KeysBackup: 6,
  },
};

/** The classes the real module exports (its index.js), with the static methods the SDK calls. */
const CLASSES: Record<string, string[]> = {
  OlmMachine: ['initialize', 'withSledBackend'],
  Attachment: ['encrypt', 'decrypt'],
  EncryptedAttachment: [],
  EncryptionSettings: [],
  ShieldState: [],
  UserId: [],
  DeviceId: [],
  DeviceKeyId: [],
  DeviceKeyAlgorithm: [],
  RoomId: [],
  ServerName: [],
  CrossSigningStatus: [],
  KeysUploadRequest: [],
  KeysQueryRequest: [],
  KeysClaimRequest: [],
  ToDeviceRequest: [],
  SignatureUploadRequest: [],
  RoomMessageRequest: [],
  KeysBackupRequest: [],
  DecryptedRoomEvent: [],
  DeviceLists: [],
  Signatures: [],
  Signature: [],
  MaybeSignature: [],
  Ed25519PublicKey: [],
  Ed25519Signature: [],
  Curve25519PublicKey: [],
  IdentityKeys: [],
  Versions: [],
};

function cryptoStub(cause: string): Record<string, unknown> {
  const exports: Record<string, unknown> = { __matrixCryptoStub: true };
  for (const [name, values] of Object.entries(ENUMS)) {
    exports[name] = Object.freeze({ ...values });
  }
  for (const [name, statics] of Object.entries(CLASSES)) {
    const cls = {
      [name]: class {
        constructor() {
          throw new CryptoUnavailableError(`new ${name}()`, cause);
        }
      },
    }[name]!;
    for (const method of statics) {
      Object.defineProperty(cls, method, {
        value: () => {
          throw new CryptoUnavailableError(`${name}.${method}()`, cause);
        },
      });
    }
    exports[name] = cls;
  }
  exports.getVersions = () => {
    throw new CryptoUnavailableError('getVersions()', cause);
  };
  return exports;
}

function registerCryptoStub(sdkRequire: NodeJS.Require, cause: string): void {
  let filename: string;
  try {
    filename = sdkRequire.resolve(CRYPTO_MODULE);
  } catch {
    throw new Error(
      `${CRYPTO_MODULE} is not installed at all (it is a dependency of matrix-bot-sdk): run npm ci`,
    );
  }
  if (sdkRequire.cache[filename]) return; // already loaded or stubbed
  const mod = new Module(filename);
  mod.filename = filename;
  mod.exports = cryptoStub(cause);
  mod.loaded = true;
  sdkRequire.cache[filename] = mod;
}

/**
 * Where a 429's `Retry-After` header (in ms) is kept on the error body the SDK hands over:
 * `(err as MatrixError).body[RETRY_AFTER_HEADER_MS]`.
 */
export const RETRY_AFTER_HEADER_MS = 'org.homelab_chatops.retry_after_header_ms';

type RequestCallback = (err: unknown, res: RawResponse | undefined, body: unknown) => void;
interface RawResponse {
  statusCode?: number;
  headers?: Record<string, string | string[] | undefined>;
  body?: unknown;
}
type RequestFn = ((params: unknown, cb: RequestCallback) => unknown) & { carriesRetryAfter?: true };

/**
 * Since spec v1.10 a 429 says when to retry in the `Retry-After` header (`retry_after_ms` in
 * the body is deprecated, and servers may leave it out). matrix-bot-sdk 0.7 builds its
 * MatrixError from the body alone (lib/http.js, lib/models/MatrixError.js) and never retries,
 * so the header would be lost. Through the SDK's own injection point for its HTTP function
 * (`setRequestFn`, exported for exactly this), a 429's Retry-After is copied onto the parsed
 * error body under {@link RETRY_AFTER_HEADER_MS}; nothing else about any request changes.
 */
function carryRetryAfter(sdk: MatrixSdk): void {
  const original = sdk.getRequestFn() as RequestFn;
  if (original.carriesRetryAfter) return;
  const wrapped: RequestFn = (params, cb) =>
    original(params, (err, res, body) => {
      const header = res?.statusCode === 429 ? res.headers?.['retry-after'] : undefined;
      const ms = retryAfterHeaderMs(Array.isArray(header) ? header[0] : header);
      if (!err && res && ms !== undefined) {
        const parsed = parseBody(res.body ?? body);
        if (parsed) {
          parsed[RETRY_AFTER_HEADER_MS] = ms;
          res.body = parsed;
          return cb(err, res, parsed);
        }
      }
      return cb(err, res, body);
    });
  wrapped.carriesRetryAfter = true;
  sdk.setRequestFn(wrapped);
}

function parseBody(body: unknown): Record<string, unknown> | undefined {
  if (body && typeof body === 'object' && !Buffer.isBuffer(body))
    return body as Record<string, unknown>;
  const text = Buffer.isBuffer(body) ? body.toString('utf8') : body;
  if (typeof text !== 'string') return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** RFC 9110 Retry-After: delay-seconds or an HTTP date → ms; undefined when absent or unreadable. */
export function retryAfterHeaderMs(
  value: string | undefined,
  now = Date.now(),
): number | undefined {
  const v = value?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** What quietSdkLogs writes to: a pino logger fits. */
export interface SdkLogSink {
  trace?(obj: Record<string, unknown>, msg?: string): void;
  debug(obj: Record<string, unknown>, msg?: string): void;
  info(obj: Record<string, unknown>, msg?: string): void;
  warn(obj: Record<string, unknown>, msg?: string): void;
  error(obj: Record<string, unknown>, msg?: string): void;
  isLevelEnabled?(level: string): boolean;
}

const MAX_MESSAGE = 2000;

/**
 * matrix-bot-sdk logs through a static, process-wide `LogService` whose default logger is
 * a `ConsoleLogger` (console.log / console.error, level INFO: it prints every sync error
 * and back-off). Route it to `logger` (at the matching level, with `{ module }`), or drop
 * everything when no logger is given. loadMatrixSdk already calls this without a logger.
 */
export function quietSdkLogs(sdk: MatrixSdk, logger?: SdkLogSink): void {
  const { LogService, LogLevel } = sdk;
  if (!logger) {
    const drop = () => {};
    LogService.setLogger({ trace: drop, debug: drop, info: drop, warn: drop, error: drop });
    LogService.setLevel(LogLevel.ERROR);
    return;
  }
  const emit =
    (level: 'trace' | 'debug' | 'info' | 'warn' | 'error') =>
    (module: string, ...parts: unknown[]) => {
      const fields: Record<string, unknown> = { module: `matrix-bot-sdk:${module}` };
      const err = parts.find((p) => p instanceof Error);
      if (err) fields.err = err;
      let msg = parts
        .map((p) => (typeof p === 'string' ? p : inspect(p, { depth: 2, breakLength: Infinity })))
        .join(' ');
      if (msg.length > MAX_MESSAGE) msg = `${msg.slice(0, MAX_MESSAGE)}…`;
      // The SDK asks for m.direct account data at start and logs its absence (normal for a
      // bot without DMs) as an error: keep error-level lines for real errors.
      const expected = level === 'error' && /M_NOT_FOUND/.test(msg) && /account data/i.test(msg);
      const effective = expected ? 'debug' : level;
      const method = effective === 'trace' ? (logger.trace ?? logger.debug) : logger[effective];
      method.call(logger, fields, msg);
    };
  LogService.setLogger({
    trace: emit('trace'),
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
  });
  // The SDK formats per-request debug lines: only ask for them when they would be kept.
  LogService.setLevel(logger.isLevelEnabled?.('debug') ? LogLevel.DEBUG : LogLevel.INFO);
}
