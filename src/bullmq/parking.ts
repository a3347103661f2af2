import type { MinimalQueue } from 'bullmq';
import { AuthSessionError } from '../errors.js';
import { Job as JobClass } from './peer.js';

/**
 * A BullMQ `Queue` or `Worker` (anything BullMQ accepts as a queue handle: it has a Redis client and
 * the queue's prefixed name).
 *
 * @example
 * ```ts
 * const handle: QueueHandle = new Queue('scrape', { connection });
 * ```
 */
export type QueueHandle = MinimalQueue;

/**
 * The Redis hash of a session's parked jobs in one queue: job id → when it was parked. It lives beside
 * BullMQ's own keys (`<prefix>:<queue>:…`), so it shares their Redis Cluster slot when the prefix has a
 * hash tag.
 *
 * @example
 * ```ts
 * parkedKey(queue.qualifiedName, 's1'); // 'bull:scrape:auth-sessions:parked:s1'
 * ```
 */
export function parkedKey(queueQualifiedName: string, sessionId: string): string {
  return `${queueQualifiedName}:auth-sessions:parked:${sessionId}`;
}

/**
 * Releases the parked jobs of a session in a queue: each goes from BullMQ's delayed set back to waiting,
 * to be picked up by any worker on any machine. Call it when the session is active again (or let
 * {@link watchSessions} / a `SessionWorker` do it on the manager's events); a job whose session is still
 * expired simply parks again. Returns how many jobs were released.
 *
 * @example
 * ```ts
 * await manager.update(sessionId, { credentials });
 * await releaseParked(queue, sessionId);
 * ```
 */
export async function releaseParked(queue: QueueHandle, sessionId: string): Promise<number> {
  assertSessionId(sessionId);
  const client = await queue.client;
  const key = parkedKey(queue.qualifiedName, sessionId);
  const ids = Object.keys(await client.hgetall(key));
  let released = 0;
  const releaseOne = async (id: string) => {
    // Forget the mark first: if the job is not in the delayed set yet (it is being parked right now), the
    // parking side looks at the session once more after the move and promotes itself.
    await client.hdel(key, id);
    const job = await JobClass.fromId(queue, id);
    if (!job) return;
    try {
      await job.promote();
      released++;
    } catch {
      // Not delayed any more: running, finished or removed. Nothing to release.
    }
  };
  for (let i = 0; i < ids.length; i += 50) await Promise.all(ids.slice(i, i + 50).map(releaseOne));
  return released;
}

/**
 * Ids of a session's parked jobs in a queue (jobs that wait for the session to be active again), e.g. to
 * tell the user "12 jobs wait for you to log in again".
 *
 * @example
 * ```ts
 * const waiting = (await parkedJobIds(queue, sessionId)).length;
 * ```
 */
export async function parkedJobIds(queue: QueueHandle, sessionId: string): Promise<string[]> {
  assertSessionId(sessionId);
  const client = await queue.client;
  return Object.keys(await client.hgetall(parkedKey(queue.qualifiedName, sessionId)));
}

function assertSessionId(sessionId: unknown): asserts sessionId is string {
  if (typeof sessionId !== 'string' || sessionId.length === 0) {
    throw new AuthSessionError('INVALID_OPTIONS', 'sessionId must be a non-empty string');
  }
}
