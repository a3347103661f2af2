import type { Clock } from '../clock.js';
import { AuthSessionError } from '../errors.js';

/**
 * Runs one store call with a timeout of `timeoutMs` on `clock`; any throw or timeout →
 * STORAGE_UNAVAILABLE (typed errors pass). `what` names the call in the error ("read", "write"…).
 */
export async function timedCall<T>(
  clock: Clock,
  timeoutMs: number,
  what: string,
  fn: () => Promise<T>,
): Promise<T> {
  let timer: ReturnType<Clock['setTimeout']> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = clock.setTimeout(
      () =>
        reject(
          new AuthSessionError(
            'STORAGE_UNAVAILABLE',
            `The store did not answer a ${what} within ${timeoutMs} ms`,
          ),
        ),
      timeoutMs,
    );
  });
  // Unlike the clock's other timers, this one keeps the process alive: a call waiting for a hung store
  // must end in STORAGE_UNAVAILABLE, not in a silent exit with the caller's `finally` never run.
  (timer as { ref?: () => unknown } | undefined)?.ref?.();
  try {
    const result = await Promise.race([fn(), timeout]);
    return result;
  } catch (err) {
    if (err instanceof AuthSessionError) throw err;
    throw storageError(what, err);
  } finally {
    if (timer !== undefined) clock.clearTimeout(timer);
  }
}

function storageError(what: string, cause: unknown): AuthSessionError {
  return new AuthSessionError(
    'STORAGE_UNAVAILABLE',
    `The session store failed during a ${what}; nothing was changed`,
    {
      cause,
    },
  );
}
