/** Limits of a cache kept with {@link rememberRecent}. */
export interface RecentLimits<V> {
  /** Entries, at most. */
  readonly max: number;
  /** Approximate bytes of all entries together, at most (see `sizeOf`). @default no byte limit */
  readonly maxBytes?: number;
  /** Approximate bytes one entry holds. Required with `maxBytes`; must be cheap (it runs on every insert). */
  readonly sizeOf?: (value: V) => number;
}

/**
 * Puts `key` in a map used as a cache of the most recently used entries: the entry moves to the newest end,
 * and the oldest ones go while the map has more than `max` entries or, with `maxBytes`, more than that many
 * bytes (by `sizeOf`). An entry larger than `maxBytes` on its own is not kept at all.
 *
 * @example
 * ```ts
 * rememberRecent(cache, id, { raw, record }, { max: 1000, maxBytes: 32 << 20, sizeOf: (e) => e.raw.length * 2 });
 * ```
 */
export function rememberRecent<K, V>(
  map: Map<K, V>,
  key: K,
  value: V,
  limits: number | RecentLimits<V>,
): void {
  const { max, maxBytes, sizeOf } = typeof limits === 'number' ? { max: limits } : limits;
  map.delete(key);
  if (maxBytes === undefined || sizeOf === undefined) {
    while (map.size >= max) {
      const oldest = map.keys().next();
      if (oldest.done) break;
      map.delete(oldest.value);
    }
    map.set(key, value);
    return;
  }
  const size = sizeOf(value);
  if (size > maxBytes) return;
  let total = size;
  for (const v of map.values()) total += sizeOf(v);
  for (const [k, v] of map) {
    if (map.size < max && total <= maxBytes) break;
    map.delete(k);
    total -= sizeOf(v);
  }
  map.set(key, value);
}
