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

/** `SESSION_NOT_FOUND` for a task that waited in the queue of a session that was deleted. */
export function deletedError(sessionId: string, id: string, runs: number): AuthSessionError {
  const what = runs === 0 ? 'did not run' : 'was not run again';
  return new AuthSessionError(
    'SESSION_NOT_FOUND',
    `Session "${sessionId}" was deleted while task "${id}" waited in its queue; the task ${what}`,
    { sessionId },
  );
}
