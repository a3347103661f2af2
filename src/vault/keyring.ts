import {
  createHash,
  createHmac,
  hkdfSync,
  randomBytes as nodeRandomBytes,
  timingSafeEqual,
} from 'node:crypto';
import nacl from 'tweetnacl';
import { AuthSessionError } from '../errors.js';
import { decodeBase64, encodeBase64 } from './base64.js';
import { ENVELOPE_VERSION, type Envelope, envelopeSchema } from './envelope.js';

/**
 * Length in bytes of a vault key (XSalsa20-Poly1305).
 *
 * @example
 * ```ts
 * const key = new Uint8Array(randomBytes(KEY_LENGTH));
 * ```
 */
export const KEY_LENGTH = 32;
/**
 * Length in bytes of a secretbox nonce.
 *
 * @example
 * ```ts
 * Buffer.from(envelope.nonce, 'base64').length === NONCE_LENGTH; // true
 * ```
 */
export const NONCE_LENGTH = 24;

/**
 * The one message of every `DECRYPT_FAILED` error. It is the same whatever went wrong (unknown key id, bad
 * base64, wrong length, tampered bytes, an envelope moved to another record or field) so that an error never
 * tells an attacker which check failed.
 *
 * @example
 * ```ts
 * expect(() => keyring.open(id, 'state', tampered)).toThrow(DECRYPT_FAILED_MESSAGE);
 * ```
 */
export const DECRYPT_FAILED_MESSAGE =
  'Sealed data could not be decrypted with the configured keys (wrong key, or the data was altered)';

/** HKDF info of the keys that tag records (see {@link Keyring.mac}). */
const RECORD_MAC_INFO = 'auth-sessions record mac v1';

/**
 * What a key id may look like: 1–64 letters, digits, `.`, `_`, `:` or `-`.
 *
 * @example
 * ```ts
 * KID_PATTERN.test('pass-2025'); // true
 * ```
 */
export const KID_PATTERN: RegExp = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * A key and, optionally, its id. Without an id the key's {@link keyCheckValue} is used.
 *
 * @example
 * ```ts
 * const entry: KeyringEntry = { key: derivedKey, kid: 'pass' };
 * ```
 */
export interface KeyringEntry {
  /** The 32-byte key. The keyring keeps its own copy. */
  readonly key: Uint8Array;
  /**
   * Id written in every envelope this key seals: 1–64 letters, digits, `.`, `_`, `:` or `-`.
   * @default keyCheckValue(key)
   */
  readonly kid?: string;
}

/**
 * Options of {@link Keyring}.
 *
 * @example
 * ```ts
 * const options: KeyringOptions = { current: newKey, previous: [oldKey] };
 * ```
 */
export interface KeyringOptions {
  /** The key that seals; it also opens. */
  readonly current: Uint8Array | KeyringEntry;
  /**
   * Older keys that only open, for data sealed before a rotation.
   * @default []
   */
  readonly previous?: readonly (Uint8Array | KeyringEntry)[];
  /**
   * Source of nonces. Inject a deterministic one in tests only.
   * @default node:crypto randomBytes
   */
  readonly randomBytes?: (n: number) => Uint8Array;
}

/**
 * The default id of a key: the first 16 hex characters of its SHA-256, a key check value that names the key
 * without revealing it.
 *
 * @example
 * ```ts
 * keyCheckValue(new Uint8Array(32)); // '66687aadf862bd77'
 * ```
 */
export function keyCheckValue(key: Uint8Array): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

/**
 * Holds the vault's keys and seals and opens values with tweetnacl `secretbox` (XSalsa20-Poly1305). The current
 * key seals; every key opens, chosen by the envelope's `kid`. Each seal uses a fresh random 24-byte nonce, and
 * binds the record id and field name inside the sealed payload, so a box copied to another record or field does
 * not open. Every failure to open is one `DECRYPT_FAILED` error with {@link DECRYPT_FAILED_MESSAGE}.
 *
 * Keys are copied in and kept as `Uint8Array`s; {@link Keyring.destroy} zeroes them (best effort: JavaScript
 * gives no guarantee that no other copy exists). `util.inspect` and `JSON.stringify` show the key ids only.
 *
 * @example
 * ```ts
 * const keyring = new Keyring({ current: newKey, previous: [oldKey] });
 * const envelope = keyring.seal('sess_1', 'credentials', { username: 'ada', password: 's3cret' });
 * keyring.open('sess_1', 'credentials', envelope); // { username: 'ada', password: 's3cret' }
 * keyring.isCurrent(envelope);                     // true: no need to re-seal on rotation
 * ```
 */
export class Keyring {
  readonly #keys = new Map<string, Uint8Array>();
  /** Per key id: the key that authenticates the clear fields of records, derived from the sealing key. */
  readonly #macKeys = new Map<string, Buffer>();
  /** Per purpose (HKDF info): the keys derived from every key of the ring, current first. */
  readonly #purposeKeys = new Map<string, readonly Uint8Array[]>();
  readonly #currentKid: string;
  readonly #randomBytes: (n: number) => Uint8Array;
  #destroyed = false;

  constructor(options: KeyringOptions) {
    this.#randomBytes = options.randomBytes ?? nodeRandomBytes;
    const entries = [options.current, ...(options.previous ?? [])].map((entry, index) =>
      normalizeEntry(entry, index === 0 ? 'current key' : `previous key #${index}`),
    );
    for (const { key, kid } of entries) {
      const existing = this.#keys.get(kid);
      if (existing === undefined) {
        this.#keys.set(kid, new Uint8Array(key));
      } else if (!sameBytes(existing, key)) {
        this.destroy();
        throw new AuthSessionError(
          'INVALID_OPTIONS',
          `Two different keys share the key id "${kid}": give each key (each passphrase) its own \`kid\``,
        );
      }
    }
    this.#currentKid = entries[0]!.kid;
  }

  /** Id of the key that seals. */
  get currentKid(): string {
    return this.#currentKid;
  }

  /** Ids of every key that opens, the current one first. */
  get kids(): readonly string[] {
    return [...this.#keys.keys()];
  }

  /**
   * True when `envelope` is a well-formed envelope sealed by the current key, that is, when it needs no
   * re-sealing after a key rotation. It does not open the box.
   *
   * @example
   * ```ts
   * if (!keyring.isCurrent(record.credentials)) record.credentials = keyring.seal(id, 'credentials', keyring.open(id, 'credentials', record.credentials));
   * ```
   */
  isCurrent(envelope: unknown): boolean {
    const parsed = envelopeSchema.safeParse(envelope);
    return parsed.success && parsed.data.kid === this.#currentKid;
  }

  /**
   * Seals `data` (anything `JSON.stringify` accepts) for the given record and field with the current key.
   *
   * @throws AuthSessionError `CLOSED` after {@link Keyring.destroy}.
   * @example
   * ```ts
   * record.state = keyring.seal(record.id, 'state', browserState);
   * ```
   */
  seal(recordId: string, field: string, data: unknown): Envelope {
    const key = this.#key(this.#currentKid);
    const nonce = new Uint8Array(this.#randomBytes(NONCE_LENGTH));
    if (nonce.length !== NONCE_LENGTH) {
      throw new AuthSessionError(
        'INVALID_OPTIONS',
        `randomBytes(${NONCE_LENGTH}) returned ${nonce.length} bytes`,
      );
    }
    const plain = new TextEncoder().encode(JSON.stringify({ id: recordId, f: field, d: data }));
    try {
      const box = nacl.secretbox(plain, nonce, key);
      return {
        v: ENVELOPE_VERSION,
        kid: this.#currentKid,
        nonce: encodeBase64(nonce),
        box: encodeBase64(box),
      };
    } finally {
      plain.fill(0);
    }
  }

  /**
   * Opens an envelope sealed for the given record and field by any key of the ring and returns the value.
   * The result comes from `JSON.parse`: validate it (with zod) before use.
   *
   * @throws AuthSessionError `DECRYPT_FAILED` (always with {@link DECRYPT_FAILED_MESSAGE} and no cause) when the
   *   envelope is malformed, names an unknown key, was altered, or was sealed for another record or field;
   *   `CLOSED` after {@link Keyring.destroy}.
   * @example
   * ```ts
   * const credentials = schema.parse(keyring.open(record.id, 'credentials', record.credentials));
   * ```
   */
  open(recordId: string, field: string, envelope: unknown): unknown {
    if (this.#destroyed) throw destroyedError();
    const result = this.#tryOpen(recordId, field, envelope);
    if (!result.ok) {
      throw new AuthSessionError('DECRYPT_FAILED', DECRYPT_FAILED_MESSAGE, { sessionId: recordId });
    }
    return result.value;
  }

  /**
   * Authenticates `text` (the clear fields of a record, canonically serialised) with the current key: an
   * HMAC-SHA256 under a key derived from it (HKDF), so what the store holds in clear cannot be edited without
   * the key.
   *
   * @example
   * ```ts
   * record.mac = keyring.mac(canonicalText(record));
   * ```
   */
  mac(text: string): { kid: string; tag: string } {
    const kid = this.#currentKid;
    return { kid, tag: createHmac('sha256', this.#macKey(kid)).update(text).digest('base64') };
  }

  /**
   * Checks a tag made by {@link Keyring.mac}: `ok`, `unknown-key` (made with a key this ring does not hold),
   * or `mismatch` (the text or the tag was altered). Constant time in the tag.
   *
   * @example
   * ```ts
   * if (keyring.verifyMac(canonicalText(record), record.mac) !== 'ok') throw corrupt;
   * ```
   */
  verifyMac(text: string, mac: { kid: string; tag: string }): 'ok' | 'unknown-key' | 'mismatch' {
    if (this.#destroyed) throw destroyedError();
    if (!this.#keys.has(mac.kid)) return 'unknown-key';
    const expected = createHmac('sha256', this.#macKey(mac.kid)).update(text).digest();
    const given = Buffer.from(mac.tag, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected) ? 'ok' : 'mismatch';
  }

  #macKey(kid: string): Buffer {
    let key = this.#macKeys.get(kid);
    if (key === undefined) {
      key = Buffer.from(hkdfSync('sha256', this.#key(kid), new Uint8Array(0), RECORD_MAC_INFO, 32));
      this.#macKeys.set(kid, key);
    }
    return key;
  }

  /**
   * Keys for one purpose outside the vault and the record tags (signing connect links, say): one per key of
   * the ring, current first, each derived from it with HKDF-SHA256 under `info` (a label naming the purpose
   * and its version, never `'auth-sessions record mac v1'`). So every process holding the same keys derives
   * the same keys, a purpose's keys tell nothing about the ring's or another purpose's, and what a previous
   * key signed still checks until that key leaves the ring. The arrays are the keyring's own: do not change
   * them; {@link Keyring.destroy} zeroes them.
   *
   * @throws AuthSessionError `CLOSED` after {@link Keyring.destroy}.
   * @example
   * ```ts
   * const [signing, ...older] = keyring.purposeKeys('auth-sessions connect links v1');
   * ```
   */
  purposeKeys(info: string): readonly Uint8Array[] {
    if (this.#destroyed) throw destroyedError();
    if (info === RECORD_MAC_INFO) {
      throw new AuthSessionError(
        'INVALID_OPTIONS',
        'The record tag key is not handed out for another purpose',
      );
    }
    let keys = this.#purposeKeys.get(info);
    if (keys === undefined) {
      keys = this.kids.map(
        (kid) => new Uint8Array(hkdfSync('sha256', this.#key(kid), new Uint8Array(0), info, 32)),
      );
      this.#purposeKeys.set(info, keys);
    }
    return keys;
  }

  /**
   * Zeroes every key (best effort) and makes the keyring unusable: `seal` and `open` then throw `CLOSED`.
   * Idempotent.
   *
   * @example
   * ```ts
   * await manager.close(); // calls keyring.destroy()
   * ```
   */
  destroy(): void {
    for (const key of this.#keys.values()) key.fill(0);
    for (const key of this.#macKeys.values()) key.fill(0);
    for (const keys of this.#purposeKeys.values()) for (const key of keys) key.fill(0);
    this.#destroyed = true;
  }

  /** Same as {@link Keyring.destroy}, for `using keyring = …`. */
  [Symbol.dispose](): void {
    this.destroy();
  }

  /** Key ids only, never key bytes. */
  toJSON(): { currentKid: string; kids: readonly string[] } {
    return { currentKid: this.#currentKid, kids: this.kids };
  }

  /** `util.inspect` view: key ids only. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Keyring { currentKid: '${this.#currentKid}', kids: [${this.kids.map((k) => `'${k}'`).join(', ')}]${
      this.#destroyed ? ', destroyed' : ''
    } }`;
  }

  #key(kid: string): Uint8Array {
    if (this.#destroyed) throw destroyedError();
    return this.#keys.get(kid)!;
  }

  // Never throws: every failure becomes `{ ok: false }`, so no cause (and no hint of which check failed) leaks.
  #tryOpen(recordId: string, field: string, envelope: unknown): { ok: true; value: unknown } | { ok: false } {
    try {
      const parsed = envelopeSchema.safeParse(envelope);
      if (!parsed.success) return { ok: false };
      const key = this.#keys.get(parsed.data.kid);
      if (key === undefined) return { ok: false };
      const nonce = decodeBase64(parsed.data.nonce);
      const box = decodeBase64(parsed.data.box);
      if (nonce?.length !== NONCE_LENGTH || box === undefined || box.length < nacl.secretbox.overheadLength) {
        return { ok: false };
      }
      const plain = nacl.secretbox.open(box, nonce, key);
      if (plain === null) return { ok: false };
      let text: string;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(plain);
      } finally {
        plain.fill(0);
      }
      const payload: unknown = JSON.parse(text);
      if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return { ok: false };
      const { id, f, d } = payload as { id?: unknown; f?: unknown; d?: unknown };
      if (!Object.hasOwn(payload, 'id') || id !== recordId || !Object.hasOwn(payload, 'f') || f !== field) {
        return { ok: false };
      }
      return { ok: true, value: Object.hasOwn(payload, 'd') ? d : undefined };
    } catch {
      return { ok: false };
    }
  }
}

function normalizeEntry(entry: Uint8Array | KeyringEntry, label: string): { key: Uint8Array; kid: string } {
  const key = entry instanceof Uint8Array ? entry : entry?.key;
  if (!(key instanceof Uint8Array) || key.length !== KEY_LENGTH) {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      `The ${label} must be a Uint8Array of exactly ${KEY_LENGTH} bytes` +
        (key instanceof Uint8Array ? ` (got ${key.length} bytes)` : ''),
    );
  }
  const kid = entry instanceof Uint8Array ? undefined : entry.kid;
  if (kid !== undefined && (typeof kid !== 'string' || !KID_PATTERN.test(kid))) {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      `The ${label} has an invalid \`kid\`: use 1–64 letters, digits, '.', '_', ':' or '-'`,
    );
  }
  return { key, kid: kid ?? keyCheckValue(key) };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && nacl.verify(a, b);
}

function destroyedError(): AuthSessionError {
  return new AuthSessionError('CLOSED', 'The keyring has been destroyed');
}
