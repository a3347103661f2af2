import type { TimerHandle } from '../clock.js';
import type { AuthSessionEvents } from '../monitor/events.js';
import type { AuthSessionInfo } from '../session/info.js';
import type { SessionQueueDeps } from './queue-hooks.js';
import { DEFAULT_RECHECK_MS } from './queue-options.js';

/**
 * Why a session queue is paused: `'expired'` (it waits for its session to be active again) or `'manual'`
 * (`queue.pause()`).
 *
 * @example
 * ```ts
 * if (queue.pauseReason === 'expired') showBanner(`${queue.size} tasks wait for you to log in again`);
 * ```
 */
export type QueuePauseReason = 'expired' | 'manual';

/** What a queue's pause acts on. */
export interface PausableQueue {
  readonly sessionId: string;
  /** The queue's p-queue, paused and started. */
  readonly pq: {
    readonly isPaused: boolean;
    readonly size: number;
    readonly pending: number;
    pause(): void;
    start(): unknown;
  };
  readonly deps: SessionQueueDeps;
  /** True once the manager closed. */
  closed(): boolean;
  /** A re-read of the store found the session deleted. */
  gone(): void;
}

/**
 * Whether, and why, a session queue is paused: by hand (`pause()`, `start()`), or held while its session is
 * expired, until it is seen active again (through events, or a re-read of the store every
 * `recheckIntervalMs` for other processes). Emits `queue:paused` and `queue:resumed`.
 */
export class QueuePause {
  readonly #q: PausableQueue;
  #manual = false;
  #held = false;
  /** Bumped whenever the session is seen active: an expiry seen by an older attempt is stale. */
  #epoch = 0;
  #recheckMs = DEFAULT_RECHECK_MS;
  #timer: TimerHandle | undefined;

  constructor(queue: PausableQueue) {
    this.#q = queue;
  }

  /** Bumped whenever the session is seen active. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Why the queue is paused, or undefined when it runs. `'expired'` wins over `'manual'`. */
  get reason(): QueuePauseReason | undefined {
    if (this.#held) return 'expired';
    return this.#manual ? 'manual' : undefined;
  }

  /** `queue.pause()`. */
  pause(): void {
    if (this.#q.closed()) return;
    const was = this.#q.pq.isPaused;
    this.#manual = true;
    this.#q.pq.pause();
    if (!was) this.#emitPaused('manual');
  }

  /** `queue.start()`. */
  start(): void {
    if (this.#q.closed()) return;
    const was = this.#q.pq.isPaused;
    this.#manual = false;
    this.#held = false;
    this.#clearTimer();
    this.#q.pq.start();
    if (was)
      this.#emit('queue:resumed', {
        sessionId: this.#q.sessionId,
        waiting: this.#unfinished(),
        reason: 'manual',
      });
  }

  /** The session expired (or cannot run now): pause and keep every task. */
  hold(session: AuthSessionInfo | undefined): void {
    if (this.#held || this.#q.closed()) return;
    this.#held = true;
    this.#q.pq.pause();
    this.#scheduleRecheck();
    this.#emitPaused('expired', session);
  }

  /** The session is active (again): go on, unless paused by hand. */
  activate(session: AuthSessionInfo | undefined): void {
    this.#epoch++;
    if (!this.#held || this.#q.closed()) return;
    this.#held = false;
    this.#clearTimer();
    if (this.#manual) return;
    this.#q.pq.start();
    this.#emit('queue:resumed', {
      sessionId: this.#q.sessionId,
      ...(session ? { session } : {}),
      waiting: this.#unfinished(),
      reason: 'active',
    });
  }

  /** The session was deleted: nothing is left to wait for, so later tasks fail fast instead of waiting forever. */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    this.#clearTimer();
    if (!this.#manual && !this.#q.closed()) this.#q.pq.start();
  }

  /** Applies `recheckIntervalMs`. */
  setRecheck(ms: number): void {
    this.#recheckMs = ms;
    this.#clearTimer();
    if (this.#held) this.#scheduleRecheck();
  }

  /** The manager closed: no more re-reads of the store. */
  stop(): void {
    this.#clearTimer();
  }

  #scheduleRecheck(): void {
    if (this.#recheckMs <= 0 || this.#timer !== undefined || this.#q.closed()) return;
    this.#timer = this.#q.deps.clock.setTimeout(() => {
      this.#timer = undefined;
      void this.#recheck();
    }, this.#recheckMs);
  }

  /** Another process may have made the session active (or deleted it): look at the store. */
  async #recheck(): Promise<void> {
    if (!this.#held || this.#q.closed()) return;
    try {
      const info = await this.#q.deps.get(this.#q.sessionId);
      if (!this.#held || this.#q.closed()) return;
      if (info === undefined) return this.#q.gone();
      if (info.state === 'active') return this.activate(info);
    } catch {
      // The store is unreachable: the tasks keep waiting and we look again later.
    }
    this.#scheduleRecheck();
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#q.deps.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #unfinished(): number {
    return this.#q.pq.size + this.#q.pq.pending;
  }

  #emitPaused(reason: QueuePauseReason, session?: AuthSessionInfo): void {
    this.#emit('queue:paused', {
      sessionId: this.#q.sessionId,
      ...(session ? { session } : {}),
      waiting: this.#unfinished(),
      reason,
    });
  }

  #emit<E extends 'queue:paused' | 'queue:resumed'>(event: E, payload: AuthSessionEvents[E]): void {
    this.#q.deps.events.emit(event, payload);
  }
}
