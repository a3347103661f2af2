import { ChallengeOperations } from '../challenges/operations.js';
import { SessionQueues } from '../queue/registry.js';
import type { SessionQueueDeps } from '../queue/session-queue.js';
import type { ManagerParts } from './parts.js';
import { createCall, updateCall } from './writes.js';

/** The manager's challenge operations (start → resume → result), over its parts. */
export function challengeOperations(m: ManagerParts): ChallengeOperations {
  return new ChallengeOperations({
    store: m.store,
    clock: m.clock,
    events: m.events,
    closed: m.close.signal,
    codec: () => m.codec.get(),
    auth: (name) => m.auths.get(name),
    newId: m.newId,
    // Internal options (the operation id) pass through: no check of option names here.
    create: (auth, options) => createCall(m, auth, options),
    update: (id, options) => updateCall(m, id, options),
  });
}

/** The manager's session queues, whose tasks go through the manager's own `run` (and `get`). */
export function sessionQueues(
  m: ManagerParts,
  manager: Pick<SessionQueueDeps, 'run' | 'get'>,
): SessionQueues {
  return new SessionQueues({
    run: manager.run,
    get: manager.get,
    events: m.events,
    clock: m.clock,
    closed: m.close.signal,
  });
}
