import type Keyv from 'keyv';
import type { StoreAdapter, StoreEntry } from '../store/contract.js';
import { decodeEntry, decodeScanned, encodeEntry, swapFields } from '../store/keyv-entry.js';

/** The node-redis v5 commands the store adapter sends. */
interface RedisCommands {
  get(key: string): Promise<unknown>;
  del(key: string): Promise<unknown>;
  mGet(keys: string[]): Promise<unknown>;
  scan(cursor: string, options: { MATCH: string; COUNT: number }): Promise<unknown>;
  set(key: string, value: string, options?: { expiration: { type: 'PX'; value: number } }): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/** How the store adapter reaches Redis: `@keyv/redis`'s adapter (a connected client, its key prefix). */
export interface RedisKeyvAdapterLike {
  getClient(): Promise<unknown>;
  createKeyPrefix(key: string, namespace?: string): string;
  readonly namespace?: string | undefined;
}

/**
 * Compares the stored Keyv entry's value with the expected one and replaces (or removes) the entry, as one
 * step (a script runs alone on the server). ARGV: 1 = "1" when a value is expected ("0": the key must be
 * absent or expired), 2 = the expected value as it appears in the serialised entry, 3 = "1" to write ("0":
 * remove), 4 = the new serialised entry, 5 = now (ms; Keyv's `expires` is on the client's clock).
 * An entry that is not JSON never equals an expected value and never counts as absent.
 */
const COMPARE_AND_SET_SCRIPT = `local current = redis.call('GET', KEYS[1])
local alive = false
local value = nil
if current then
  local ok, entry = pcall(cjson.decode, current)
  if not ok or type(entry) ~= 'table' then return 0 end
  local expires = entry['expires']
  alive = not (type(expires) == 'number' and tonumber(ARGV[5]) > expires)
  value = entry['value']
end
if ARGV[1] == '1' then
  if not alive or value ~= ARGV[2] then return 0 end
elseif alive then
  return 0
end
if ARGV[3] == '1' then
  redis.call('SET', KEYS[1], ARGV[4])
else
  redis.call('DEL', KEYS[1])
end
return 1`;

/** Escapes the glob characters of a Redis `MATCH` pattern. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/**
 * The adapter over a `createRedisStore` Keyv: `GET`, a Lua compare-and-set (atomic for every process on the
 * same Redis), `DEL`, `SCAN` + `MGET` pages, `SET … PX` for metadata with a TTL (the server expires it).
 * Keys and entries are the ones `@keyv/redis` reads and writes (`<namespace>::<key>`, Keyv's JSON entry).
 *
 * @example
 * ```ts
 * registerStoreAdapter(keyv, redisStoreAdapter(keyv, keyvRedis));
 * ```
 */
export function redisStoreAdapter(
  keyv: Keyv,
  adapter: RedisKeyvAdapterLike,
  options: { readonly pageSize?: number } = {},
): StoreAdapter {
  const pageSize = options.pageSize ?? 500;
  const client = async () => (await adapter.getClient()) as RedisCommands;
  const at = (key: string) => adapter.createKeyPrefix(key, adapter.namespace);
  const text = (raw: unknown) => (raw === null || raw === undefined ? undefined : String(raw));

  return {
    atomic: true,
    canScan: true,
    async read(key) {
      const raw = await (await client()).get(at(key));
      return decodeEntry(keyv, key, text(raw), Date.now());
    },
    async compareAndSet(key, expected, next) {
      const { entry, expectedField } = await swapFields(keyv, expected, next);
      const reply = await (await client()).eval(COMPARE_AND_SET_SCRIPT, {
        keys: [at(key)],
        arguments: [
          expectedField === undefined ? '0' : '1',
          expectedField ?? '',
          entry === undefined ? '0' : '1',
          entry ?? '',
          String(Date.now()),
        ],
      });
      return Number(reply) === 1;
    },
    async delete(key) {
      return Number(await (await client()).del(at(key))) === 1;
    },
    async *scan(prefix): AsyncGenerator<StoreEntry> {
      const low = at(prefix);
      const strip = low.length - prefix.length;
      const match = `${globEscape(low)}*`;
      let cursor = '0';
      do {
        const c = await client();
        const page = (await c.scan(cursor, { MATCH: match, COUNT: pageSize })) as {
          cursor: string | number;
          keys: string[];
        };
        cursor = String(page.cursor);
        if (page.keys.length === 0) continue;
        const values = (await c.mGet(page.keys)) as unknown[];
        for (const [i, k] of page.keys.entries()) {
          const value = await decodeScanned(keyv, k.slice(strip), text(values[i]), Date.now());
          if (value !== undefined) yield [k.slice(strip), value];
        }
      } while (cursor !== '0');
    },
    async write(key, value, ttlMs) {
      const expires = ttlMs === undefined ? undefined : Date.now() + ttlMs;
      const entry = String(await encodeEntry(keyv, value, expires));
      const c = await client();
      if (ttlMs === undefined) await c.set(at(key), entry);
      else await c.set(at(key), entry, { expiration: { type: 'PX', value: Math.max(1, Math.ceil(ttlMs)) } });
    },
  };
}
