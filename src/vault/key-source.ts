import { createHmac, randomBytes as nodeRandomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { chmod, link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { AuthSessionError } from '../errors.js';
import { ensurePrivateDir } from '../file-modes.js';
import { DEFAULT_DATA_DIR } from '../store/default-store.js';
import { decodeBase64, encodeBase64 } from './base64.js';
import { KEY_LENGTH, Keyring, type KeyringEntry, KID_PATTERN } from './keyring.js';

/**
 * Environment variable read for a base64 raw key when no `key` option is given.
 *
 * @example
 * ```ts
 * process.env[KEY_ENV_VAR] = randomBytes(32).toString('base64');
 * ```
 */
export const KEY_ENV_VAR = 'AUTH_SESSIONS_KEY';
/**
 * Directory of the embedded default (SQLite file and key file), relative to the working directory.
 *
 * @example
 * ```ts
 * const keyPath = join(DEFAULT_DATA_DIR, KEY_FILE_NAME); // './.auth-sessions/key'
 * ```
 */
/**
 * Name of the key file created in the data directory when no key is configured.
 *
 * @example
 * ```ts
 * const keyPath = join(dataDir, KEY_FILE_NAME);
 * ```
 */
export const KEY_FILE_NAME = 'key';
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

const MAKE_KEY_HINT = `Make one with: node -e "console.log(require('crypto').randomBytes(32).toString('base64'))"`;
const SALT_LENGTH = 16;
// OWASP's scrypt setting needs 128·N·r ≈ 128 MiB, above Node's 32 MiB default `maxmem`.
const SCRYPT_MAXMEM = 256 * 1024 * 1024;
const MAX_KEY_FILE_CHARS = 1024;

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

/**
 * What {@link resolveKeyring} needs from its caller (the manager).
 *
 * @example
 * ```ts
 * const deps: ResolveKeyringDeps = { meta, dataDir: '.auth-sessions', notice: (m) => logger.warn(m) };
 * ```
 */
export interface ResolveKeyringDeps {
  /** Where passphrase salts and parameters are stored (the session store). */
  readonly meta: MetaStore;
  /**
   * Whether the store already holds sessions. A new key (a key file created on first use) or a new salt for a
   * passphrase is refused then (`KEY_MISMATCH`): those sessions were sealed with another key, and a manager
   * writing under a new one would make records no other worker can open.
   * @default () => Promise.resolve(false)
   */
  readonly hasSessions?: () => Promise<boolean>;
  /**
   * Environment read for {@link KEY_ENV_VAR}.
   * @default process.env
   */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Directory of the default key file.
   * @default './.auth-sessions'
   */
  readonly dataDir?: string;
  /**
   * Receives one-time notices (a key file was created, a key file is readable by others). Never given a key.
   * @default process.emitWarning
   */
  readonly notice?: (message: string) => void;
  /**
   * Source of keys, salts and nonces.
   * @default node:crypto randomBytes
   */
  readonly randomBytes?: (n: number) => Uint8Array;
  /**
   * scrypt parameters used when a passphrase's salt record is first created (later resolutions use the stored
   * ones). For fast unit tests only.
   * @internal
   * @default OWASP_SCRYPT_PARAMS
   */
  readonly scryptParams?: ScryptParams;
}

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

interface Context {
  readonly meta: MetaStore;
  readonly hasSessions: () => Promise<boolean>;
  readonly env: NodeJS.ProcessEnv;
  readonly dataDir: string;
  readonly notice: (message: string) => void;
  readonly randomBytes: (n: number) => Uint8Array;
  readonly scryptParams: ScryptParams;
}

/**
 * Builds the vault's {@link Keyring} from the manager's `key` option. With no option: the base64 key in
 * `AUTH_SESSIONS_KEY`, else the key file `<dataDir>/key`, created on first use (mode 0600, directory 0700) with
 * a one-time notice saying where it is and that losing it makes stored sessions unreadable.
 *
 * Error messages say what is wrong and how to fix it; they never contain a key or passphrase.
 *
 * @throws AuthSessionError `INVALID_OPTIONS` for a malformed key, a short passphrase or an unreadable key file;
 *   `CORRUPT_RECORD` when a stored salt record is malformed; `STORAGE_UNAVAILABLE` when `meta` fails.
 * @example
 * ```ts
 * const keyring = await resolveKeyring(options.key, { meta, dataDir: '.auth-sessions', notice: (m) => logger.warn(m) });
 * ```
 */
export async function resolveKeyring(
  input: KeyInput | undefined,
  deps: ResolveKeyringDeps,
): Promise<Keyring> {
  const ctx: Context = {
    meta: deps.meta,
    hasSessions: deps.hasSessions ?? (() => Promise.resolve(false)),
    env: deps.env ?? process.env,
    dataDir: resolve(deps.dataDir ?? DEFAULT_DATA_DIR),
    notice: deps.notice ?? ((message) => process.emitWarning(message, { type: 'AuthSessionsWarning' })),
    randomBytes: deps.randomBytes ?? nodeRandomBytes,
    scryptParams: deps.scryptParams ?? OWASP_SCRYPT_PARAMS,
  };
  if (deps.scryptParams !== undefined) {
    checkScryptParams(deps.scryptParams);
  }
  const entries: KeyringEntry[] = [];
  try {
    if (input === undefined) {
      const fromEnv = ctx.env[KEY_ENV_VAR];
      entries.push(
        fromEnv === undefined
          ? { key: await defaultKeyFile(ctx) }
          : { key: parseRawKey(fromEnv, `The environment variable ${KEY_ENV_VAR}`) },
      );
    } else {
      await collect(input, 'key', ctx, entries);
    }
    const [current, ...previous] = entries;
    return new Keyring({ current: current!, previous, randomBytes: ctx.randomBytes });
  } finally {
    // The keyring keeps its own copies.
    for (const entry of entries) entry.key.fill(0);
  }
}

async function collect(input: KeyInput, label: string, ctx: Context, out: KeyringEntry[]): Promise<void> {
  if (typeof input === 'string') {
    out.push({ key: parseRawKey(input, `The option \`${label}\``) });
    return;
  }
  if (input instanceof Uint8Array) {
    if (input.length !== KEY_LENGTH) {
      throw invalidKey(`The option \`${label}\``, `it is ${input.length} bytes long`);
    }
    out.push({ key: new Uint8Array(input) });
    return;
  }
  if (typeof input !== 'object' || input === null) {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      `The option \`${label}\` has an unsupported type (${kindOf(input)}). ${SHAPES}`,
    );
  }
  const forms = ['passphrase', 'keyFile', 'current'].filter((name) => name in input);
  if (forms.length !== 1) {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      `The option \`${label}\` must have exactly one of \`passphrase\`, \`keyFile\` or \`current\`${
        forms.length > 1 ? ` (found ${forms.map((f) => `\`${f}\``).join(' and ')})` : ''
      }. ${SHAPES}`,
    );
  }
  if ('passphrase' in input) {
    out.push(await fromPassphrase(input, label, ctx));
  } else if ('keyFile' in input) {
    if (typeof input.keyFile !== 'string' || input.keyFile === '') {
      throw new AuthSessionError(
        'INVALID_OPTIONS',
        `The option \`${label}.keyFile\` must be a non-empty path`,
      );
    }
    const path = resolve(input.keyFile);
    const key = await readKeyFile(path, ctx);
    if (key === undefined) {
      throw new AuthSessionError(
        'INVALID_OPTIONS',
        `The key file ${path} (option \`${label}.keyFile\`) does not exist. Create it with: ` +
          `node -e "console.log(require('crypto').randomBytes(32).toString('base64'))" > '${path}' && chmod 600 '${path}'`,
      );
    }
    out.push({ key });
  } else {
    const previous = input.previous ?? [];
    if (!Array.isArray(previous)) {
      throw new AuthSessionError(
        'INVALID_OPTIONS',
        `The option \`${label}.previous\` must be an array of keys`,
      );
    }
    assertDistinctPassphraseKids([input.current, ...previous]);
    await collect(input.current, `${label}.current`, ctx, out);
    // One at a time: each passphrase costs ~128 MiB of scrypt memory.
    for (const [index, item] of previous.entries()) {
      await collect(item, `${label}.previous[${index}]`, ctx, out);
    }
  }
}

const SHAPES =
  'Use a base64 32-byte key, a 32-byte Uint8Array, { passphrase, kid? }, { keyFile } or { current, previous? }.';

function kindOf(value: unknown): string {
  return value === null ? 'null' : typeof value;
}

function invalidKey(subject: string, problem: string): AuthSessionError {
  return new AuthSessionError(
    'INVALID_OPTIONS',
    `${subject} is not a valid key: ${problem}; a key is exactly ${KEY_LENGTH} random bytes, base64-encoded ` +
      `(for a passphrase use { passphrase }). ${MAKE_KEY_HINT}`,
  );
}

/** Parses a base64 (or base64url, padding optional) 32-byte key; the message never repeats the text. */
function parseRawKey(text: string, subject: string): Uint8Array {
  const trimmed = text.trim();
  if (trimmed === '') throw invalidKey(subject, 'it is empty');
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) throw invalidKey(subject, 'it looks like hex, base64 is expected');
  const standard = trimmed.replace(/-/g, '+').replace(/_/g, '/');
  const padded = standard + '='.repeat((4 - (standard.length % 4)) % 4);
  const key = /^[A-Za-z0-9+/]+=*$/.test(standard) ? decodeBase64(padded) : undefined;
  if (key === undefined) throw invalidKey(subject, 'it is not valid base64');
  if (key.length !== KEY_LENGTH) {
    key.fill(0);
    throw invalidKey(subject, `it decodes to ${key.length} bytes`);
  }
  return key;
}

async function fromPassphrase(input: PassphraseKeyInput, label: string, ctx: Context): Promise<KeyringEntry> {
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

async function kdfRecord(metaKey: string, ctx: Context): Promise<KdfRecord> {
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

function parseKdfRecord(value: unknown, metaKey: string, ctx: Context): KdfRecord {
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
function assertDistinctPassphraseKids(inputs: readonly unknown[]): void {
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

function checkScryptParams(params: ScryptParams): void {
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

function randomOf(ctx: Context, n: number): Uint8Array {
  const bytes = new Uint8Array(ctx.randomBytes(n));
  if (bytes.length !== n) {
    throw new AuthSessionError('INVALID_OPTIONS', `randomBytes(${n}) returned ${bytes.length} bytes`);
  }
  return bytes;
}

/** Reads a key file; `undefined` when it does not exist. */
async function readKeyFile(path: string, ctx: Context): Promise<Uint8Array | undefined> {
  let text: string;
  try {
    const info = await stat(path);
    if (!info.isFile()) {
      throw new AuthSessionError('INVALID_OPTIONS', `The key file ${path} is not a regular file`);
    }
    if (info.size > MAX_KEY_FILE_CHARS) {
      throw invalidKey(`The key file ${path}`, 'the file is far too large to hold one key');
    }
    if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
      ctx.notice(
        `auth-sessions: the key file ${path} is readable by other users (mode ${(info.mode & 0o777).toString(8)}); ` +
          `restrict it with: chmod 600 '${path}'`,
      );
    }
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (err instanceof AuthSessionError) throw err;
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      `The key file ${path} cannot be read (${errnoCode(err) ?? 'error'})`,
      {
        cause: err,
      },
    );
  }
  return parseRawKey(text, `The key file ${path}`);
}

/** The default key file: read it, or create it on first use (racing processes end up with the same key). */
async function defaultKeyFile(ctx: Context): Promise<Uint8Array> {
  const path = join(ctx.dataDir, KEY_FILE_NAME);
  // The folder of the key: made 0700 when missing, a notice when others may enter it. A folder that cannot be
  // made is reported below, by the creation of the key file.
  try {
    ensurePrivateDir(ctx.dataDir, ctx.notice);
  } catch {}
  const existing = await readKeyFile(path, ctx);
  if (existing !== undefined) return existing;
  if (await ctx.hasSessions()) {
    throw new AuthSessionError(
      'KEY_MISMATCH',
      `No key was given and there is no key file at ${path}, but the store already holds sessions sealed with ` +
        `a key: set ${KEY_ENV_VAR} (or the manager's \`key\` option, or the key file) to that key instead of ` +
        'creating a new one that cannot open them',
    );
  }
  const created = await createKeyFile(path, ctx);
  if (created !== undefined) {
    ctx.notice(
      `auth-sessions: created a new encryption key in ${path} (mode 0600). Keep it safe and back it up: ` +
        'if it is lost, the stored sessions can no longer be decrypted. ' +
        `To manage the key yourself, set ${KEY_ENV_VAR} or the manager's \`key\` option.`,
    );
    return created;
  }
  // Another process created it first: use theirs.
  const theirs = await readKeyFile(path, ctx);
  if (theirs === undefined) {
    throw new AuthSessionError('INVALID_OPTIONS', `The key file ${path} vanished while it was being created`);
  }
  return theirs;
}

/** Creates the key file atomically (a temp file hard-linked into place); `undefined` when it already exists. */
async function createKeyFile(path: string, ctx: Context): Promise<Uint8Array | undefined> {
  const fail = (err: unknown): AuthSessionError =>
    new AuthSessionError(
      'INVALID_OPTIONS',
      `Cannot create the key file ${path} (${errnoCode(err) ?? 'error'}): make the data directory writable, ` +
        `or set ${KEY_ENV_VAR} or the manager's \`key\` option`,
      { cause: err },
    );
  const key = randomOf(ctx, KEY_LENGTH);
  const content = `${encodeBase64(key)}\n`;
  const tmp = join(
    ctx.dataDir,
    `.${KEY_FILE_NAME}-${process.pid}-${Buffer.from(randomOf(ctx, 6)).toString('hex')}.tmp`,
  );
  try {
    await mkdir(ctx.dataDir, { recursive: true, mode: 0o700 });
    await writeFile(tmp, content, { mode: 0o600, flag: 'wx' });
    await chmod(tmp, 0o600);
  } catch (err) {
    key.fill(0);
    await unlink(tmp).catch(() => undefined);
    throw fail(err);
  }
  try {
    await link(tmp, path);
    return key;
  } catch (err) {
    if (errnoCode(err) === 'EEXIST') {
      key.fill(0);
      return undefined;
    }
    // File systems without hard links: exclusive create, not atomic with the write but never overwriting.
    try {
      await writeFile(path, content, { mode: 0o600, flag: 'wx' });
      return key;
    } catch (err2) {
      key.fill(0);
      if (errnoCode(err2) === 'EEXIST') return undefined;
      throw fail(err2);
    }
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
