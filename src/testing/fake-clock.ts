import type { Clock, TimerHandle } from '../clock.js';

interface FakeTimer {
  readonly id: number;
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
}

/** The handle {@link FakeClock.setTimeout} returns: an opaque object, never a real timer. */
interface FakeTimerHandle {
  readonly fakeTimerId: number;
}

/** Microtask flushes between timers in {@link FakeClock.advanceAsync}: enough for short promise chains. */
const FLUSH_TICKS = 5;

/**
 * A {@link Clock} that only moves when a test moves it. Timers fire in time order during
 * {@link FakeClock.advance}, including timers scheduled by timers that fired within the same window, so
 * expiries, `checkInterval` and hook timeouts can be tested without sleeping.
 *
 * @example
 * ```ts
 * const clock = new FakeClock();
 * const site = new FakeSite({ clock, sessionTtlMs: 60 * 60_000 });
 * clock.advance(60 * 60_000 + 1); // every session of the site has now expired
 * ```
 */
export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #timers = new Map<number, FakeTimer>();

  /**
   * @param start - The initial time in milliseconds since the epoch. Default: `2026-01-01T00:00:00Z`.
   */
  constructor(start: number = Date.parse('2026-01-01T00:00:00Z')) {
    if (!Number.isFinite(start))
      throw new RangeError(`FakeClock: start must be a finite number, got ${start}`);
    this.#now = start;
  }

  /** Current fake time in milliseconds since the epoch. */
  now(): number {
    return this.#now;
  }

  /** Schedules `fn` at `now() + ms` of fake time. A negative or non-finite delay counts as 0. */
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    const seq = ++this.#seq;
    this.#timers.set(seq, { id: seq, at: this.#now + delay, seq, fn });
    const handle: FakeTimerHandle = { fakeTimerId: seq };
    return handle as unknown as TimerHandle;
  }

  /** Cancels a timer; unknown or already fired handles are ignored. */
  clearTimeout(handle: TimerHandle): void {
    const id = (handle as unknown as Partial<FakeTimerHandle> | undefined)?.fakeTimerId;
    if (typeof id === 'number') this.#timers.delete(id);
  }

  /** Timers scheduled and not yet fired or cleared. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /**
   * Moves time forward by `ms`, firing every timer due on the way in time order (ties in scheduling order).
   * Timers scheduled by fired timers fire too when they fall inside the window. When timers throw, the
   * remaining ones still run and the first error is rethrown at the end.
   *
   * @example
   * ```ts
   * clock.advance(1_000);
   * ```
   */
  advance(ms: number): void {
    const target = this.#target(ms);
    const errors: unknown[] = [];
    for (let timer = this.#nextDue(target); timer; timer = this.#nextDue(target)) {
      this.#timers.delete(timer.id);
      this.#now = Math.max(this.#now, timer.at);
      try {
        timer.fn();
      } catch (err) {
        errors.push(err);
      }
    }
    this.#now = Math.max(this.#now, target);
    if (errors.length > 0) throw errors[0];
  }

  /**
   * Like {@link FakeClock.advance}, but lets the microtask queue run (a few `setImmediate` turns) before and
   * after each timer, so promise chains started by a timer progress before the next one fires.
   *
   * @example
   * ```ts
   * const done = manager.run(id, task);
   * await clock.advanceAsync(30_000);
   * ```
   */
  async advanceAsync(ms: number): Promise<void> {
    const target = this.#target(ms);
    const errors: unknown[] = [];
    await flush();
    for (let timer = this.#nextDue(target); timer; timer = this.#nextDue(target)) {
      this.#timers.delete(timer.id);
      this.#now = Math.max(this.#now, timer.at);
      try {
        timer.fn();
      } catch (err) {
        errors.push(err);
      }
      await flush();
    }
    this.#now = Math.max(this.#now, target);
    await flush();
    if (errors.length > 0) throw errors[0];
  }

  /**
   * Jumps to `epochMs` without firing timers (they keep their absolute due times: call `advance(0)` to fire
   * the ones now due). Jumping backwards is allowed.
   *
   * @example
   * ```ts
   * clock.set(Date.parse('2026-06-01T00:00:00Z'));
   * ```
   */
  set(epochMs: number): void {
    if (!Number.isFinite(epochMs))
      throw new RangeError(`FakeClock.set: expected a finite number, got ${epochMs}`);
    this.#now = epochMs;
  }

  #target(ms: number): number {
    if (!Number.isFinite(ms) || ms < 0) {
      throw new RangeError(`FakeClock.advance: expected a finite, non-negative number of ms, got ${ms}`);
    }
    return this.#now + ms;
  }

  #nextDue(target: number): FakeTimer | undefined {
    let next: FakeTimer | undefined;
    for (const timer of this.#timers.values()) {
      if (timer.at > target) continue;
      if (!next || timer.at < next.at || (timer.at === next.at && timer.seq < next.seq)) next = timer;
    }
    return next;
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < FLUSH_TICKS; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
