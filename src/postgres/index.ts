/**
 * `auth-sessions/postgres`: share sessions between processes and machines over PostgreSQL.
 * {@link createPostgresStore} gives the manager a Keyv store on PostgreSQL (`@keyv/postgres`, atomic fenced
 * writes, survives server restarts); {@link PostgresAdvisoryLock} makes one refresh happen per expiry across
 * every worker without Redis (or use `RedisLock` from `auth-sessions/redis`). Needs the optional peer
 * dependency `@keyv/postgres` (which brings node-postgres).
 *
 * @example
 * ```ts
 * import { AuthSessionManager } from 'auth-sessions';
 * import { createPostgresStore, PostgresAdvisoryLock } from 'auth-sessions/postgres';
 *
 * const url = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/app';
 * const store = createPostgresStore(url);
 * const lock = new PostgresAdvisoryLock({ url });
 * const manager = new AuthSessionManager({ auths: [crm], store, lock, key: process.env.AUTH_SESSIONS_KEY });
 * ```
 *
 * @module
 */

export {
  PostgresAdvisoryLock,
  type PostgresAdvisoryLockOptions,
  type PostgresLockHandle,
} from './lock.js';
export { createPostgresStore, type PostgresStoreOptions } from './store.js';
