import type Keyv from 'keyv';
import type { Clock } from '../clock.js';
import { fallbackStoreAdapter } from './adapters/fallback.js';
import { memoryStoreAdapter } from './adapters/memory.js';
import { sqliteAdapterOf, sqliteStoreAdapter } from './adapters/sqlite.js';
import type { StoreAdapter } from './contract.js';
import { keyvStore } from './keyv-entry.js';

/**
 * Adapters made together with their Keyv (`createRedisStore`, `createPostgresStore`): found by the Keyv
 * instance itself, without changing it (nothing is hung on the user's object).
 */
const REGISTERED = new WeakMap<Keyv, StoreAdapter>();

/**
 * Remembers the adapter of a Keyv the library created, for {@link storeAdapterFor}.
 *
 * @example
 * ```ts
 * registerStoreAdapter(keyv, redisStoreAdapter(keyv, adapter));
 * ```
 */
export function registerStoreAdapter(keyv: Keyv, adapter: StoreAdapter): void {
  REGISTERED.set(keyv, adapter);
}

/**
 * The {@link StoreAdapter} for a Keyv instance: the one registered with it (Redis, PostgreSQL), else the
 * in-memory adapter for a Map store, the SQLite adapter for `@keyv/sqlite`, and the check-then-write
 * fallback for anything else. `clock` decides TTLs where the library, not a server, decides them.
 *
 * @example
 * ```ts
 * const store = storeAdapterFor(new Keyv());
 * store.atomic; // true
 * ```
 */
export function storeAdapterFor(keyv: Keyv, options: { readonly clock?: Clock } = {}): StoreAdapter {
  const registered = REGISTERED.get(keyv);
  if (registered) return registered;
  if (keyvStore(keyv) instanceof Map) return memoryStoreAdapter(keyv, options);
  const sqlite = sqliteAdapterOf(keyv);
  if (sqlite) return sqliteStoreAdapter(keyv, sqlite, options);
  return fallbackStoreAdapter(keyv, options);
}
