import type { Clock } from '../clock.js';
import { AuthSessionError } from '../errors.js';
import { delay } from '../server-calls.js';
import { createClient } from './peer.js';

/**
 * The part of a node-redis v5 client (`createClient()` from `redis` or `@keyv/redis`) the lock and the
 * compare-and-set use. Any node-redis v5 client fits.
 *
 * @example
 * ```ts
 * import { createClient } from 'redis';
 * const client: RedisClientLike = createClient({ url: 'redis://127.0.0.1:6379' });
 * ```
 */
export interface RedisClientLike {
  /** True from `connect()` until `close()`/`destroy()`, including while it reconnects. */
  readonly isOpen: boolean;
  /** True while connected and usable. */
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  set(
    key: string,
    value: string,
    options: { condition: 'NX'; expiration: { type: 'PX'; value: number } },
  ): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  close(): Promise<unknown>;
  destroy(): void;
  on(event: 'error', listener: (err: unknown) => void): unknown;
}

/**
 * A node-redis client configured to fail fast and heal by itself: commands issued while the connection is
 * down reject at once (`disableOfflineQueue`) instead of queueing until some later reconnect (a queued write
 * landing minutes after its caller was told it failed would be worse than the failure), the socket
 * reconnects in the background with capped backoff, and connecting is bounded.
 *
 * @example
 * ```ts
 * const client = createResilientClient('redis://127.0.0.1:6379', 5000);
 * ```
 */
export function createResilientClient(url: string, connectTimeoutMs: number) {
  const client = createClient({
    url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: connectTimeoutMs,
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 10), 2000),
    },
  });
  // Errors surface through the failing commands; an 'error' event without a listener would crash the process.
  client.on('error', () => {});
  return client;
}

/**
 * Resolves once the client is connected: opens it when it never was, then waits (bounded, abortable) while it
 * (re)connects. Past `timeoutMs` rejects with `STORAGE_UNAVAILABLE`; the client keeps reconnecting on its own.
 *
 * @example
 * ```ts
 * await ready(client, 5000, systemClock, signal);
 * await client.eval(script, { keys, arguments: args });
 * ```
 */
export async function ready(
  client: RedisClientLike,
  timeoutMs: number,
  clock: Clock,
  signal?: AbortSignal,
): Promise<void> {
  if (client.isReady) return;
  if (!client.isOpen) {
    // Resolves when connected (retrying meanwhile); a rejection shows up below as "not ready".
    client.connect().catch(() => {});
  }
  const deadline = clock.now() + timeoutMs;
  for (let step = 5; !client.isReady; step = Math.min(step * 2, 100)) {
    const left = deadline - clock.now();
    if (left <= 0) {
      throw new AuthSessionError('STORAGE_UNAVAILABLE', `Redis is not reachable (waited ${timeoutMs} ms)`);
    }
    await delay(Math.min(step, left), clock, signal);
  }
}

/**
 * Validates a Redis URL option without ever echoing it (it may carry a password).
 *
 * @example
 * ```ts
 * assertRedisUrl(options.url, 'url'); // INVALID_OPTIONS unless redis:// or rediss://
 * ```
 */
export function assertRedisUrl(url: unknown, option: string): asserts url is string {
  if (typeof url !== 'string' || !/^rediss?:\/\//i.test(url)) {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      `"${option}" must be a Redis URL such as redis://127.0.0.1:6379 (redis:// or rediss://)`,
    );
  }
}
