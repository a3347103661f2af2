import { createHash } from 'node:crypto';
import { type Clock, systemClock } from '../clock.js';
import { AuthSessionError } from '../errors.js';
import { LeasedHandle, pollForLock, type RenewalOutcome } from '../lock/leased-handle.js';
import type { AuthSessionLock, LockAcquireOptions, LockHandle } from '../lock/lock.js';
import { bounded, positiveMs } from '../server-calls.js';
import { assertPostgresUrl, createPool, type PgPool, type PgPoolClient } from './pg.js';

/**
 * Options of {@link PostgresAdvisoryLock}.
 *
 * @example
 * ```ts
 * const lock = new PostgresAdvisoryLock({ url: process.env.DATABASE_URL!, maxConnections: 20 });
 * ```
 */
export interface PostgresAdvisoryLockOptions {
  /** PostgreSQL URL; the lock keeps a small pool of its own connections and closes it in `close()`. */
  readonly url: string;
  /**
   * Mixed into every lock id, so applications sharing one database do not contend.
   * @default 'auth-sessions'
   */
  readonly namespace?: string;
  /**
   * Connections the lock opens at most: each held lock keeps one for as long as it is held.
   * @default 10
   */
  readonly maxConnections?: number;
  /**
   * Milliseconds to wait for a connection, and for each statement, before failing with `STORAGE_UNAVAILABLE`.
   * @default 5000
   */
  readonly commandTimeoutMs?: number;
  /**
   * Longest pause between two attempts to take a busy lock.
   * @default 250
   */
  readonly maxRetryDelayMs?: number;
  /** Time source of waits, deadlines and heartbeats. @default systemClock */
  readonly clock?: Clock;
}

/**
 * A held {@link PostgresAdvisoryLock}.
 *
 * @example
 * ```ts
 * const handle = await lock.acquire('refresh:abc', { leaseMs: 30_000, waitMs: 60_000 });
 * try { await work(); } finally { await handle.release(); }
 * ```
 */
export interface PostgresLockHandle extends LockHandle {
  /** True once the connection holding the lock was lost (the server then freed the lock). */
  readonly lost: boolean;
  /** True once released. */
  readonly released: boolean;
}

/**
 * A lock shared by every process using the same PostgreSQL database, for deployments without Redis: a
 * transaction-level advisory lock (`pg_try_advisory_xact_lock`) held open on a dedicated connection.
 *
 * The lease is real: the transaction sets `idle_in_transaction_session_timeout` to the lease and a heartbeat
 * runs every third of it, so a holder that stalls longer than the lease has its session ended by the server
 * and the lock freed; a holder that dies frees it at once (its connection closes). Waiting polls with capped,
 * jittered backoff until `waitMs` (then `LOCK_TIMEOUT`), abortably.
 *
 * @example
 * ```ts
 * import { createPostgresStore, PostgresAdvisoryLock } from 'auth-sessions/postgres';
 *
 * const url = process.env.DATABASE_URL!;
 * const manager = new AuthSessionManager({
 *   auths, store: createPostgresStore(url), lock: new PostgresAdvisoryLock({ url }), key: process.env.AUTH_SESSIONS_KEY,
 * });
 * ```
 */
export class PostgresAdvisoryLock implements AuthSessionLock {
  readonly #pool: PgPool;
  readonly #namespace: string;
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  readonly #maxRetryDelayMs: number;
  readonly #held = new Set<LeasedHandle>();
  #closed = false;

  constructor(options: PostgresAdvisoryLockOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new AuthSessionError(
        'INVALID_OPTIONS',
        'new PostgresAdvisoryLock(options): options must be an object',
      );
    }
    assertPostgresUrl(options.url, 'url');
    const namespace = options.namespace ?? 'auth-sessions';
    if (typeof namespace !== 'string')
      throw new AuthSessionError('INVALID_OPTIONS', '"namespace" must be a string');
    const max = options.maxConnections ?? 10;
    if (!Number.isInteger(max) || max < 1) {
      throw new AuthSessionError('INVALID_OPTIONS', '"maxConnections" must be a positive integer');
    }
    this.#namespace = namespace;
    this.#clock = options.clock ?? systemClock;
    this.#timeoutMs = positiveMs(options.commandTimeoutMs, 'commandTimeoutMs', 5000);
    this.#maxRetryDelayMs = positiveMs(options.maxRetryDelayMs, 'maxRetryDelayMs', 250);
    this.#pool = createPool(options.url, { max, connectTimeoutMs: this.#timeoutMs });
  }

  /**
   * Takes the lock, waiting (polling) while another holder has it. Rejects with `LOCK_TIMEOUT` after
   * `waitMs`, with the signal's error when aborted, with `STORAGE_UNAVAILABLE` when the database cannot be
   * reached.
   */
  async acquire(key: string, options: LockAcquireOptions): Promise<PostgresLockHandle> {
    if (this.#closed) throw new AuthSessionError('CLOSED', 'The PostgreSQL lock was closed');
    const id = lockId(this.#namespace, typeof key === 'string' ? key : '');
    return pollForLock(
      key,
      options,
      { clock: this.#clock, maxRetryDelayMs: this.#maxRetryDelayMs },
      (leaseMs) => this.#try(id, leaseMs),
    );
  }

  /** Releases the locks still held (best effort) and closes the lock's connections. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#held].map((h) => h.release()));
    await this.#pool.end().catch(() => {});
  }

  /** Readable in the REPL; never shows the URL (it may carry a password). */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `PostgresAdvisoryLock { namespace: '${this.#namespace}', held: ${this.#held.size}, closed: ${this.#closed} }`;
  }

  /** One attempt: a transaction holding the advisory lock, or undefined when someone else holds it. */
  async #try(id: string, leaseMs: number): Promise<HeldXact | undefined> {
    const connecting = this.#pool.connect();
    let client: PgPoolClient;
    try {
      client = await bounded(connecting, this.#timeoutMs, this.#clock, 'Connecting to PostgreSQL for a lock');
    } catch (err) {
      // A connection that arrives after we gave up goes back to the pool.
      connecting.then(
        (late) => late.release(),
        () => {},
      );
      throw err;
    }
    const onError = () => {};
    client.on('error', onError); // a server-side end of the session must not crash the process
    const q = (sql: string, values?: unknown[]) =>
      bounded(client.query(sql, values), this.#timeoutMs, this.#clock, 'A PostgreSQL lock statement');
    try {
      await q('BEGIN');
      // The lease: a holder idle for longer than this inside its transaction is disconnected by the server.
      await q(`SELECT set_config('idle_in_transaction_session_timeout', $1, true)`, [String(leaseMs)]);
      const { rows } = await q('SELECT pg_try_advisory_xact_lock($1::bigint) AS ok', [id]);
      if (rows[0]?.ok === true) {
        return new HeldXact(
          { clock: this.#clock, timeoutMs: this.#timeoutMs, held: this.#held },
          client,
          onError,
          leaseMs,
        );
      }
      await q('ROLLBACK');
      client.removeListener('error', onError);
      client.release();
      return undefined;
    } catch (err) {
      client.removeListener('error', onError);
      client.release(true);
      throw err;
    }
  }
}

interface HeldDeps {
  readonly clock: Clock;
  readonly timeoutMs: number;
  readonly held: Set<LeasedHandle>;
}

/** A held advisory lock: its connection, its open transaction, a heartbeat that keeps the session busy. */
class HeldXact extends LeasedHandle implements PostgresLockHandle {
  readonly #timeoutMs: number;
  readonly #client: PgPoolClient;
  readonly #onError: (err: Error) => void;
  #done = false;

  constructor(deps: HeldDeps, client: PgPoolClient, onError: (err: Error) => void, leaseMs: number) {
    super(deps.clock, leaseMs, deps.held);
    this.#timeoutMs = deps.timeoutMs;
    this.#client = client;
    this.#onError = onError;
  }

  protected async renewOnServer(timeoutMs: number): Promise<RenewalOutcome> {
    try {
      await bounded(
        this.#client.query('SELECT 1'),
        Math.min(this.#timeoutMs, timeoutMs),
        this.clock,
        'A PostgreSQL lock heartbeat',
      );
      return 'held';
    } catch {
      // The session is gone (or hopeless): so is the lock.
      return 'lost';
    }
  }

  protected override onLost(): void {
    this.#finish(true);
  }

  protected async releaseOnServer(): Promise<void> {
    if (this.#done) return;
    try {
      // Ending the transaction frees the lock.
      await bounded(
        this.#client.query('ROLLBACK'),
        this.#timeoutMs,
        this.clock,
        'Releasing a PostgreSQL lock',
      );
      this.#finish();
    } catch (err) {
      // The connection is gone or stuck: destroying it ends the session, which frees the lock too.
      this.#finish(true);
      throw err;
    }
  }

  #finish(destroy = false): void {
    if (this.#done) return;
    this.#done = true;
    this.#client.removeListener('error', this.#onError);
    this.#client.release(destroy);
  }
}

/** A 64-bit advisory lock id (as a decimal string) from the namespace and the key. */
function lockId(namespace: string, key: string): string {
  const digest = createHash('sha256').update(namespace).update('\0').update(key).digest();
  return digest.readBigInt64BE(0).toString();
}
