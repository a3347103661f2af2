/**
 * Puts `key` in a map used as a cache of the most recently used entries, at most `max` of them: the entry
 * moves to the newest end, and the oldest one goes when the map is full.
 */
export function rememberRecent<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  if (map.size >= max) {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
  map.set(key, value);
}
