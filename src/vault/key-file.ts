import { chmod, link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AuthSessionError } from '../errors.js';
import { ensurePrivateDir } from '../file-modes.js';
import { encodeBase64 } from './base64.js';
import { type KeyContext, randomOf } from './key-context.js';
import { KEY_LENGTH } from './keyring.js';
import { invalidKey, parseRawKey } from './raw-key.js';

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

const MAX_KEY_FILE_CHARS = 1024;

/** Reads a key file; `undefined` when it does not exist. */
export async function readKeyFile(path: string, ctx: KeyContext): Promise<Uint8Array | undefined> {
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
export async function defaultKeyFile(ctx: KeyContext): Promise<Uint8Array> {
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
async function createKeyFile(path: string, ctx: KeyContext): Promise<Uint8Array | undefined> {
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
