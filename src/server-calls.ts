import { abortError } from './browser/slots.js';
import type { Clock } from './clock.js';
import { durationOption } from './duration.js';
import { AuthSessionError } from './errors.js';

// Talking to a server (Redis, PostgreSQL) and waiting on the manager's clock: shared by the stores and locks
// of both, and by the waits of the challenges. Nothing here may import a server's client library: each
// entry point (`auth-sessions/redis`, `auth-sessions/postgres`) must load without the other's peer.

/**
 * Waits `ms` milliseconds of the clock's time; rejects with the signal's error when it aborts first.
 *
 * @example
 * ```ts
 * await delay(100, systemClock, signal);
 * ```
 */
export function delay(ms: number, clock: Clock, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortError(signal));
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clock.clearTimeout(timer);
      reject(abortError(signal));
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The wait before poll number `attempt` (0-based): exponential from `minMs`, capped at `maxMs`, with jitter
 * so waiters on several machines do not poll in step.
 *
 * @example
 * ```ts
 * backoff(0, 20, 250); // between 10 and 20
 * ```
 */
export function backoff(attempt: number, minMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 20));
  return Math.max(1, Math.round(ceiling / 2 + (Math.random() * ceiling) / 2));
}

/**
 * Bounds a call that talks to a server: past `ms` it rejects with `STORAGE_UNAVAILABLE` (the call itself
 * cannot be cancelled; its late answer is ignored).
 *
 * @example
 * ```ts
 * const reply = await bounded(client.get(key), 5000, systemClock, 'a Redis GET');
 * ```
 */
export async function bounded<T>(promise: Promise<T>, ms: number, clock: Clock, what: string): Promise<T> {
  let timer: ReturnType<Clock['setTimeout']> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = clock.setTimeout(
      () => reject(new AuthSessionError('STORAGE_UNAVAILABLE', `${what} got no answer within ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } catch (err) {
    if (err instanceof AuthSessionError) throw err;
    throw new AuthSessionError('STORAGE_UNAVAILABLE', `${what} failed`, { cause: err });
  } finally {
    if (timer !== undefined) clock.clearTimeout(timer);
  }
}

/**
 * A positive whole number of milliseconds, or `INVALID_OPTIONS` naming the option.
 *
 * @example
 * ```ts
 * const timeoutMs = positiveMs(options.commandTimeoutMs, 'commandTimeoutMs', 5000);
 * ```
 */
export function positiveMs(value: unknown, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  return Math.ceil(durationOption(value, `"${option}"`));
}
