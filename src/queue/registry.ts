import { AuthSessionError } from '../errors.js';
import { isSessionId } from '../session-options.js';
import { activeSessionOf } from './hold.js';
import {
  queueHooks,
  SessionQueue,
  type SessionQueueDeps,
  type SessionQueueHooks,
  type SessionQueueOptions,
} from './session-queue.js';

/**
 * The session queues of one manager: one queue per session id, made on first use and kept for the
 * manager's life (a deleted session's queue stays usable for a session re-created with the same id). It
 * listens to the manager's events once and tells each queue about its own session.
 *
 * @example
 * ```ts
 * const queues = new SessionQueues(deps);
 * const queue = queues.get(sessionId, { concurrency: 2 });
 * ```
 */
export class SessionQueues {
  readonly #deps: SessionQueueDeps;
  readonly #queues = new Map<string, SessionQueue>();

  constructor(deps: SessionQueueDeps) {
    this.#deps = deps;
    const { events } = deps;
    events.on('transition', (e) => {
      // active → expired comes with an `expired` event; other ways in (a failed update or recording put
      // back as it was) only with the transition.
      if (e.to === 'expired' && e.from !== 'active') this.#hooks(e.session.id)?.expired(e.session);
      else if (activeSessionOf('transition', e)) this.#hooks(e.session.id)?.active(e.session);
    });
    events.on('expired', (e) => this.#hooks(e.session.id)?.expired(e.session));
    events.on('created', (e) => {
      if (activeSessionOf('created', e)) this.#hooks(e.session.id)?.active(e.session);
    });
    events.on('updated', (e) => {
      if (activeSessionOf('updated', e)) this.#hooks(e.session.id)?.active(e.session);
    });
    events.on('deleted', (e) => this.#hooks(e.session.id)?.gone(e.session));
    const onClose = () => {
      for (const queue of this.#queues.values()) queueHooks(queue).closed();
    };
    if (deps.closed.aborted) onClose();
    else deps.closed.addEventListener('abort', onClose, { once: true });
  }

  /** The queue of a session: made on the first call, the same one afterwards (with `options` applied). */
  get(sessionId: string, options?: SessionQueueOptions): SessionQueue {
    if (!isSessionId(sessionId)) {
      throw new AuthSessionError(
        'INVALID_OPTIONS',
        'manager.queue(sessionId): sessionId must be a session id (1–128 letters, digits, "_", "." or "-")',
      );
    }
    const existing = this.#queues.get(sessionId);
    if (existing) {
      if (options !== undefined) queueHooks(existing).configure(options);
      return existing;
    }
    const queue = new SessionQueue(sessionId, options ?? {}, this.#deps);
    this.#queues.set(sessionId, queue);
    return queue;
  }

  #hooks(sessionId: string): SessionQueueHooks | undefined {
    const queue = this.#queues.get(sessionId);
    return queue ? queueHooks(queue) : undefined;
  }
}
