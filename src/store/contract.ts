/**
 * One stored entry as {@link StoreAdapter.scan} yields it: the key (as given to the adapter, without any
 * namespace the adapter adds) and its value.
 */
export type StoreEntry = readonly [key: string, value: string];

/**
 * The storage contract the session store is written against: raw text values by key, with an atomic
 * compare-and-set. The library ships adapters for an in-memory Keyv, `@keyv/sqlite`, Redis
 * (`createRedisStore`) and PostgreSQL (`createPostgresStore`), and a documented check-then-write fallback for
 * any other Keyv store. Implement it to put sessions somewhere else, and check the implementation with
 * `storeConformance` from `auth-sessions/conformance`.
 *
 * Rules every implementation keeps:
 * - A failure throws. An unreachable backend never looks like a missing key, a refused write never looks
 *   like a lost race.
 * - Values round-trip exactly (any Unicode, quotes, backslashes, the empty string).
 * - An entry written with a TTL counts as absent once the TTL passed, for every method.
 *
 * @example
 * ```ts
 * const ok = await store.compareAndSet('session/abc', previous, next); // false: someone else wrote first
 * for await (const [key, value] of store.scan('session/')) console.log(key, value.length);
 * ```
 */
export interface StoreAdapter {
  /**
   * True when {@link StoreAdapter.compareAndSet} is atomic across every process that uses the backend; false
   * when it is a check and a write serialised only within this process (then run one process per store).
   */
  readonly atomic: boolean;
  /**
   * False when the backend cannot enumerate keys ({@link StoreAdapter.scan} then throws `INVALID_OPTIONS`).
   * @default true
   */
  readonly canScan?: boolean;
  /** The value stored under `key`, or `undefined` when there is none (or its TTL passed). */
  read(key: string): Promise<string | undefined>;
  /**
   * Replaces the value of `key` with `next` only if the stored value is still `expected`, as one step.
   * `expected` undefined: only if there is no value. `next` undefined: removes the key (if still `expected`).
   * Resolves true when it wrote (or removed), false when the stored value differed.
   */
  compareAndSet(key: string, expected: string | undefined, next: string | undefined): Promise<boolean>;
  /** Removes `key` whatever its value; true when there was one. */
  delete(key: string): Promise<boolean>;
  /**
   * Every entry whose key starts with `prefix`, in pages (memory stays bounded whatever the number of keys).
   * Entries written or removed during the scan may or may not be seen; entries untouched are seen once.
   */
  scan(prefix: string): AsyncIterable<StoreEntry>;
  /**
   * Writes `value` unconditionally, for small metadata (history, operations), removed after `ttlMs`
   * milliseconds when given.
   */
  write(key: string, value: string, ttlMs?: number): Promise<void>;
  /**
   * Optional: the entries under `prefix` whose session record matches `term`, read through an index the
   * adapter keeps (so a filtered listing reads about as many records as it finds). Adapters without one
   * leave it out and listing scans. May also yield entries that do not match (they are filtered again).
   */
  scanWhere?(prefix: string, term: IndexTerm): AsyncIterable<StoreEntry>;
}

/** One indexed property of a session record: its state, its auth, or one label. */
export type IndexTerm =
  | { readonly field: 'state' | 'auth'; readonly value: string }
  | { readonly field: 'label'; readonly name: string; readonly value: string };
