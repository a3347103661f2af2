import { AuthSessionError } from './errors.js';
import type { SessionStore } from './store/session-store.js';
import type { Keyring } from './vault/keyring.js';

/**
 * What the library's own features built beside a manager (the connect pages of the console) reach of it:
 * its key and its store, so that every process of one deployment (same key, same store) agrees with the
 * others. Not part of the public API: nothing outside the library can get at it.
 */
export interface ManagerInternals {
  /** The manager's keyring, once its key is resolved (the same promise its sessions use). */
  readonly keyring: () => Promise<Keyring>;
  /** The manager's store (sessions, meta values), every call bounded by `storeTimeoutMs`. */
  readonly store: SessionStore;
}

const internalsOf = new WeakMap<object, ManagerInternals>();

/** Called once by the manager's constructor. */
export function registerManagerInternals(manager: object, internals: ManagerInternals): void {
  internalsOf.set(manager, internals);
}

/**
 * The internals of a manager made by this library.
 *
 * @throws AuthSessionError `INVALID_OPTIONS` for anything else (a stand-in object, another copy of the library).
 * @example
 * ```ts
 * const keyring = await managerInternals(manager).keyring();
 * ```
 */
export function managerInternals(manager: object): ManagerInternals {
  const internals = internalsOf.get(manager);
  if (!internals) {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      'Not an AuthSessionManager made by this copy of auth-sessions',
    );
  }
  return internals;
}
