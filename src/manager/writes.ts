import { AuthSessionError } from '../errors.js';
import { type CreateSessionOptions, createSession } from '../operations/create.js';
import { type UpdateSessionOptions, updateSession } from '../operations/update.js';
import type { AuthSessionInfo } from '../session/info.js';
import { assertSessionId } from '../session-options.js';
import type { ManagerParts } from './parts.js';

/** Throws `CLOSED` once the manager is closed. */
export function assertOpen(m: ManagerParts): void {
  if (m.close.signal.aborted) throw new AuthSessionError('CLOSED', 'The manager was closed');
}

/**
 * `work`, settled only once the webhook events it caused are in the outbox (a crash after the call
 * returns loses none of them).
 */
export function durable<T>(m: ManagerParts, work: Promise<T>): Promise<T> {
  const webhooks = m.webhooks;
  return webhooks === undefined ? work : work.finally(() => webhooks.settled());
}

/**
 * The manager's `create` after the check of its option names (challenge operations call it with internal
 * options, such as the operation id).
 */
export function createCall(
  m: ManagerParts,
  authName: string,
  options: CreateSessionOptions,
): Promise<AuthSessionInfo> {
  assertOpen(m);
  return durable(m, createSession(m.lifecycle, m.auths.credentials(authName), options));
}

/** The manager's `update` after the check of its option names (as {@link createCall}). */
export function updateCall(
  m: ManagerParts,
  id: string,
  options: UpdateSessionOptions,
): Promise<AuthSessionInfo> {
  assertOpen(m);
  assertSessionId(id, 'update(id, options): "id"');
  return durable(m, updateSession(m.lifecycle, id, options));
}
