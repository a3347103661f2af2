import type { AuthDefinition, CredentialsAuthDefinition } from '../define.js';
import { AuthSessionError } from '../errors.js';

/** The auths a manager serves, by name: checked once, looked up by every call. */
export class AuthRegistry {
  readonly #auths = new Map<string, AuthDefinition>();

  /** Throws `INVALID_OPTIONS` unless `auths` is a non-empty array with distinct names. */
  constructor(auths: readonly AuthDefinition[]) {
    if (!Array.isArray(auths) || auths.length === 0) {
      throw new AuthSessionError(
        'INVALID_OPTIONS',
        '"auths" must be a non-empty array of defineAuth(...) results',
      );
    }
    for (const auth of auths) {
      if (this.#auths.has(auth?.name)) {
        throw new AuthSessionError('INVALID_OPTIONS', `"auths" has two definitions named "${auth.name}"`);
      }
      this.#auths.set(auth.name, auth);
    }
  }

  /** Names of the auths, in the order given. */
  names(): string[] {
    return [...this.#auths.keys()];
  }

  /** The auth named `name`; throws `UNKNOWN_AUTH` for a name not served. */
  get(name: string): AuthDefinition {
    const auth = this.#auths.get(name);
    if (!auth) {
      throw new AuthSessionError(
        'UNKNOWN_AUTH',
        `Unknown auth "${name}"; known auths: ${[...this.#auths.keys()].map((n) => `"${n}"`).join(', ')}`,
      );
    }
    return auth;
  }

  /** The credentials-based auth named `name`; throws `INVALID_OPTIONS` for a recorder-based one. */
  credentials(name: string): CredentialsAuthDefinition {
    const auth = this.get(name);
    if (auth.type !== 'credentials') {
      throw new AuthSessionError(
        'INVALID_OPTIONS',
        `Auth "${name}" is recorder-based: create its sessions with record()`,
      );
    }
    return auth;
  }
}
