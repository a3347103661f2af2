import { AuthSessionError } from '../errors.js';

/** Every state a session can be in. */
export const SESSION_STATES = ['pending', 'active', 'expired', 'failed'] as const;

/**
 * The state of a session: `pending` while it is being created or waits for input, `active` when it can be
 * used, `expired` when its login no longer holds and could not be renewed, `failed` when creation never
 * succeeded.
 */
export type SessionState = (typeof SESSION_STATES)[number];

/**
 * The only legal transitions. `active → active` is a refresh or a state save; `→ pending` happens when a
 * session is created again (update with new credentials, a new recording).
 */
export const TRANSITIONS: Readonly<Record<SessionState, readonly SessionState[]>> = {
  pending: ['pending', 'active', 'failed', 'expired'],
  active: ['active', 'expired', 'pending'],
  expired: ['pending', 'active'],
  failed: ['pending', 'active'],
};

/** True when `from → to` is in the transition table. */
export function canTransition(from: SessionState, to: SessionState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Throws `ILLEGAL_TRANSITION` unless `from → to` is in the table: an illegal transition is a bug. */
export function assertTransition(from: SessionState, to: SessionState, sessionId?: string): void {
  if (!canTransition(from, to)) {
    throw new AuthSessionError('ILLEGAL_TRANSITION', `Illegal session state transition ${from} → ${to}`, {
      sessionId,
    });
  }
}
