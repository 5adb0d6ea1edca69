import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { BerthError, type ErrorKind, kindOf, messageOf } from '@berth/errors';

const TO_STATUS: Record<ErrorKind, status> = {
  invalid_argument: status.INVALID_ARGUMENT,
  not_found: status.NOT_FOUND,
  already_exists: status.ALREADY_EXISTS,
  conflict: status.ABORTED,
  failed_precondition: status.FAILED_PRECONDITION,
  unavailable: status.UNAVAILABLE,
  deadline_exceeded: status.DEADLINE_EXCEEDED,
  cancelled: status.CANCELLED,
  not_implemented: status.UNIMPLEMENTED,
  permission_denied: status.PERMISSION_DENIED,
  internal: status.INTERNAL,
};

const FROM_STATUS = new Map<number, ErrorKind>(Object.entries(TO_STATUS).map(([k, v]) => [v, k as ErrorKind]));
FROM_STATUS.set(status.UNKNOWN, 'internal');
FROM_STATUS.set(status.RESOURCE_EXHAUSTED, 'unavailable');
FROM_STATUS.set(status.OUT_OF_RANGE, 'invalid_argument');
FROM_STATUS.set(status.DATA_LOSS, 'internal');
FROM_STATUS.set(status.UNAUTHENTICATED, 'permission_denied');

/** Turns any thrown value into a gRPC error whose details carry the user-facing message. */
export function toServiceError(err: unknown): Partial<ServiceError> {
  return { code: TO_STATUS[kindOf(err)], details: messageOf(err), metadata: new Metadata() };
}

/** Turns a gRPC error from a peer back into the taxonomy, keeping the peer's message. */
export function fromServiceError(err: ServiceError, peer: string): BerthError {
  const kind = FROM_STATUS.get(err.code) ?? 'internal';
  if (kind === 'unavailable' && err.code === status.UNAVAILABLE) {
    return new BerthError(kind, `${peer} service is unavailable: ${err.details}`, { cause: err });
  }
  if (kind === 'deadline_exceeded') {
    return new BerthError(kind, `${peer} service did not answer in time: ${err.details}`, { cause: err });
  }
  return new BerthError(kind, err.details || err.message, { cause: err });
}

/**
 * Ends a server stream with an error status. grpc-js sends the status only from its 'error'
 * handler (then `end()`); `destroy(err)` would drop the call without telling the client why.
 */
export function endWithError(call: { emit(event: 'error', err: unknown): boolean }, err: unknown): void {
  call.emit('error', toServiceError(err));
}
