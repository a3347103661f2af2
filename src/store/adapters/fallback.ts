import type Keyv from 'keyv';
import { type Clock, systemClock } from '../../clock.js';
import { AuthSessionError } from '../../errors.js';
import type { StoreAdapter, StoreEntry } from '../contract.js';
import { decodeEntry, decodeScanned, encodeEntry, keyvStore, keyvStoredKey } from '../keyv-entry.js';

/** The methods of a Keyv storage adapter (`keyv.store`) the fallback calls. */
interface KeyvStorageAdapter {
  get(key: string): unknown;
  set(key: string, value: unknown, ttl?: number): unknown;
  delete(key: string): unknown;
  iterator?: (namespace?: string) => AsyncIterable<[string, unknown]>;
  readonly namespace?: string;
}

/** The changes in flight per Keyv instance and key. */
const QUEUES = new WeakMap<Keyv, Map<string, Promise<unknown>>>();

/**
 * The documented fallback for a Keyv store the library has no atomic adapter for (anything but memory,
 * `@keyv/sqlite`, `createRedisStore` and `createPostgresStore`). It calls the Keyv's storage adapter
 * (`keyv.store`) directly, with the Keyv's key prefix and serializer, so entries keep Keyv's format.
 *
 * - `atomic: false`: a compare-and-set is a read and then a write. Within this process they are serialised
 *   per key (no two changes of one record interleave), but another process writing the same store in
 *   between is not excluded: with several processes, use an atomic store (Redis, PostgreSQL, SQLite).
 * - Keyv storage adapters often report failures only by emitting `'error'` (and answering "nothing"): each
 *   call listens on the Keyv for the duration of that call only, and fails when an error was emitted
 *   meanwhile. The Keyv instance is never changed.
 * - Listing needs an adapter with an `iterator` (as Keyv's iterable adapters have); `canScan` says so.
 *
 * @example
 * ```ts
 * const store = fallbackStoreAdapter(new Keyv({ store: myAdapter }));
 * store.atomic; // false
 * ```
 */
export function fallbackStoreAdapter(keyv: Keyv, options: { readonly clock?: Clock } = {}): StoreAdapter {
  const store = keyvStore(keyv) as KeyvStorageAdapter;
  const clock = options.clock ?? systemClock;
  const at = (key: string) => keyvStoredKey(keyv, key);
  // Shared by every adapter over this Keyv in this process (two managers on one Keyv serialise together).
  let queues = QUEUES.get(keyv);
  if (!queues) {
    queues = new Map();
    QUEUES.set(keyv, queues);
  }
  const perKey = queues;

  /** Runs one call to the storage adapter, failing when the Keyv emitted an error meanwhile. */
  const guarded = async <T>(fn: () => Promise<T>): Promise<T> => {
    let emitted: { error: unknown } | undefined;
    const onError = (error: unknown) => {
      emitted ??= { error };
    };
    keyv.on('error', onError);
    try {
      const result = await fn();
      if (emitted) throw emitted.error instanceof Error ? emitted.error : new Error(String(emitted.error));
      return result;
    } finally {
      keyv.off('error', onError);
    }
  };

  const read = (key: string) =>
    guarded(async () => decodeEntry(keyv, key, await store.get(at(key)), clock.now()));

  const put = (key: string, value: string, ttlMs?: number) =>
    guarded(async () => {
      const entry = await encodeEntry(keyv, value, ttlMs === undefined ? undefined : clock.now() + ttlMs);
      const ok = await store.set(at(key), entry, ttlMs);
      if (ok === false) throw new Error(`The Keyv store refused to write "${key}"`);
    });

  /** One change of `key` at a time in this process: the next starts when the previous settled. */
  const serialised = async <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    const previous = perKey.get(key) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.then(
      () => {},
      () => {},
    );
    perKey.set(key, tail);
    try {
      return await run;
    } finally {
      if (perKey.get(key) === tail) perKey.delete(key);
    }
  };

  const canScan = store instanceof Map || typeof store.iterator === 'function';

  return {
    atomic: false,
    canScan,
    read,
    compareAndSet: (key, expected, next) =>
      serialised(key, async () => {
        if ((await read(key)) !== expected) return false;
        if (next === undefined) {
          if (expected !== undefined) await guarded(async () => store.delete(at(key)));
        } else {
          await put(key, next);
        }
        return true;
      }),
    delete: (key) =>
      serialised(key, async () => {
        const present = (await read(key)) !== undefined;
        await guarded(async () => store.delete(at(key)));
        return present;
      }),
    async *scan(prefix): AsyncGenerator<StoreEntry> {
      if (!canScan) {
        throw new AuthSessionError(
          'INVALID_OPTIONS',
          'This Keyv store cannot list its keys; use a store with an iterator (memory, SQLite, Redis, PostgreSQL)',
        );
      }
      const low = at(prefix);
      const strip = low.length - prefix.length;
      const source: AsyncIterable<[unknown, unknown]> | Iterable<[unknown, unknown]> =
        store instanceof Map
          ? (store as Map<unknown, unknown>)
          : (store.iterator as NonNullable<KeyvStorageAdapter['iterator']>).call(store, store.namespace);
      const iterator =
        Symbol.asyncIterator in source
          ? (source as AsyncIterable<[unknown, unknown]>)[Symbol.asyncIterator]()
          : (source as Iterable<[unknown, unknown]>)[Symbol.iterator]();
      for (;;) {
        const step = await guarded(async () => iterator.next());
        if (step.done) return;
        const [k, raw] = step.value;
        if (typeof k !== 'string' || !k.startsWith(low)) continue;
        const value = await decodeScanned(keyv, k.slice(strip), raw, clock.now());
        if (value !== undefined) yield [k.slice(strip), value];
      }
    },
    write: (key, value, ttlMs) => serialised(key, () => put(key, value, ttlMs)),
  };
}
