import { AuthSessionError } from '../errors.js';

/** `CLOSED` for the tasks of a queue whose manager closed. */
export function closedError(sessionId: string): AuthSessionError {
  return new AuthSessionError('CLOSED', 'The manager was closed', { sessionId });
}

/** `ABORTED` for a task of a queue that was cancelled (or, with `how`, cleared). */
export function abortedError(
  sessionId: string,
  id: string,
  reason: unknown,
  how = 'cancelled',
): AuthSessionError {
  return new AuthSessionError('ABORTED', `Task "${id}" of the queue of session "${sessionId}" was ${how}`, {
    sessionId,
    ...(reason === undefined ? {} : { cause: reason }),
  });
}
