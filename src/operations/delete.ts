import { AuthSessionError } from '../errors.js';
import type { Lifecycle } from '../lifecycle/engine.js';
import { toInfo } from '../session/info.js';
import type { SessionRecord } from '../session/record.js';

/**
 * `manager.delete`: removes the session and its secrets. A record that cannot be read (damaged, or sealed
 * in a shape this version does not know) is removed too, so its id can be used again.
 */
export async function deleteSession(lifecycle: Lifecycle, id: string): Promise<void> {
  const d = lifecycle.deps;
  let current: SessionRecord | undefined;
  let unreadable = false;
  try {
    current = await d.store.read(id);
  } catch (err) {
    if (!(err instanceof AuthSessionError) || err.code !== 'CORRUPT_RECORD') throw err;
    unreadable = true;
  }
  if (!current && !unreadable) {
    throw new AuthSessionError('SESSION_NOT_FOUND', `No session with id "${id}"`, { sessionId: id });
  }
  await d.store.delete(id);
  (await d.codec()).forget(id);
  if (current) d.events.emit('deleted', { session: toInfo(current) });
}
