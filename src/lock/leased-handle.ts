import { abortError } from '../browser/slots.js';
import type { Clock } from '../clock.js';
import { durationOption } from '../duration.js';
import { AuthSessionError } from '../errors.js';
import { backoff, delay, positiveMs } from '../server-calls.js';
import type { LockAcquireOptions, LockHandle } from './lock.js';

/** What one renewal of a lease found. */
export type RenewalOutcome = 'held' | 'lost';

/**
 * The life of a lock held on a server for a lease (a Redis key with a TTL, a PostgreSQL session with an idle
 * timeout): renewed every third of the lease, `lost` once a renewal finds it gone, released once. Subclasses
 * say how their server renews and releases.
 */
export abstract class LeasedHandle implements LockHandle {
  protected readonly clock: Clock;
  protected readonly leaseMs: number;
  readonly #held: Set<LeasedHandle>;
  #timer: ReturnType<Clock['setTimeout']> | undefined;
  #lost = false;
  #released = false;

  /** `held` is the set of the lock's handles still held (released on the lock's `close`). */
  constructor(clock: Clock, leaseMs: number, held: Set<LeasedHandle>) {
    this.clock = clock;
    this.leaseMs = leaseMs;
    this.#held = held;
    held.add(this);
    this.#schedule();
  }

  /** True once a renewal found the lock gone; false while it is known held. */
  get lost(): boolean {
    return this.#lost;
  }

  /** True once released. */
  get released(): boolean {
    return this.#released;
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    this.#stop();
    // A lost lock is never released: by now it may be someone else's.
    if (this.#lost) return;
    await this.releaseOnServer();
  }

  /**
   * Renews the lease once, within `timeoutMs` (a third of the lease at most). Throws when the server cannot
   * tell right now: the next tick tries again, and the lease covers two missed renewals.
   */
  protected abstract renewOnServer(timeoutMs: number): Promise<RenewalOutcome>;

  /** Frees the lock on the server (only while it is held). */
  protected abstract releaseOnServer(): Promise<void>;

  /** Called once when a renewal finds the lock lost, after the renewals stopped. */
  protected onLost(): void {}

  #stop(): void {
    if (this.#timer !== undefined) this.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#held.delete(this);
  }

  #schedule(): void {
    this.#timer = this.clock.setTimeout(() => void this.#renew(), this.#tick());
  }

  #tick(): number {
    return Math.max(1, Math.floor(this.leaseMs / 3));
  }

  async #renew(): Promise<void> {
    this.#timer = undefined;
    if (this.#released) return;
    let outcome: RenewalOutcome | undefined;
    try {
      outcome = await this.renewOnServer(this.#tick());
    } catch {
      outcome = undefined;
    }
    if (this.#released) return;
    if (outcome === 'lost') {
      this.#lost = true;
      this.#stop();
      this.onLost();
      return;
    }
    this.#schedule();
  }
}

/**
 * Takes a server lock: checks the request, then calls `tryOnce` (one attempt at the server; undefined when
 * someone else holds the lock) until it wins, waiting with backoff between attempts. `LOCK_TIMEOUT` after
 * `waitMs`; the signal's error when aborted (a lock won after the abort is released again).
 */
export async function pollForLock<H extends LeasedHandle>(
  key: string,
  options: LockAcquireOptions,
  deps: { readonly clock: Clock; readonly maxRetryDelayMs: number },
  tryOnce: (leaseMs: number) => Promise<H | undefined>,
): Promise<H> {
  if (typeof key !== 'string' || key.length === 0) {
    throw new AuthSessionError('INVALID_OPTIONS', 'A lock key must be a non-empty string');
  }
  if (typeof options !== 'object' || options === null || options.leaseMs === undefined) {
    throw new AuthSessionError('INVALID_OPTIONS', 'lock.acquire(key, options): "leaseMs" is required');
  }
  const leaseMs = positiveMs(options.leaseMs, 'leaseMs', 0);
  const { signal } = options;
  const waitMs = durationOption(options.waitMs, 'lock.acquire: "waitMs"', { zero: true, infinity: true });
  const { clock } = deps;
  const deadline = clock.now() + waitMs;
  for (let attempt = 0; ; attempt++) {
    if (signal?.aborted) throw abortError(signal);
    const held = await tryOnce(leaseMs);
    if (held) {
      if (signal?.aborted) {
        await held.release().catch(() => {});
        throw abortError(signal);
      }
      return held;
    }
    const left = deadline - clock.now();
    if (left <= 0) throw new AuthSessionError('LOCK_TIMEOUT', `Waited ${waitMs} ms for the lock "${key}"`);
    await delay(Math.min(backoff(attempt, 10, deps.maxRetryDelayMs), left), clock, signal);
  }
}
