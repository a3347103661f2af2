import { AuthSessionError } from '../errors.js';
import type { AuthSessionEvents } from '../monitor/events.js';

/**
 * True when a run failed because its session cannot run work now but may later, without a person fixing
 * anything in the task: `SESSION_EXPIRED` (expired, or never logged in) or `INVALID_STATE` (being logged in
 * again right now), about this very session. Such work waits instead of failing.
 *
 * When `manager.run` throws `SESSION_EXPIRED`, the task function either never ran (the session was expired
 * already, or the check before the task failed and so did the refresh), or it ran, threw
 * `AuthSessionInvalidError` (or matched `isAuthError`) because it found itself logged out, and the refresh
 * that followed failed. Only in that last case may the task have done something before noticing; it runs
 * again from the start once the session is active.
 *
 * @example
 * ```ts
 * try { await manager.run(id, task); } catch (err) { if (isHoldError(err, id)) park(); else throw err; }
 * ```
 */
export function isHoldError(err: unknown, sessionId: string): err is AuthSessionError {
  return (
    err instanceof AuthSessionError &&
    (err.code === 'SESSION_EXPIRED' || err.code === 'INVALID_STATE') &&
    err.sessionId === sessionId
  );
}

/**
 * True when a run failed because its session does not exist (any more).
 *
 * @example
 * ```ts
 * if (isGoneError(err, id)) failWaitingWork();
 * ```
 */
export function isGoneError(err: unknown, sessionId: string): err is AuthSessionError {
  return err instanceof AuthSessionError && err.code === 'SESSION_NOT_FOUND' && err.sessionId === sessionId;
}

/**
 * The id of the session a `transition`, `created` or `updated` event shows active (its held work may go
 * on), or undefined.
 *
 * @example
 * ```ts
 * events.on('updated', (e) => { const id = activeSessionOf('updated', e); if (id) resume(id); });
 * ```
 */
export function activeSessionOf(
  event: 'transition' | 'created' | 'updated',
  payload: AuthSessionEvents['transition'] | AuthSessionEvents['created'] | AuthSessionEvents['updated'],
): string | undefined {
  if (event === 'transition' && (payload as AuthSessionEvents['transition']).to !== 'active')
    return undefined;
  return payload.session.state === 'active' ? payload.session.id : undefined;
}
