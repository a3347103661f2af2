import type Keyv from 'keyv';
import { type Clock, systemClock } from '../../clock.js';
import type { StoreAdapter, StoreEntry } from '../contract.js';
import { decodeEntry, decodeScanned, encodeEntry, keyvStore, keyvStoredKey } from '../keyv-entry.js';

/**
 * The adapter over a Keyv whose store is its in-memory `Map` (`new Keyv()`, `createMemoryStore()`). Entries
 * keep Keyv's format in the Map, so the Keyv instance reads them as usual. The compare-and-set decodes the
 * stored entry and encodes the new one first (Keyv's serializer may be asynchronous), then, in one
 * synchronous step, checks that the entry is still the one it decoded and replaces it: atomic within the
 * process, which is all a Map is shared by. TTLs count on `clock`.
 *
 * @example
 * ```ts
 * const store = memoryStoreAdapter(new Keyv());
 * await store.compareAndSet('session/a', undefined, '{"v":1}'); // true
 * ```
 */
export function memoryStoreAdapter(keyv: Keyv, options: { readonly clock?: Clock } = {}): StoreAdapter {
  const map = keyvStore(keyv);
  if (!(map instanceof Map)) throw new TypeError('memoryStoreAdapter: the Keyv store is not a Map');
  const clock = options.clock ?? systemClock;
  const at = (key: string) => keyvStoredKey(keyv, key);
  const decode = (key: string, raw: unknown) => decodeEntry(keyv, key, raw, clock.now());

  return {
    atomic: true,
    canScan: true,
    read: (key) => decode(key, map.get(at(key))),
    async compareAndSet(key, expected, next) {
      const stored = at(key);
      for (;;) {
        const raw = map.get(stored);
        if ((await decode(key, raw)) !== expected) return false;
        const entry = next === undefined ? undefined : await encodeEntry(keyv, next);
        // Changed while decoding or encoding: look again (another writer made progress).
        if (map.get(stored) !== raw) continue;
        if (entry === undefined) map.delete(stored);
        else map.set(stored, entry);
        return true;
      }
    },
    async delete(key) {
      const stored = at(key);
      const present = (await decode(key, map.get(stored))) !== undefined;
      map.delete(stored);
      return present;
    },
    async *scan(prefix): AsyncGenerator<StoreEntry> {
      const low = at(prefix);
      const strip = low.length - prefix.length;
      // A Map iterates live and in insertion order: memory stays flat, and every untouched key is seen once.
      for (const [k, raw] of map) {
        if (typeof k !== 'string' || !k.startsWith(low)) continue;
        const value = await decodeScanned(keyv, k.slice(strip), raw, clock.now());
        if (value !== undefined) yield [k.slice(strip), value];
      }
    },
    async write(key, value, ttlMs) {
      const expires = ttlMs === undefined ? undefined : clock.now() + ttlMs;
      map.set(at(key), await encodeEntry(keyv, value, expires));
    },
  };
}
