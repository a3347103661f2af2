import Keyv from 'keyv';
import { AuthSessionError } from '../errors.js';
import { positiveMs } from '../server-calls.js';
import { registerStoreAdapter } from '../store/registry.js';
import { KeyvPostgres } from './peer.js';
import { assertIdentifier, assertPostgresUrl, createPool, type PgPool } from './pg.js';
import { ensureRecordIndexes, postgresStoreAdapter, recordFunction } from './store-adapter.js';

/**
 * Options of {@link createPostgresStore}.
 *
 * @example
 * ```ts
 * const store = createPostgresStore(process.env.DATABASE_URL!, { schema: 'automation', table: 'auth_sessions' });
 * ```
 */
export interface PostgresStoreOptions {
  /**
   * Table of the key/value rows (created when missing).
   * @default 'auth_sessions'
   */
  readonly table?: string;
  /**
   * Schema of the table (created when missing).
   * @default 'public'
   */
  readonly schema?: string;
  /**
   * Prefix of every key (`<namespace>:session/<id>`); every worker of one application must use the same.
   * @default 'auth-sessions'
   */
  readonly namespace?: string;
  /**
   * Milliseconds to wait for a connection before a call fails (the manager then throws `STORAGE_UNAVAILABLE`).
   * @default 5000
   */
  readonly connectTimeoutMs?: number;
  /**
   * Connections the store's pool opens at most.
   * @default 10
   */
  readonly maxConnections?: number;
}

/** How the pool and the table reach the adapter (its base constructor runs before subclass fields exist). */
const WIRING = Symbol('wiring');

interface Wiring {
  readonly pool: PgPool;
  /** Creates the schema and table once (again after a failure). */
  readonly ensureTable: () => Promise<void>;
}

/**
 * `@keyv/postgres` on a pool of its own: the adapter's module-wide pool has no 'error' listener (an idle
 * connection killed by a server restart would crash the process) and is shared and ended by every instance
 * for the same URL. Creating the table is retried until it succeeds instead of being tried once at startup.
 */
class PooledKeyvPostgres extends KeyvPostgres {
  override async connect(): Promise<(sql: string, values?: unknown) => Promise<unknown[]>> {
    const { pool, ensureTable } = (this.opts as unknown as { [WIRING]: Wiring })[WIRING];
    return async (sql, values) => {
      await ensureTable();
      // The base class creates its table through here at startup; ensureTable did that already.
      if (/^\s*CREATE\s/i.test(sql)) return [];
      return (await pool.query(sql, values as unknown[] | undefined)).rows;
    };
  }

  override async disconnect(): Promise<void> {
    await (this.opts as unknown as { [WIRING]: Wiring })[WIRING].pool.end();
  }
}

/**
 * A Keyv store on PostgreSQL (`@keyv/postgres`) set up for sessions shared by many workers: failures throw
 * instead of looking like missing keys, connecting is bounded, dead connections are replaced without
 * crashing the process, the store works again by itself once the server is back, and conditional writes of
 * session records are atomic compare-and-set statements, so a worker whose lock lapsed can never overwrite a
 * newer record. Pass it as the manager's `store` (with `RedisLock` or {@link PostgresAdvisoryLock} as the
 * `lock`); it belongs to you: `await store.disconnect()` when done.
 *
 * @example
 * ```ts
 * import { createPostgresStore, PostgresAdvisoryLock } from 'auth-sessions/postgres';
 *
 * const url = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/app';
 * const store = createPostgresStore(url);
 * const lock = new PostgresAdvisoryLock({ url });
 * const manager = new AuthSessionManager({ auths, store, lock, key: process.env.AUTH_SESSIONS_KEY });
 * ```
 */
export function createPostgresStore(url: string, options: PostgresStoreOptions = {}): Keyv {
  assertPostgresUrl(url, 'url');
  if (typeof options !== 'object' || options === null) {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      'createPostgresStore(url, options): options must be an object',
    );
  }
  const table = options.table ?? 'auth_sessions';
  const schema = options.schema ?? 'public';
  assertIdentifier(table, 'table');
  assertIdentifier(schema, 'schema');
  const namespace = options.namespace ?? 'auth-sessions';
  if (typeof namespace !== 'string' || namespace.length === 0 || namespace.includes(':')) {
    throw new AuthSessionError('INVALID_OPTIONS', '"namespace" must be a non-empty string without ":"');
  }
  const max = options.maxConnections ?? 10;
  if (!Number.isInteger(max) || max < 1) {
    throw new AuthSessionError('INVALID_OPTIONS', '"maxConnections" must be a positive integer');
  }
  const connectTimeoutMs = positiveMs(options.connectTimeoutMs, 'connectTimeoutMs', 5000);
  const pool = createPool(url, { max, connectTimeoutMs });
  const qualified = `"${schema}"."${table}"`;
  let tableReady: Promise<void> | undefined;
  const ensureTable = (): Promise<void> => {
    tableReady ??= (async () => {
      const client = await pool.connect();
      try {
        // One creator at a time across processes: two concurrent CREATE … IF NOT EXISTS of one table still
        // collide (on its row type); a transaction-scoped advisory lock, bounded by lock_timeout, orders them.
        await client.query('BEGIN');
        try {
          await client.query(`SET LOCAL lock_timeout = '30s'`);
          await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
            `auth-sessions:create:${qualified}`,
          ]);
          if (schema !== 'public') await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
          await client.query(
            `CREATE TABLE IF NOT EXISTS ${qualified} (key VARCHAR(255) PRIMARY KEY, value TEXT)`,
          );
          // Listing reads key ranges in byte order, whatever the database's collation.
          await client.query(
            `CREATE INDEX IF NOT EXISTS "${table}_key_bytes" ON ${qualified} (key COLLATE "C")`,
          );
          await ensureRecordIndexes(client, schema, table);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => {});
          throw err;
        }
      } catch (err) {
        tableReady = undefined;
        throw err;
      } finally {
        client.release();
      }
    })();
    return tableReady;
  };
  const wiring: Wiring = { pool, ensureTable };
  const adapter = new PooledKeyvPostgres({
    uri: url,
    table,
    schema,
    [WIRING]: wiring,
  } as ConstructorParameters<typeof KeyvPostgres>[0]);
  const keyv = new Keyv(adapter, { namespace, throwOnErrors: true });
  // Failures throw (throwOnErrors); without a listener an emitted copy of one could crash the process.
  keyv.on('error', () => {});
  registerStoreAdapter(
    keyv,
    postgresStoreAdapter(keyv, {
      pool,
      qualified,
      keyPrefix: `${namespace}:`,
      ensureTable,
      record: recordFunction(schema, table),
    }),
  );
  return keyv;
}
