import type Keyv from 'keyv';
import type { IndexTerm, StoreAdapter, StoreEntry } from '../store/contract.js';
import { decodeEntry, decodeScanned, encodeEntry, swapFields } from '../store/keyv-entry.js';

/** The node-redis v5 commands the store adapter sends. */
interface RedisCommands {
  get(key: string): Promise<unknown>;
  del(key: string): Promise<unknown>;
  mGet(keys: string[]): Promise<unknown>;
  exists(key: string): Promise<unknown>;
  sScan(key: string, cursor: string, options: { MATCH: string; COUNT: number }): Promise<unknown>;
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
 * Lua: the index terms of a stored Keyv entry (`terms(text)`), built exactly as {@link redisIndexTerm}
 * builds them: `state:<state>`, `auth:<auth>`, `label:<byte length of name>:<name>=<value>` (the length
 * keeps `a=b` + `c` apart from `a` + `b=c`). An entry whose value is not a JSON record gets `?` (listed
 * with every filter, so a record cjson cannot read, such as one with a lone surrogate, is never missed).
 */
const TERMS_LUA = `local function terms(text)
  local ok, entry = pcall(cjson.decode, text)
  if not ok or type(entry) ~= 'table' or type(entry['value']) ~= 'string' then return {} end
  local okr, record = pcall(cjson.decode, entry['value'])
  if not okr then return {'?'} end
  local out = {}
  if type(record) ~= 'table' then return out end
  if type(record['state']) == 'string' then out[#out + 1] = 'state:' .. record['state'] end
  if type(record['auth']) == 'string' then out[#out + 1] = 'auth:' .. record['auth'] end
  if type(record['labels']) == 'table' then
    for name, value in pairs(record['labels']) do
      if type(name) == 'string' and type(value) == 'string' then
        out[#out + 1] = 'label:' .. #name .. ':' .. name .. '=' .. value
      end
    end
  end
  return out
end
`;

/**
 * Compares the stored Keyv entry's value with the expected one and replaces (or removes) the entry, as one
 * step (a script runs alone on the server), keeping the index sets: the new value's terms are added before
 * the write and the old value's other terms removed after it, so a script stopped by an error half-way leaves
 * at most extra members, never a missing one. ARGV: 1 = "1" when a value is expected ("0": the key must be
 * absent or expired), 2 = the expected value as it appears in the serialised entry, 3 = "1" to write ("0":
 * remove), 4 = the new serialised entry, 5 = now (ms; Keyv's `expires` is on the client's clock), 6 = the
 * prefix of the index sets. An entry that is not JSON never equals an expected value and never counts as
 * absent.
 */
const COMPARE_AND_SET_SCRIPT = `${TERMS_LUA}
local current = redis.call('GET', KEYS[1])
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
local kept = {}
if ARGV[3] == '1' then
  for _, term in ipairs(terms(ARGV[4])) do
    kept[term] = true
    redis.call('SADD', ARGV[6] .. term, KEYS[1])
  end
  redis.call('SET', KEYS[1], ARGV[4])
else
  redis.call('DEL', KEYS[1])
end
if current then
  for _, term in ipairs(terms(current)) do
    if not kept[term] then redis.call('SREM', ARGV[6] .. term, KEYS[1]) end
  end
end
return 1`;

/** Removes a key whatever it holds and its index entries; replies DEL's count. ARGV[1]: the index prefix. */
const DELETE_SCRIPT = `${TERMS_LUA}
local current = redis.pcall('GET', KEYS[1])
local removed = redis.call('DEL', KEYS[1])
if type(current) == 'string' then
  for _, term in ipairs(terms(current)) do redis.call('SREM', ARGV[1] .. term, KEYS[1]) end
end
return removed`;

/** Adds the index entries of the given keys as they are now (building the index over existing data). */
const INDEX_KEYS_SCRIPT = `${TERMS_LUA}
for _, key in ipairs(KEYS) do
  local current = redis.pcall('GET', key)
  if type(current) == 'string' then
    for _, term in ipairs(terms(current)) do redis.call('SADD', ARGV[1] .. term, key) end
  end
end
return 1`;

/** Drops members of the set KEYS[1] whose key no longer exists (checked here, so a key created again stays). */
const FORGET_MISSING_SCRIPT = `for _, key in ipairs(ARGV) do
  if redis.call('EXISTS', key) == 0 then redis.call('SREM', KEYS[1], key) end
end
return 1`;

/** The index set of `term` (after the index prefix), as the Lua `terms` function names it. */
export function redisIndexTerm(term: IndexTerm): string {
  return term.field === 'label'
    ? `label:${Buffer.byteLength(term.name, 'utf8')}:${term.name}=${term.value}`
    : `${term.field}:${term.value}`;
}

/** Escapes the glob characters of a Redis `MATCH` pattern. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/**
 * The adapter over a `createRedisStore` Keyv: `GET`, a Lua compare-and-set (atomic for every process on the
 * same Redis), `DEL`, `SCAN` + `MGET` pages, `SET … PX` for metadata with a TTL (the server expires it).
 * Keys and entries are the ones `@keyv/redis` reads and writes (`<namespace>::<key>`, Keyv's JSON entry).
 *
 * The index of session records by state, auth and label is one set per term (`<namespace>:idx:<term>`,
 * outside the Keyv key space, so Keyv's own `clear` and iterator never meet them) whose members are the
 * entries' Redis keys. The compare-and-set and delete scripts keep it in the same step as the write; entries
 * written otherwise (a plain Keyv `set`, `write`, an older version of the library) are not indexed until
 * their next compare-and-set. The first `scanWhere` on a Redis without the marker `<namespace>:idx:v1`
 * indexes every entry already there. Members whose key is gone (deleted by other means, expired by the
 * server) are skipped and dropped as they are met.
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
  const indexPrefix = `${adapter.namespace ?? ''}:idx:`;
  const marker = `${indexPrefix}v1`;
  let indexed: Promise<void> | undefined;
  /** Indexes the entries already there, once per Redis (the marker says it was done). */
  const ensureIndexed = (): Promise<void> => {
    indexed ??= (async () => {
      const c = await client();
      if (Number(await c.exists(marker)) === 1) return;
      let cursor = '0';
      do {
        const page = (await c.scan(cursor, { MATCH: `${globEscape(at(''))}*`, COUNT: pageSize })) as {
          cursor: string | number;
          keys: string[];
        };
        cursor = String(page.cursor);
        if (page.keys.length > 0) {
          await c.eval(INDEX_KEYS_SCRIPT, { keys: page.keys, arguments: [indexPrefix] });
        }
      } while (cursor !== '0');
      await c.set(marker, '1');
    })().catch((err: unknown) => {
      indexed = undefined;
      throw err;
    });
    return indexed;
  };

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
          indexPrefix,
        ],
      });
      return Number(reply) === 1;
    },
    async delete(key) {
      const reply = await (await client()).eval(DELETE_SCRIPT, { keys: [at(key)], arguments: [indexPrefix] });
      return Number(reply) === 1;
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
    async *scanWhere(prefix, term): AsyncGenerator<StoreEntry> {
      await ensureIndexed();
      const low = at(prefix);
      const strip = low.length - prefix.length;
      const match = `${globEscape(low)}*`;
      // The term's set, then the entries whose record could not be read (listed with every filter).
      for (const set of [indexPrefix + redisIndexTerm(term), `${indexPrefix}?`]) {
        let cursor = '0';
        do {
          const c = await client();
          const page = (await c.sScan(set, cursor, { MATCH: match, COUNT: pageSize })) as {
            cursor: string | number;
            members: string[];
          };
          cursor = String(page.cursor);
          if (page.members.length === 0) continue;
          const values = (await c.mGet(page.members)) as unknown[];
          const missing = page.members.filter((_, i) => values[i] === null || values[i] === undefined);
          for (const [i, k] of page.members.entries()) {
            const value = await decodeScanned(keyv, k.slice(strip), text(values[i]), Date.now());
            if (value !== undefined) yield [k.slice(strip), value];
          }
          if (missing.length > 0) await c.eval(FORGET_MISSING_SCRIPT, { keys: [set], arguments: missing });
        } while (cursor !== '0');
      }
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
