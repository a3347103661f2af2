import { createHmac, scrypt, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { AuthSessionError } from '../errors.js';
import { decodeBase64, encodeBase64 } from './base64.js';
import { type KeyContext, randomOf } from './key-context.js';
import type { PassphraseKeyInput } from './key-input.js';
import { KEY_LENGTH, type KeyringEntry, KID_PATTERN } from './keyring.js';
import { MAKE_KEY_HINT } from './raw-key.js';

/**
 * Key id of a passphrase key when none is given; also names its salt record `kdf:pass`.
 *
 * @example
 * ```ts
 * await meta.get(`kdf:${DEFAULT_PASSPHRASE_KID}`);
 * ```
 */
export const DEFAULT_PASSPHRASE_KID = 'pass';
/**
 * Shortest passphrase accepted, in characters.
 *
 * @example
 * ```ts
 * if (passphrase.length < MIN_PASSPHRASE_LENGTH) askForALongerOne();
 * ```
 */
export const MIN_PASSPHRASE_LENGTH = 12;

const SALT_LENGTH = 16;
// OWASP's scrypt setting needs 128·N·r ≈ 128 MiB, above Node's 32 MiB default `maxmem`.
const SCRYPT_MAXMEM = 256 * 1024 * 1024;

/**
 * A tiny key/value view of the session store, where passphrase salts and scrypt parameters are kept.
 *
 * @example
 * ```ts
 * const meta: MetaStore = { get: (k) => keyv.get(`meta:${k}`), set: async (k, v) => { await keyv.set(`meta:${k}`, v); } };
 * ```
 */
export interface MetaStore {
  /** The stored value, or `undefined` when there is none. Throws when the store cannot answer. */
  get(key: string): Promise<unknown>;
  /** Stores `value` (plain JSON). Throws when the store cannot write. */
  set(key: string, value: unknown): Promise<void>;
}

/**
 * scrypt cost parameters.
 *
 * @example
 * ```ts
 * const params: ScryptParams = { N: 2 ** 17, r: 8, p: 1 };
 * ```
 */
export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  readonly N: number;
  /** Block size. */
  readonly r: number;
  /** Parallelism. */
  readonly p: number;
}

/**
 * OWASP's recommended scrypt setting (Password Storage Cheat Sheet): N=2^17, r=8, p=1.
 *
 * @example
 * ```ts
 * scrypt(passphrase, salt, 32, { ...OWASP_SCRYPT_PARAMS, maxmem: 256 * 1024 * 1024 }, done);
 * ```
 */
export const OWASP_SCRYPT_PARAMS: ScryptParams = Object.freeze({ N: 2 ** 17, r: 8, p: 1 });

const kdfRecordSchema = z
  .strictObject({
    v: z.literal(1),
    alg: z.literal('scrypt'),
    salt: z.string(),
    N: z
      .number()
      .int()
      .min(2 ** 10)
      .max(2 ** 22)
      .refine((n) => (n & (n - 1)) === 0, 'N must be a power of two'),
    r: z.number().int().min(1).max(32),
    p: z.number().int().min(1).max(16),
    keylen: z.literal(KEY_LENGTH),
    /** HMAC of the settings under the derived key: a wrong passphrase or altered settings are told at once. */
    check: z.string().optional(),
  })
  .refine((rec) => scryptMemory(rec) <= SCRYPT_MAXMEM, 'scrypt parameters need too much memory')
  .refine((rec) => decodeBase64(rec.salt)?.length === SALT_LENGTH, 'salt must be 16 bytes of base64');

/** The stored form of a passphrase's key-derivation settings, under `kdf:<kid>`. */
type KdfRecord = z.infer<typeof kdfRecordSchema>;

export async function fromPassphrase(
  input: PassphraseKeyInput,
  label: string,
  ctx: KeyContext,
): Promise<KeyringEntry> {
  const { passphrase } = input;
  if (typeof passphrase !== 'string') {
    throw new AuthSessionError('INVALID_OPTIONS', `The option \`${label}.passphrase\` must be a string`);
  }
  if ([...passphrase].length < MIN_PASSPHRASE_LENGTH) {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      `The option \`${label}.passphrase\` is shorter than ${MIN_PASSPHRASE_LENGTH} characters: use a longer passphrase, ` +
        `or a random key (${MAKE_KEY_HINT})`,
    );
  }
  const kid = input.kid ?? DEFAULT_PASSPHRASE_KID;
  if (typeof kid !== 'string' || !KID_PATTERN.test(kid)) {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      `The option \`${label}.kid\` is invalid: use 1–64 letters, digits, '.', '_', ':' or '-'`,
    );
  }
  const metaKey = `kdf:${kid}`;
  const record = await kdfRecord(metaKey, ctx);
  const key = await deriveKey(passphrase, record);
  const check = kdfCheck(key, record);
  if (record.check === undefined) {
    await metaSet(ctx.meta, metaKey, { ...record, check });
  } else if (!sameText(record.check, check)) {
    key.fill(0);
    throw new AuthSessionError(
      'KEY_MISMATCH',
      `The passphrase does not match the store's key-derivation settings "${metaKey}" (another passphrase, or ` +
        'settings altered in the store): use the passphrase the sessions were sealed with',
    );
  }
  return { key, kid };
}

async function kdfRecord(metaKey: string, ctx: KeyContext): Promise<KdfRecord> {
  const stored = await metaGet(ctx.meta, metaKey);
  if (stored !== undefined && stored !== null) return parseKdfRecord(stored, metaKey, ctx);
  if (await ctx.hasSessions()) {
    throw new AuthSessionError(
      'KEY_MISMATCH',
      `The key-derivation settings "${metaKey}" are missing from the store, which holds sessions: a new salt would ` +
        'give a new key that cannot open them. Restore the settings from a backup of the store, or use the raw key',
    );
  }
  const salt = randomOf(ctx, SALT_LENGTH);
  const created: KdfRecord = {
    v: 1,
    alg: 'scrypt',
    salt: encodeBase64(salt),
    ...pickParams(ctx.scryptParams),
    keylen: KEY_LENGTH,
  };
  await metaSet(ctx.meta, metaKey, created);
  // Read back: when two processes create the record at once, the last write wins and both must use it.
  const after = await metaGet(ctx.meta, metaKey);
  return after === undefined || after === null ? created : parseKdfRecord(after, metaKey, ctx);
}

function parseKdfRecord(value: unknown, metaKey: string, ctx: KeyContext): KdfRecord {
  const parsed = kdfRecordSchema.safeParse(value);
  if (!parsed.success) {
    throw new AuthSessionError(
      'CORRUPT_RECORD',
      `The stored key-derivation settings "${metaKey}" are malformed; the passphrase key cannot be derived`,
    );
  }
  // The settings are read from the store, which an attacker may write: never derive a key weaker than this
  // manager would have made (an offline-guessable key for everything sealed afterwards).
  const min = ctx.scryptParams;
  if (parsed.data.N < min.N || parsed.data.r < min.r || parsed.data.p < min.p) {
    throw new AuthSessionError(
      'CORRUPT_RECORD',
      `The stored key-derivation settings "${metaKey}" are weaker than the minimum (scrypt N=${min.N}, r=${min.r}, ` +
        `p=${min.p}); they are not used. Restore them from a backup of the store`,
    );
  }
  return parsed.data;
}

/** Two passphrases under one kid would share one salt record: said before anything is derived. */
export function assertDistinctPassphraseKids(inputs: readonly unknown[]): void {
  const seen = new Map<string, unknown>();
  for (const input of inputs) {
    if (typeof input !== 'object' || input === null || !('passphrase' in input)) continue;
    const { passphrase, kid } = input as { passphrase: unknown; kid?: unknown };
    const id = typeof kid === 'string' ? kid : DEFAULT_PASSPHRASE_KID;
    if (seen.has(id) && seen.get(id) !== passphrase) {
      throw new AuthSessionError(
        'INVALID_OPTIONS',
        `Two different keys share the key id "${id}": give each key (each passphrase) its own \`kid\``,
      );
    }
    seen.set(id, passphrase);
  }
}

/** The settings' check value: an HMAC, under the derived key, of everything that went into deriving it. */
function kdfCheck(key: Uint8Array, record: KdfRecord): string {
  const text = JSON.stringify([
    record.v,
    record.alg,
    record.salt,
    record.N,
    record.r,
    record.p,
    record.keylen,
  ]);
  return createHmac('sha256', key).update('auth-sessions kdf check v1').update(text).digest('base64');
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function pickParams(params: ScryptParams): ScryptParams {
  return { N: params.N, r: params.r, p: params.p };
}

export function checkScryptParams(params: ScryptParams): void {
  const probe = {
    v: 1,
    alg: 'scrypt',
    salt: encodeBase64(new Uint8Array(SALT_LENGTH)),
    ...pickParams(params),
    keylen: KEY_LENGTH,
  };
  if (!kdfRecordSchema.safeParse(probe).success) {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      'scryptParams are out of range: N a power of two in [2^10, 2^22], r in [1, 32], p in [1, 16], memory ≤ 256 MiB',
    );
  }
}

function scryptMemory({ N, r, p }: ScryptParams): number {
  // What OpenSSL checks against maxmem: the V array (128·r·(N+2)) plus B (128·r·p).
  return 128 * r * (N + 2) + 128 * r * p;
}

function deriveKey(passphrase: string, record: KdfRecord): Promise<Uint8Array> {
  const salt = decodeBase64(record.salt)!;
  return new Promise((resolvePromise, reject) => {
    scrypt(
      passphrase.normalize('NFC'),
      salt,
      record.keylen,
      { N: record.N, r: record.r, p: record.p, maxmem: SCRYPT_MAXMEM },
      (err, derived) => {
        if (err) {
          reject(
            new AuthSessionError('INVALID_OPTIONS', 'Deriving the key from the passphrase failed', {
              cause: err,
            }),
          );
          return;
        }
        const key = new Uint8Array(derived);
        derived.fill(0);
        resolvePromise(key);
      },
    );
  });
}

async function metaGet(meta: MetaStore, key: string): Promise<unknown> {
  try {
    return await meta.get(key);
  } catch (err) {
    throw storageError(err);
  }
}

async function metaSet(meta: MetaStore, key: string, value: unknown): Promise<void> {
  try {
    await meta.set(key, value);
  } catch (err) {
    throw storageError(err);
  }
}

function storageError(err: unknown): AuthSessionError {
  return err instanceof AuthSessionError
    ? err
    : new AuthSessionError(
        'STORAGE_UNAVAILABLE',
        'The store could not be reached for key-derivation settings',
        {
          cause: err,
        },
      );
}
