import { abortError } from '../browser/slots.js';
import { type Clock, systemClock } from '../clock.js';
import { durationOption } from '../duration.js';
import { AuthSessionError } from '../errors.js';

/** Options of one {@link AuthSessionLock.acquire}. */
export interface LockAcquireOptions {
  /** Milliseconds the lock is held before it lapses unless renewed. */
  readonly leaseMs: number;
  /** Milliseconds to wait for the lock before `LOCK_TIMEOUT`. */
  readonly waitMs: number;
  /** Aborts the wait. */
  readonly signal?: AbortSignal;
}

/** A held lock. */
export interface LockHandle {
  /** Releases the lock if still owned (a lapsed lease is never released on someone else's behalf). */
  release(): Promise<void>;
}

/**
 * Mutual exclusion for refreshes. The default is in-process ({@link LocalLock}); across processes use
 * `RedisLock` from `auth-sessions/redis`.
 *
 * @example
 * ```ts
 * const handle = await lock.acquire('refresh:abc', { leaseMs: 30_000, waitMs: 60_000 });
 * try { … } finally { await handle.release(); }
 * ```
 */
export interface AuthSessionLock {
  acquire(key: string, options: LockAcquireOptions): Promise<LockHandle>;
  /** Releases connections the lock holds. */
  close?(): Promise<void>;
}

/**
 * An in-process lock: a FIFO mutex per key with bounded, abortable waits. Enough for one process, where
 * refreshes are also single-flighted.
 *
 * @example
 * ```ts
 * const manager = new AuthSessionManager({ auths, lock: new LocalLock() });
 * ```
 */
export class LocalLock implements AuthSessionLock {
  readonly #queues = new Map<string, Array<() => void>>();
  readonly #clock: Clock;

  constructor(options: { readonly clock?: Clock } = {}) {
    this.#clock = options.clock ?? systemClock;
  }

  acquire(key: string, options: LockAcquireOptions): Promise<LockHandle> {
    const { signal } = options;
    let waitMs: number;
    try {
      waitMs = durationOption(options.waitMs, 'lock.acquire: "waitMs"', { zero: true, infinity: true });
    } catch (err) {
      return Promise.reject(err);
    }
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const queue = this.#queues.get(key);
    if (!queue) {
      this.#queues.set(key, []);
      return Promise.resolve(this.#handle(key));
    }
    // Held, and no wait allowed: say so now, whatever the clock (a fake one might never get to a 0 ms timer).
    if (waitMs === 0) {
      return Promise.reject(new AuthSessionError('LOCK_TIMEOUT', `The lock "${key}" is held (waitMs: 0)`));
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        cleanup();
        resolve(this.#handle(key));
      };
      const fail = (err: unknown) => {
        const i = queue.indexOf(grant);
        if (i >= 0) queue.splice(i, 1);
        cleanup();
        reject(err);
      };
      const onAbort = () => fail(abortError(signal));
      // `waitMs: Infinity` waits until the lock is free or the signal aborts: no timer at all.
      const timer =
        waitMs === Number.POSITIVE_INFINITY
          ? undefined
          : this.#clock.setTimeout(
              () => fail(new AuthSessionError('LOCK_TIMEOUT', `Waited ${waitMs} ms for the lock "${key}"`)),
              waitMs,
            );
      const cleanup = () => {
        if (timer !== undefined) this.#clock.clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      queue.push(grant);
    });
  }

  #handle(key: string): LockHandle {
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        const queue = this.#queues.get(key);
        const next = queue?.shift();
        if (next) next();
        else this.#queues.delete(key);
      },
    };
  }
}
