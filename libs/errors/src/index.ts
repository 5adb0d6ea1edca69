/**
 * One error taxonomy for the whole suite. Domain code throws these; the edges translate
 * them: to a gRPC status in servers, back to these in clients, and to an HTTP status plus
 * Docker's `{"message": ...}` body in the gateway. The message is what a Docker user reads,
 * so it is written the way Docker writes its own.
 */
export type ErrorKind =
  | 'invalid_argument'
  | 'not_found'
  | 'already_exists'
  | 'conflict'
  | 'failed_precondition'
  | 'unavailable'
  | 'deadline_exceeded'
  | 'cancelled'
  | 'not_implemented'
  | 'permission_denied'
  | 'internal';

export class BerthError extends Error {
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
    this.name = 'BerthError';
  }
}

const make = (kind: ErrorKind) => (message: string, options?: { cause?: unknown }) =>
  new BerthError(kind, message, options);

export const invalidArgument = make('invalid_argument');
export const notFound = make('not_found');
export const alreadyExists = make('already_exists');
export const conflict = make('conflict');
export const failedPrecondition = make('failed_precondition');
export const unavailable = make('unavailable');
export const deadlineExceeded = make('deadline_exceeded');
export const cancelled = make('cancelled');
export const notImplemented = make('not_implemented');
export const permissionDenied = make('permission_denied');
export const internal = make('internal');

export function kindOf(err: unknown): ErrorKind {
  return err instanceof BerthError ? err.kind : 'internal';
}

const is = (kind: ErrorKind) => (err: unknown): boolean => kindOf(err) === kind;
export const isInvalidArgument = is('invalid_argument');
export const isNotFound = is('not_found');
export const isAlreadyExists = is('already_exists');
export const isConflict = is('conflict');
export const isFailedPrecondition = is('failed_precondition');
export const isUnavailable = is('unavailable');
export const isDeadlineExceeded = is('deadline_exceeded');

/** HTTP status Docker answers for each kind (moby's errdefs mapping). */
export const HTTP_STATUS: Record<ErrorKind, number> = {
  invalid_argument: 400,
  not_found: 404,
  already_exists: 409,
  conflict: 409,
  failed_precondition: 409,
  unavailable: 503,
  deadline_exceeded: 504,
  cancelled: 499,
  not_implemented: 501,
  permission_denied: 403,
  internal: 500,
};

export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
