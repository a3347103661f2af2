/**
 * How the vault gets its key(s): the manager's `key` option.
 * - a string: base64 of a 32-byte random key (base64url and missing padding are accepted);
 * - a `Uint8Array` of 32 bytes;
 * - `{ passphrase, kid? }`: a key derived with scrypt (salt and parameters stored in the session store);
 * - `{ keyFile }`: a file that holds a base64 key (it must exist);
 * - `{ current, previous? }`: a keyring; `current` seals, `previous` keys only open (for key rotation).
 *
 * @example
 * ```ts
 * const key: KeyInput = { current: process.env.NEW_KEY!, previous: [process.env.OLD_KEY!] };
 * ```
 */
export type KeyInput = string | Uint8Array | PassphraseKeyInput | KeyFileInput | KeyringInput;

/**
 * A key derived from a passphrase with scrypt (OWASP parameters N=2^17, r=8, p=1). The random salt and the
 * parameters are created on first use and stored in the session store under `kdf:<kid>`; every process that
 * shares the store and the passphrase derives the same key.
 *
 * @example
 * ```ts
 * new AuthSessionManager({ auths, key: { passphrase: process.env.AUTH_PASSPHRASE! } });
 * ```
 */
export interface PassphraseKeyInput {
  /** At least 12 characters. */
  readonly passphrase: string;
  /**
   * Id of the derived key (written in every envelope) and name of its salt record. Give each passphrase of a
   * keyring its own.
   * @default 'pass'
   */
  readonly kid?: string;
}

/**
 * A file that holds a base64 32-byte key (surrounding whitespace ignored). It must exist; keep it mode 0600.
 *
 * @example
 * ```ts
 * new AuthSessionManager({ auths, key: { keyFile: '/run/secrets/auth-sessions-key' } });
 * ```
 */
export interface KeyFileInput {
  /** Path of the key file. */
  readonly keyFile: string;
}

/**
 * Several keys: `current` seals and opens, `previous` only open. Used to rotate keys: seal with the new key
 * while records sealed with an old one stay readable until re-sealed.
 *
 * @example
 * ```ts
 * const key = { current: { passphrase: newPass, kid: 'pass-2' }, previous: [{ passphrase: oldPass }] };
 * ```
 */
export interface KeyringInput {
  /** The key that seals. */
  readonly current: KeyInput;
  /**
   * Keys that only open.
   * @default []
   */
  readonly previous?: readonly KeyInput[];
}
