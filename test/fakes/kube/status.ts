/** The API server's error answers: a `Status` object with the HTTP code, reason and message. */

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes?: { reason?: string; message: string; field?: string }[];
  retryAfterSeconds?: number;
}

export class ApiError extends Error {
  /** A path or method the fake does not serve (recorded in FakeKube.unhandled). */
  unhandled = false;

  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
  }

  toStatus() {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

export const successStatus = (code = 201) => ({
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Success',
  code,
});

/** `nodes "pi9" not found`, `applications.argoproj.io "web" not found`. */
export function notFound(plural: string, name: string, group = ''): ApiError {
  const what = group ? `${plural}.${group}` : plural;
  return new ApiError(404, 'NotFound', `${what} "${name}" not found`, {
    name,
    ...(group ? { group } : {}),
    kind: plural,
  });
}

export function conflict(plural: string, name: string, group = ''): ApiError {
  const what = group ? `${plural}.${group}` : plural;
  return new ApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${what} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { name, ...(group ? { group } : {}), kind: plural },
  );
}

export const badRequest = (message: string) => new ApiError(400, 'BadRequest', message);

export function unknownPath(): ApiError {
  const err = new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
  err.unhandled = true;
  return err;
}

export function methodNotAllowed(method: string): ApiError {
  const err = new ApiError(
    405,
    'MethodNotAllowed',
    `the server does not allow this method (${method}) on the requested resource`,
    {},
  );
  err.unhandled = true;
  return err;
}

export const unauthorized = () => new ApiError(401, 'Unauthorized', 'Unauthorized');
