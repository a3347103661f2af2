/**
 * `auth-sessions/conformance`: the suites the library runs against every storage adapter and lock it ships,
 * for you to run against your own (like Keyv's test-suite or Lucia's adapter tests). Test-runner agnostic:
 * pass vitest's or Jest's `describe`, `it` and `expect`.
 *
 * @example
 * ```ts
 * import { describe, expect, it } from 'vitest';
 * import { lockConformance, storeConformance } from 'auth-sessions/conformance';
 *
 * storeConformance({ describe, it, expect, name: 'my store', makeStore: async () => ({ store: await openMyStore() }) });
 * lockConformance({ describe, it, expect, name: 'my lock', makeLock: () => ({ lock: new MyLock() }) });
 *
 * // A Keyv storage adapter of your own: the suite runs on what the library would use for it.
 * storeConformance({
 *   describe, it, expect, name: 'Keyv over my adapter',
 *   makeStore: () => ({ store: storeAdapterFor(new Keyv({ store: new MyKeyvAdapter() })) }),
 * });
 * ```
 *
 * @module
 */

export type { IndexTerm, StoreAdapter, StoreEntry } from '../store/contract.js';
export { storeAdapterFor } from '../store/registry.js';
export { type LockConformanceOptions, type LockFixture, lockConformance } from './lock.js';
export type { ConformanceClock, ConformanceRunner } from './runner.js';
export { type StoreConformanceOptions, type StoreFixture, storeConformance } from './store.js';
