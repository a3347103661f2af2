import { AuthSessionError } from '../errors.js';
import type { ManagerParts } from './parts.js';

/**
 * Closes a manager (see `AuthSessionManager.close`): aborts the work in flight, stops the health checks,
 * lets the buffered history and webhook events out, then closes what the manager made (warm contexts, the
 * default browser and store) and stops listening. What was passed in stays open.
 */
export async function closeManager(m: ManagerParts): Promise<void> {
  m.close.abort(new AuthSessionError('CLOSED', 'The manager was closed'));
  await m.health.stopAll();
  // History is written in the background; what is buffered goes out before the store is let go.
  // Events already emitted go into the outbox; delivery stops (undelivered entries stay for later).
  await m.webhooks?.close().catch(() => {});
  await m.monitor.flush().catch(() => {});
  m.store.detach();
  const tasks: Promise<unknown>[] = [m.lifecycle.closeWarmContexts()];
  const browser = m.browser.close();
  if (browser) tasks.push(browser);
  if (m.ownsStore) tasks.push(m.keyv.disconnect());
  await Promise.allSettled(tasks);
  m.codec.destroy();
  m.events.removeAll();
}
