import { createRequire } from 'node:module';
import { AuthSessionError } from '../errors.js';

/**
 * A query result of node-postgres (the part used here).
 *
 * @example
 * ```ts
 * const { rows }: PgResult = await pool.query('SELECT 1 AS one');
 * ```
 */
export interface PgResult {
  readonly rows: Record<string, unknown>[];
  readonly rowCount: number | null;
}

/**
 * A client checked out of a node-postgres pool.
 *
 * @example
 * ```ts
 * const client: PgPoolClient = await pool.connect();
 * try { await client.query('SELECT 1'); } finally { client.release(); }
 * ```
 */
export interface PgPoolClient {
  query(text: string, values?: readonly unknown[]): Promise<PgResult>;
  /** Returns the client to the pool; with an error, destroys it instead. */
  release(err?: Error | boolean): void;
  on(event: 'error', listener: (err: Error) => void): unknown;
  removeListener(event: 'error', listener: (err: Error) => void): unknown;
}

/**
 * A node-postgres pool (`new pg.Pool(config)`).
 *
 * @example
 * ```ts
 * const pool: PgPool = createPool(url, { max: 10, connectTimeoutMs: 5000 });
 * ```
 */
export interface PgPool {
  query(text: string, values?: readonly unknown[]): Promise<PgResult>;
  connect(): Promise<PgPoolClient>;
  end(): Promise<void>;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

interface PgModule {
  readonly Pool: new (config: Record<string, unknown>) => PgPool;
}

/**
 * Loads node-postgres. It is a dependency of `@keyv/postgres`, so it is resolved from there first (found
 * under any package manager's layout), then from this package.
 *
 * @example
 * ```ts
 * const { Pool } = loadPg();
 * ```
 */
export function loadPg(): PgModule {
  const anchors: string[] = [];
  try {
    anchors.push(import.meta.resolve('@keyv/postgres'));
  } catch {
    // not installed: the error below says what to install
  }
  anchors.push(import.meta.url);
  for (const anchor of anchors) {
    try {
      const mod = createRequire(anchor)('pg') as PgModule & { default?: PgModule };
      return mod.default ?? mod;
    } catch {
      // try the next anchor
    }
  }
  throw new AuthSessionError(
    'INVALID_OPTIONS',
    'auth-sessions/postgres needs the optional dependency "@keyv/postgres" (npm install @keyv/postgres)',
  );
}

/**
 * A pool that fails fast and never crashes the process: a bounded connect, and a listener for the errors of
 * idle connections (a restarted server kills them; node-postgres emits those on the pool, and an unhandled
 * 'error' event would end the process).
 *
 * @example
 * ```ts
 * const pool = createPool('postgresql://postgres@127.0.0.1:5432/app', { max: 10, connectTimeoutMs: 5000 });
 * ```
 */
export function createPool(uri: string, options: { max: number; connectTimeoutMs: number }): PgPool {
  const { Pool } = loadPg();
  const pool = new Pool({
    connectionString: uri,
    max: options.max,
    connectionTimeoutMillis: options.connectTimeoutMs,
    idleTimeoutMillis: 10_000,
    // Dead connections are noticed by the OS instead of hanging a query until some long TCP timeout.
    keepAlive: true,
  });
  pool.on('error', () => {
    // An idle connection died; the pool has dropped it and opens a new one when needed.
  });
  return pool;
}

/**
 * Validates a PostgreSQL URL option without ever echoing it (it may carry a password).
 *
 * @example
 * ```ts
 * assertPostgresUrl(options.url, 'url');
 * ```
 */
export function assertPostgresUrl(uri: unknown, option: string): asserts uri is string {
  if (typeof uri !== 'string' || !/^postgres(ql)?:\/\//i.test(uri)) {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      `"${option}" must be a PostgreSQL URL such as postgresql://user@127.0.0.1:5432/db`,
    );
  }
}

/**
 * A SQL identifier the library puts into statements: plain lower-case letters, digits and underscores only.
 *
 * @example
 * ```ts
 * assertIdentifier(options.table ?? 'auth_sessions', 'table');
 * ```
 */
export function assertIdentifier(value: unknown, option: string): asserts value is string {
  if (typeof value !== 'string' || !/^[a-z_][a-z0-9_]{0,62}$/.test(value)) {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      `"${option}" must be a plain lower-case SQL identifier (a-z, 0-9, _; at most 63 characters)`,
    );
  }
}
