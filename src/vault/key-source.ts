import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { AuthSessionError } from '../errors.js';
import { DEFAULT_DATA_DIR } from '../store/default-store.js';
import type { KeyContext } from './key-context.js';
import { defaultKeyFile, KEY_ENV_VAR, readKeyFile } from './key-file.js';
import type { KeyInput } from './key-input.js';
import { KEY_LENGTH, Keyring, type KeyringEntry } from './keyring.js';
import {
  assertDistinctPassphraseKids,
  checkScryptParams,
  fromPassphrase,
  type MetaStore,
  OWASP_SCRYPT_PARAMS,
  type ScryptParams,
} from './passphrase-key.js';
import { invalidKey, parseRawKey } from './raw-key.js';

export { KEY_ENV_VAR, KEY_FILE_NAME } from './key-file.js';
export type { KeyFileInput, KeyInput, KeyringInput, PassphraseKeyInput } from './key-input.js';
export {
  DEFAULT_PASSPHRASE_KID,
  type MetaStore,
  MIN_PASSPHRASE_LENGTH,
  OWASP_SCRYPT_PARAMS,
  type ScryptParams,
} from './passphrase-key.js';

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
  const ctx: KeyContext = {
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

async function collect(input: KeyInput, label: string, ctx: KeyContext, out: KeyringEntry[]): Promise<void> {
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
