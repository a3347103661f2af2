import { randomBytes } from 'node:crypto';
import { type Clock, systemClock } from '../clock.js';
import { AuthSessionError } from '../errors.js';
import { LeasedHandle, pollForLock, type RenewalOutcome } from '../lock/leased-handle.js';
import type { AuthSessionLock, LockAcquireOptions, LockHandle } from '../lock/lock.js';
import { bounded, positiveMs } from '../server-calls.js';
import { assertRedisUrl, createResilientClient, type RedisClientLike, ready } from './client.js';

/** Deletes the key only while it still holds our token: a lapsed holder never frees someone else's lock. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** Extends the lease only while the key still holds our token. */
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

/**
 * Options of {@link RedisLock}. Give `url` or `client`.
 *
 * @example
 * ```ts
 * const lock = new RedisLock({ url: process.env.REDIS_URL, prefix: 'crm:lock:' });
 * ```
 */
export interface RedisLockOptions {
  /** Redis URL (`redis://…` or `rediss://…`); the lock opens its own connection and closes it in `close()`. */
  readonly url?: string;
  /**
   * A node-redis v5 client to use instead of `url` (connected on first use when it is not yet); `close()`
   * leaves it open: it belongs to whoever made it.
   */
  readonly client?: RedisClientLike;
  /**
   * Prefix of the lock keys (`<prefix><key>`), so several applications can share one Redis.
   * @default 'auth-sessions:lock:'
   */
  readonly prefix?: string;
  /** Time source of waits, deadlines and renewals. @default systemClock */
  readonly clock?: Clock;
  /**
   * Milliseconds to wait for a connection, and for each Redis reply, before the call fails with
   * `STORAGE_UNAVAILABLE`.
   * @default 5000
   */
  readonly commandTimeoutMs?: number;
  /**
   * Longest pause between two attempts to take a busy lock (the first pauses are shorter).
   * @default 250
   */
  readonly maxRetryDelayMs?: number;
}

/**
 * A held {@link RedisLock}: renewed every third of its lease until released, so a refresh that takes longer
 * than the lease keeps it. `lost` turns true when a renewal finds the key gone or owned by someone else (the
 * lease lapsed while this process stalled); writes made under the lock are fenced by the session's
 * generation, so a lost lock cannot overwrite a newer record.
 *
 * @example
 * ```ts
 * const handle = await lock.acquire('refresh:abc', { leaseMs: 30_000, waitMs: 60_000 });
 * try { await work(); if (handle.lost) console.warn('lease lapsed'); } finally { await handle.release(); }
 * ```
 */
export interface RedisLockHandle extends LockHandle {
  /** The Redis key of the lock. */
  readonly key: string;
  /** True once a renewal found the lock taken over (or expired); false while it is known held. */
  readonly lost: boolean;
  /** True once released. */
  readonly released: boolean;
}

/**
 * A lock shared by every process that uses the same Redis: `SET key token NX PX lease` with a random token,
 * polling with capped, jittered backoff until `waitMs` (then `LOCK_TIMEOUT`), abortable, renewed while held,
 * released only by its owner (Lua compare-and-delete). A holder that dies frees the lock when its lease runs
 * out. Pass it as the manager's `lock` so one refresh happens per expiry across all workers.
 *
 * Built on node-redis v5 (the client `@keyv/redis` itself uses): one client library for the store and the
 * lock, and its `disableOfflineQueue` makes calls fail at once during an outage instead of queueing.
 *
 * @example
 * ```ts
 * import { createRedisStore, RedisLock } from 'auth-sessions/redis';
 *
 * const store = createRedisStore('redis://127.0.0.1:6379');
 * const lock = new RedisLock({ url: 'redis://127.0.0.1:6379' });
 * const manager = new AuthSessionManager({ auths, store, lock, key: process.env.AUTH_SESSIONS_KEY });
 * // …
 * await manager.close();
 * await lock.close();
 * await store.disconnect();
 * ```
 */
export class RedisLock implements AuthSessionLock {
  readonly #client: RedisClientLike;
  readonly #ownsClient: boolean;
  readonly #prefix: string;
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  readonly #maxRetryDelayMs: number;
  readonly #held = new Set<LeasedHandle>();
  #closed = false;

  constructor(options: RedisLockOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new AuthSessionError('INVALID_OPTIONS', 'new RedisLock(options): options must be an object');
    }
    if ((options.url === undefined) === (options.client === undefined)) {
      throw new AuthSessionError(
        'INVALID_OPTIONS',
        'new RedisLock(options): give exactly one of "url" or "client"',
      );
    }
    const prefix = options.prefix ?? 'auth-sessions:lock:';
    if (typeof prefix !== 'string') {
      throw new AuthSessionError('INVALID_OPTIONS', '"prefix" must be a string');
    }
    this.#prefix = prefix;
    this.#clock = options.clock ?? systemClock;
    this.#timeoutMs = positiveMs(options.commandTimeoutMs, 'commandTimeoutMs', 5000);
    this.#maxRetryDelayMs = positiveMs(options.maxRetryDelayMs, 'maxRetryDelayMs', 250);
    if (options.client !== undefined) {
      const c = options.client as Partial<RedisClientLike> | null;
      if (
        typeof c !== 'object' ||
        c === null ||
        typeof c.set !== 'function' ||
        typeof c.eval !== 'function'
      ) {
        throw new AuthSessionError(
          'INVALID_OPTIONS',
          '"client" must be a node-redis v5 client (createClient())',
        );
      }
      this.#client = options.client;
      this.#ownsClient = false;
    } else {
      assertRedisUrl(options.url, 'url');
      this.#client = createResilientClient(options.url, this.#timeoutMs);
      this.#ownsClient = true;
    }
  }

  /**
   * Takes the lock, waiting (polling) while another holder has it. Rejects with `LOCK_TIMEOUT` after
   * `waitMs`, with the signal's error when aborted, with `STORAGE_UNAVAILABLE` when Redis cannot be reached.
   */
  async acquire(key: string, options: LockAcquireOptions): Promise<RedisLockHandle> {
    if (this.#closed) throw new AuthSessionError('CLOSED', 'The Redis lock was closed');
    const redisKey = this.#prefix + (typeof key === 'string' ? key : '');
    const token = randomBytes(18).toString('base64url');
    return pollForLock(
      key,
      options,
      { clock: this.#clock, maxRetryDelayMs: this.#maxRetryDelayMs },
      async (leaseMs) => {
        await ready(this.#client, this.#timeoutMs, this.#clock, options.signal);
        const reply = await bounded(
          this.#client.set(redisKey, token, { condition: 'NX', expiration: { type: 'PX', value: leaseMs } }),
          this.#timeoutMs,
          this.#clock,
          'Taking the Redis lock',
        );
        return reply === 'OK' ? new Held(this.#deps(), redisKey, token, leaseMs) : undefined;
      },
    );
  }

  /**
   * Stops renewing, releases the locks still held (best effort) and closes the connection the lock opened
   * from `url`. Later `acquire` calls fail with `CLOSED`.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#held].map((h) => h.release()));
    if (!this.#ownsClient) return;
    if (this.#client.isReady) await this.#client.close().catch(() => this.#client.destroy());
    else if (this.#client.isOpen) this.#client.destroy();
  }

  #deps(): HeldDeps {
    return { client: this.#client, clock: this.#clock, timeoutMs: this.#timeoutMs, held: this.#held };
  }

  /** Readable in the REPL; never shows the URL (it may carry a password). */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `RedisLock { prefix: '${this.#prefix}', held: ${this.#held.size}, closed: ${this.#closed} }`;
  }
}

interface HeldDeps {
  readonly client: RedisClientLike;
  readonly clock: Clock;
  readonly timeoutMs: number;
  readonly held: Set<LeasedHandle>;
}

/** One held lock: a Redis key holding our token, with a TTL renewed while held. */
class Held extends LeasedHandle implements RedisLockHandle {
  readonly key: string;
  readonly #client: RedisClientLike;
  readonly #timeoutMs: number;
  readonly #token: string;

  constructor(deps: HeldDeps, key: string, token: string, leaseMs: number) {
    super(deps.clock, leaseMs, deps.held);
    this.key = key;
    this.#client = deps.client;
    this.#timeoutMs = deps.timeoutMs;
    this.#token = token;
  }

  protected async renewOnServer(timeoutMs: number): Promise<RenewalOutcome> {
    const reply = await bounded(
      this.#client.eval(RENEW, { keys: [this.key], arguments: [this.#token, String(this.leaseMs)] }),
      Math.min(this.#timeoutMs, timeoutMs),
      this.clock,
      'Renewing the Redis lock',
    );
    return Number(reply) === 1 ? 'held' : 'lost';
  }

  protected async releaseOnServer(): Promise<void> {
    await bounded(
      this.#client.eval(RELEASE, { keys: [this.key], arguments: [this.#token] }),
      this.#timeoutMs,
      this.clock,
      'Releasing the Redis lock',
    );
  }
}
