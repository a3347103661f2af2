import { AuthSessionError } from '../errors.js';

/** `OPERATION_NOT_FOUND` for an unknown (or expired) operation id. */
export function notFound(id: string): AuthSessionError {
  return new AuthSessionError(
    'OPERATION_NOT_FOUND',
    `No operation with id "${typeof id === 'string' ? id.slice(0, 128) : String(id)}" (finished operations are kept for a day)`,
  );
}

/** `ABORTED` of a canceled operation. */
export function canceledError(id: string, sessionId: string): AuthSessionError {
  return new AuthSessionError('ABORTED', `Operation "${id}" was canceled`, { sessionId });
}

/** `ABORTED` of a wait on an operation that ran out of time (the operation goes on). */
export function gaveUp(id: string, timeoutMs: number): AuthSessionError {
  return new AuthSessionError(
    'ABORTED',
    `Stopped waiting for operation "${id}" after ${timeoutMs} ms; the operation goes on (wait again, or cancel it)`,
  );
}
