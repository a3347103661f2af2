import type { AuthSessionManager } from '../manager.js';
import { type QueueHandle, releaseParked } from './parking.js';

/**
 * Options of {@link watchSessions}.
 *
 * @example
 * ```ts
 * const options: WatchSessionsOptions = { queues: [queue], onError: (err) => log.warn(err) };
 * ```
 */
export interface WatchSessionsOptions {
  /** The queues (BullMQ `Queue` or `Worker` handles) whose parked jobs are released. */
  readonly queues: readonly QueueHandle[];
  /**
   * Gets release failures (e.g. Redis unreachable); the parked jobs then wait for their own re-check
   * (`parkMs`).
   * @default a process warning naming the session (never job data)
   */
  readonly onError?: (error: unknown, sessionId: string) => void;
}

/**
 * A running {@link watchSessions}.
 *
 * @example
 * ```ts
 * const watcher = watchSessions(manager, { queues: [queue] });
 * watcher.close();
 * ```
 */
export interface SessionWatcher {
  /** Stops listening to the manager. */
  close(): void;
}

/**
 * Calls `release(sessionId)` whenever a session of this manager becomes active (`update`, `record`,
 * `importState`, a re-created session) or is deleted (its parked jobs then run at once and fail with
 * `SESSION_NOT_FOUND` instead of waiting for their re-check). Returns the unsubscribe function.
 *
 * @example
 * ```ts
 * const stop = onSessionReleasable(manager, (id) => void releaseParked(queue, id));
 * ```
 */
export function onSessionReleasable(
  manager: AuthSessionManager,
  release: (sessionId: string) => void,
): () => void {
  const onTransition = (e: { session: { id: string }; to: string }) => {
    if (e.to === 'active') release(e.session.id);
  };
  const onDeleted = (e: { session: { id: string } }) => release(e.session.id);
  manager.on('transition', onTransition);
  manager.on('deleted', onDeleted);
  return () => {
    manager.off('transition', onTransition);
    manager.off('deleted', onDeleted);
  };
}

/**
 * Releases parked jobs as soon as their session is active again, from the process that made it active
 * (a web app calling `manager.update`, the process running `manager.record`…), whatever machine the jobs'
 * workers run on: the release is a move of the jobs in Redis from delayed to waiting. Without a watcher,
 * parked jobs still resume by themselves after at most `parkMs`.
 *
 * @example
 * ```ts
 * const queue = new Queue('scrape', { connection });
 * const watcher = watchSessions(manager, { queues: [queue] });
 * await manager.update(sessionId, { credentials }); // parked jobs of the session run again now
 * watcher.close();
 * ```
 */
export function watchSessions(manager: AuthSessionManager, options: WatchSessionsOptions): SessionWatcher {
  const queues = [...options.queues];
  const onError = options.onError ?? defaultOnError;
  const stop = onSessionReleasable(manager, (sessionId) => {
    for (const queue of queues) {
      releaseParked(queue, sessionId).catch((err: unknown) => onError(err, sessionId));
    }
  });
  return { close: stop };
}

/**
 * Reports a failed release without job data or secrets.
 *
 * @example
 * ```ts
 * releaseParked(queue, id).catch((err) => defaultOnError(err, id));
 * ```
 */
export function defaultOnError(error: unknown, sessionId: string): void {
  const what = error instanceof Error ? error.name : typeof error;
  process.emitWarning(
    `auth-sessions/bullmq: releasing the parked jobs of session "${sessionId}" failed (${what}); they resume at their next re-check`,
  );
}
