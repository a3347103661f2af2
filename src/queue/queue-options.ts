import { durationOption } from '../duration.js';
import { AuthSessionError } from '../errors.js';
import type { RunOptions } from '../lifecycle/engine.js';

/**
 * Options of `manager.queue(sessionId, options)`. Given again for a queue that exists, they are applied to it.
 *
 * @example
 * ```ts
 * const queue = manager.queue(sessionId, { concurrency: 2 });
 * ```
 */
export interface SessionQueueOptions {
  /**
   * Tasks of this session that run at once (each in its own page of the session's context).
   * A positive integer, or `Infinity`.
   * @default 1
   */
  readonly concurrency?: number;
  /**
   * While the queue waits for its session to be active again, how often (ms) it reads the session from the
   * store, to notice a session made active by another process (this process's own `update`, `record` and
   * `importState` resume it at once through events) or deleted elsewhere. `0` turns it off.
   * @default 30000
   */
  readonly recheckIntervalMs?: number;
}

/**
 * Options of `queue.add(task, options)`: the options of `manager.run` for this task, plus a cancel signal
 * and an optional task id.
 *
 * @example
 * ```ts
 * const controller = new AbortController();
 * const rows = queue.add(scrape, { signal: controller.signal, id: 'report-2026-01', checkInterval: 60_000 });
 * ```
 */
export interface SessionTaskOptions extends Omit<RunOptions, 'signal'> {
  /**
   * Cancels the task: a waiting task leaves the queue, a running one is aborted; its promise rejects with
   * `ABORTED` either way.
   */
  readonly signal?: AbortSignal;
  /**
   * The task's id in `tasks()` and `cancel()`; unique among the queue's unfinished tasks.
   * @default `t1`, `t2`, … in order of adding
   */
  readonly id?: string;
}

/** Default of `recheckIntervalMs`: 30 s. */
export const DEFAULT_RECHECK_MS = 30_000;

/** `concurrency`, checked: a positive integer or `Infinity`, else `INVALID_OPTIONS`. */
export function checkConcurrency(value: unknown): number {
  if (
    value === Number.POSITIVE_INFINITY ||
    (typeof value === 'number' && Number.isInteger(value) && value >= 1)
  ) {
    return value as number;
  }
  throw new AuthSessionError(
    'INVALID_OPTIONS',
    `"concurrency" must be a positive integer or Infinity, got ${value}`,
  );
}

/**
 * The options of `manager.queue(sessionId, options)`, all checked before any is applied: throws
 * `INVALID_OPTIONS` on the first one wrong.
 */
export function checkQueueOptions(options: SessionQueueOptions): {
  concurrency?: number;
  recheckMs?: number;
} {
  if (typeof options !== 'object' || options === null) {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      'manager.queue(sessionId, options): options must be an object',
    );
  }
  const concurrency = options.concurrency === undefined ? undefined : checkConcurrency(options.concurrency);
  const recheckMs = durationOption(options.recheckIntervalMs, '"recheckIntervalMs"', { zero: true });
  return { concurrency, recheckMs };
}
