/**
 * `auth-sessions/redis`: share sessions between processes and machines over Redis. {@link createRedisStore}
 * gives the manager a Keyv store on Redis (atomic fenced writes, fails fast and heals after outages);
 * {@link RedisLock} makes one refresh happen per expiry across every worker. Needs the optional peer
 * dependency `@keyv/redis` (which brings node-redis v5).
 *
 * @example
 * ```ts
 * import { AuthSessionManager } from 'auth-sessions';
 * import { createRedisStore, RedisLock } from 'auth-sessions/redis';
 *
 * const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
 * const store = createRedisStore(url);
 * const lock = new RedisLock({ url });
 * const manager = new AuthSessionManager({ auths: [crm], store, lock, key: process.env.AUTH_SESSIONS_KEY });
 * ```
 *
 * @module
 */

export type { RedisClientLike } from './client.js';
export { RedisLock, type RedisLockHandle, type RedisLockOptions } from './lock.js';
export { createRedisStore, type RedisStoreOptions } from './store.js';
