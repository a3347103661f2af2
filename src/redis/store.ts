import KeyvRedis, { type RedisClientConnectionType } from '@keyv/redis';
import Keyv from 'keyv';
import { systemClock } from '../clock.js';
import { AuthSessionError } from '../errors.js';
import { positiveMs } from '../server-calls.js';
import { COMPARE_AND_SET, type CompareAndSet, swapFields } from '../store/session-store.js';
import { assertRedisUrl, createResilientClient, type RedisClientLike, ready } from './client.js';

/**
 * Options of {@link createRedisStore}.
 *
 * @example
 * ```ts
 * const store = createRedisStore('redis://127.0.0.1:6379', { namespace: 'crm' });
 * ```
 */
export interface RedisStoreOptions {
  /**
   * Prefix of every key (`<namespace>::session/<id>`), so several applications can share one Redis. Every
   * worker of one application must use the same namespace.
   * @default 'auth-sessions'
   */
  readonly namespace?: string;
  /**
   * Milliseconds to wait for a connection before a call fails (the manager then throws `STORAGE_UNAVAILABLE`).
   * @default 5000
   */
  readonly connectTimeoutMs?: number;
}

/**
 * Compares the stored Keyv entry's value with the expected one and replaces the entry, atomically (a Lua
 * script runs alone on the server). ARGV: 1 = "1" when a value is expected ("0": the key must be absent),
 * 2 = the expected value as it appears in the serialised entry, 3 = the new serialised entry.
 */
const COMPARE_AND_SET_SCRIPT = `local current = redis.call('GET', KEYS[1])
if ARGV[1] == '0' then
  if current then return 0 end
else
  if not current then return 0 end
  local ok, entry = pcall(cjson.decode, current)
  if not ok or type(entry) ~= 'table' or entry['value'] ~= ARGV[2] then return 0 end
end
redis.call('SET', KEYS[1], ARGV[3])
return 1`;

/**
 * `@keyv/redis` waiting for the connection to be ready: its own `getClient` hands out a client that is still
 * connecting (or reconnecting) as soon as one call started connecting, so concurrent first calls of a fresh
 * process, or calls during a short blip, would fail at once. Here every call waits, bounded by the connect
 * timeout, and the client keeps reconnecting in the background when that runs out.
 */
class ReadyKeyvRedis extends KeyvRedis<string> {
  readonly #connectTimeoutMs: number;

  constructor(client: ReturnType<typeof createResilientClient>, namespace: string, connectTimeoutMs: number) {
    super(client, {
      namespace,
      throwOnConnectError: true,
      throwOnErrors: true,
      connectionTimeout: connectTimeoutMs,
    });
    this.#connectTimeoutMs = connectTimeoutMs;
  }

  override async getClient(): Promise<RedisClientConnectionType> {
    await ready(this.client as unknown as RedisClientLike, this.#connectTimeoutMs, systemClock);
    return this.client;
  }
}

/**
 * A Keyv store on Redis (`@keyv/redis`, node-redis v5 underneath) set up for sessions shared by many
 * workers: failures throw instead of looking like missing keys, commands fail at once while the connection
 * is down (no write queued for later), connecting is bounded, the client reconnects by itself after an
 * outage, and conditional writes of session records are atomic compare-and-set operations (Lua), so a worker
 * whose lock lapsed can never overwrite a newer record. Pass it as the manager's `store`; it belongs to you:
 * `await store.disconnect()` when done.
 *
 * @example
 * ```ts
 * import { AuthSessionManager } from 'auth-sessions';
 * import { createRedisStore, RedisLock } from 'auth-sessions/redis';
 *
 * const store = createRedisStore(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
 * const lock = new RedisLock({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
 * const manager = new AuthSessionManager({ auths, store, lock, key: process.env.AUTH_SESSIONS_KEY });
 * ```
 */
export function createRedisStore(url: string, options: RedisStoreOptions = {}): Keyv {
  assertRedisUrl(url, 'url');
  if (typeof options !== 'object' || options === null) {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      'createRedisStore(url, options): options must be an object',
    );
  }
  const namespace = options.namespace ?? 'auth-sessions';
  if (typeof namespace !== 'string' || namespace.length === 0 || namespace.includes('::')) {
    throw new AuthSessionError('INVALID_OPTIONS', '"namespace" must be a non-empty string without "::"');
  }
  const connectTimeoutMs = positiveMs(options.connectTimeoutMs, 'connectTimeoutMs', 5000);
  const client = createResilientClient(url, connectTimeoutMs);
  const adapter = new ReadyKeyvRedis(client, namespace, connectTimeoutMs);
  // As @keyv/redis's own createKeyv: the adapter prefixes keys, Keyv must not prefix them again.
  const keyv = new Keyv(adapter, { namespace, useKeyPrefix: false, throwOnErrors: true });
  // Without a listener an emitted error may go unnoticed; the manager adds its own to fail calls closed.
  keyv.on('error', () => {});
  Object.defineProperty(keyv, COMPARE_AND_SET, {
    value: redisCompareAndSet(keyv, adapter),
    configurable: true,
  });
  return keyv;
}

function redisCompareAndSet(keyv: Keyv, adapter: ReadyKeyvRedis): CompareAndSet {
  return async (key, expected, next) => {
    const { entry, expectedField } = await swapFields(keyv, expected, next);
    const client = (await adapter.getClient()) as unknown as RedisClientLike;
    const reply = await client.eval(COMPARE_AND_SET_SCRIPT, {
      keys: [adapter.createKeyPrefix(key, adapter.namespace)],
      arguments: [expectedField === undefined ? '0' : '1', expectedField ?? '', entry],
    });
    return Number(reply) === 1;
  };
}
