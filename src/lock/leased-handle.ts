import type { Clock } from '../clock.js';
import type { LockHandle } from './lock.js';

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
