import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import type KeyvSqliteClass from '@keyv/sqlite';
import Keyv from 'keyv';
import { AuthSessionError } from '../errors.js';
import { defaultNotice, ensurePrivateDir, ensurePrivateFile } from '../file-modes.js';

/** The folder of the embedded defaults (SQLite file and key file). */
export const DEFAULT_DATA_DIR = '.auth-sessions';

/** Options of {@link createSqliteStore}. */
export interface SqliteStoreOptions {
  /**
   * Keyv namespace, so several applications can share one file.
   * @default 'auth-sessions'
   */
  readonly namespace?: string;
  /**
   * Rows fetched per batch when listing.
   * @default 500
   */
  readonly iterationLimit?: number;
  /**
   * Where a notice goes when the file or its folder is open to other users, or when `wal` could not be
   * switched on.
   * @default process.emitWarning (type `AuthSessionsWarning`)
   */
  readonly onNotice?: (message: string) => void;
  /**
   * Switch the file to SQLite's write-ahead log (`journal_mode=WAL`, kept by the file) with
   * `synchronous=NORMAL` on this connection: a write then costs no fsync, and readers never wait for a writer.
   * Every acknowledged write survives a crash of the process; a power loss or an operating-system crash may
   * take back the last writes before the log was synced (the file stays consistent). Leave it off where
   * each write must reach the disk before the call returns. The log lives beside the file
   * (`sessions.sqlite-wal`, `-shm`): keep the folder on a local disk (not a network share).
   * @default false
   */
  readonly wal?: boolean;
}

/**
 * A Keyv store in a SQLite file. A missing folder is created mode 0700 and a missing file mode 0600; an
 * existing one that other users may read gets a notice (`onNotice`) with the `chmod` that fixes it. The
 * manager's default is `./.auth-sessions/sessions.sqlite`.
 *
 * @example
 * ```ts
 * const manager = new AuthSessionManager({ auths, store: createSqliteStore('./data/sessions.sqlite') });
 * ```
 */
export function createSqliteStore(file: string, options: SqliteStoreOptions = {}): Keyv {
  const path = resolve(file);
  const notice = options.onNotice ?? defaultNotice;
  ensurePrivateDir(dirname(path), notice);
  ensurePrivateFile(path, notice);
  const KeyvSqlite = loadKeyvSqlite();
  const adapter = new KeyvSqlite({
    uri: `sqlite://${path}`,
    iterationLimit: options.iterationLimit ?? 500,
    // Concurrent writers (several processes on one file) wait instead of failing at once.
    busyTimeout: 10_000,
  });
  // The first statements on the connection after its table exists (a write issued meanwhile is merely
  // synced the default way).
  if (options.wal === true) {
    adapter
      .query('PRAGMA journal_mode=WAL')
      .then(() => adapter.query('PRAGMA synchronous=NORMAL'))
      .catch((err: unknown) =>
        notice(
          `auth-sessions: could not switch ${path} to the write-ahead log (${err instanceof Error ? err.message : String(err)}); it keeps SQLite's rollback journal`,
        ),
      );
  }
  return new Keyv({ store: adapter, namespace: options.namespace ?? 'auth-sessions' });
}

/**
 * An in-memory Keyv store: for tests and the REPL. Everything is gone when the process ends.
 *
 * @example
 * ```ts
 * const manager = new AuthSessionManager({ auths, store: createMemoryStore(), key: process.env.AUTH_SESSIONS_KEY });
 * ```
 */
export function createMemoryStore(): Keyv {
  return new Keyv({ namespace: 'auth-sessions' });
}

/** The embedded default store under `dataDir`. */
export function createDefaultStore(
  dataDir: string = DEFAULT_DATA_DIR,
  onNotice?: (message: string) => void,
): Keyv {
  return createSqliteStore(join(dataDir, 'sessions.sqlite'), onNotice ? { onNotice } : {});
}

/**
 * `@keyv/sqlite`, loaded when a SQLite store is first made rather than when the package is imported: its
 * `sqlite3` native module only loads when its install script ran, which npm 11 does only when the project
 * allows it, and users of other stores must not need it.
 */
function loadKeyvSqlite(): typeof KeyvSqliteClass {
  try {
    return (createRequire(import.meta.url)('@keyv/sqlite') as { KeyvSqlite: typeof KeyvSqliteClass })
      .KeyvSqlite;
  } catch (err) {
    throw new AuthSessionError(
      'STORAGE_UNAVAILABLE',
      'The embedded SQLite store cannot load the "sqlite3" native module. npm 11 runs dependency install ' +
        'scripts only when allowed: add "allowScripts": { "sqlite3": true } to your package.json and reinstall ' +
        '(or rebuild with "npm rebuild sqlite3"), or pass another store (createMemoryStore(), createRedisStore(url), ' +
        'createPostgresStore(url))',
      { cause: err },
    );
  }
}
