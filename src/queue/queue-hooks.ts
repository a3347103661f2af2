import type { Clock } from '../clock.js';
import { AuthSessionError } from '../errors.js';
import type { RunOptions, RunTask } from '../lifecycle/engine.js';
import type { EventBus } from '../monitor/events.js';
import type { AuthSessionInfo } from '../session/info.js';
import type { SessionQueueOptions } from './queue-options.js';
import type { SessionQueue } from './session-queue.js';

/**
 * What a queue needs from its manager (wired by `manager.queue`).
 *
 * @example
 * ```ts
 * const deps: SessionQueueDeps = { run: (id, task, o) => manager.run(id, task, o), get: (id) => manager.get(id), events, clock, closed };
 * ```
 */
export interface SessionQueueDeps {
  readonly run: <T>(id: string, task: RunTask<T>, options: RunOptions) => Promise<T>;
  readonly get: (id: string) => Promise<AuthSessionInfo | undefined>;
  readonly events: EventBus;
  readonly clock: Clock;
  /** Aborted when the manager closes. */
  readonly closed: AbortSignal;
}

/**
 * What the queue registry tells a queue about its session.
 *
 * @example
 * ```ts
 * queueHooks(queue).expired(event.session);
 * ```
 */
export interface SessionQueueHooks {
  /** The session expired (or cannot run now): pause and keep every task. */
  expired(session?: AuthSessionInfo): void;
  /** The session is active (again): go on. */
  active(session?: AuthSessionInfo): void;
  /** The session was deleted: fail the waiting tasks with `SESSION_NOT_FOUND`. */
  gone(session?: AuthSessionInfo): void;
  /** The manager closed: fail every unfinished task with `CLOSED`. */
  closed(): void;
  /** Applies options given again to `manager.queue`. */
  configure(options: SessionQueueOptions): void;
}

/** The hooks of each queue, set by its constructor. */
export const hooksOf = new WeakMap<SessionQueue, SessionQueueHooks>();

/**
 * The registry's handle on a queue's internals.
 *
 * @example
 * ```ts
 * queueHooks(queue).active(event.session);
 * ```
 */
export function queueHooks(queue: SessionQueue): SessionQueueHooks {
  const hooks = hooksOf.get(queue);
  if (!hooks) throw new AuthSessionError('INVALID_OPTIONS', 'Not a queue made by manager.queue()');
  return hooks;
}
