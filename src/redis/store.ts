import type { RedisClientConnectionType } from '@keyv/redis';
import Keyv from 'keyv';
import { systemClock } from '../clock.js';
import { AuthSessionError } from '../errors.js';
import { positiveMs } from '../server-calls.js';
import { registerStoreAdapter } from '../store/registry.js';
import { assertRedisUrl, createResilientClient, type RedisClientLike, ready } from './client.js';
import { KeyvRedis } from './peer.js';
import { redisStoreAdapter } from './store-adapter.js';

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
  // Failures throw (throwOnErrors); without a listener an emitted copy of one could crash the process.
  keyv.on('error', () => {});
  registerStoreAdapter(keyv, redisStoreAdapter(keyv, adapter));
  return keyv;
}
