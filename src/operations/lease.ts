import { abortError } from '../browser/slots.js';
import { durationOption } from '../duration.js';
import { AuthSessionError } from '../errors.js';
import { anySignal, type Lifecycle, type RunOptions, type RunTask } from '../lifecycle/engine.js';
import type { AuthSessionLock, LockHandle } from '../lock/lock.js';
import { backoff } from '../server-calls.js';
import { leaseEnded, leaseRenewed, leaseTaken } from '../session/changes.js';
import { type AuthSessionInfo, toInfo } from '../session/info.js';
import type { SessionRecord } from '../session/record.js';
import type { IndexTerm } from '../store/contract.js';

/** Which sessions `manager.lease` may hand out; `N` is the auth names of the manager. */
export interface LeaseFilter<N extends string = string> {
  /** Only sessions of this auth. */
  readonly auth?: N;
  /** Only sessions carrying all of these labels. */
  readonly labels?: Readonly<Record<string, string>>;
}

/** Options of `manager.lease`. */
export interface LeaseOptions {
  /**
   * Milliseconds a lease lasts unless renewed. It is renewed while held (every third of it), so this is how
   * long a holder that died (a killed process) keeps the session from the others.
   * @default 60000
   */
  readonly ttlMs?: number;
  /**
   * Milliseconds to wait for a matching session to free up before `LEASE_TIMEOUT`; `0` tries once,
   * `Infinity` waits until one frees up (the signal still aborts the wait).
   * @default 60000
   */
  readonly waitMs?: number;
  /** Aborts the wait. */
  readonly signal?: AbortSignal;
}

/**
 * One session leased to one holder: nobody else holding a lease (in this process or any other sharing the
 * store and the lock) gets it until it is released, or until its holder dies and `ttlMs` passes.
 *
 * @example
 * ```ts
 * await using lease = await manager.lease({ auth: 'crm' }, { ttlMs: 60_000, waitMs: 30_000 });
 * const title = await lease.run(async ({ page }) => { await page.goto('https://crm.example/'); return page.title(); });
 * // released at the end of the scope
 * ```
 */
export interface AuthSessionLease {
  /** The leased session (as when leased or last renewed; never secrets). */
  readonly session: AuthSessionInfo;
  /** True once released (or lost). */
  readonly released: boolean;
  /**
   * Runs a task with the leased session (`manager.run(lease.session.id, task, options)`). Throws
   * `LEASE_LOST` when the lease lapsed, `INVALID_STATE` after `release()`.
   */
  run<T>(task: RunTask<T>, options?: RunOptions): Promise<T>;
  /**
   * Extends the lease by `ttlMs` from now (it is also renewed by itself while held) and returns the
   * session. Throws `LEASE_LOST` when another holder has the session now (this one lapsed).
   */
  renew(): Promise<AuthSessionInfo>;
  /** Gives the session back to the pool. Idempotent; never throws (a lease it could not end lapses after `ttlMs`). */
  release(): Promise<void>;
  /** `await using lease = await manager.lease(…)` releases it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** What a lease needs besides the lifecycle: the manager's `run` (with its option checks). */
export interface LeaseServices {
  readonly run: <T>(id: string, task: RunTask<T>, options?: RunOptions) => Promise<T>;
}

const DEFAULT_TTL_MS = 60_000;
const DEFAULT_WAIT_MS = 60_000;
/** Longest pause between two looks for a free session (waiters in other processes are not told). */
const MAX_POLL_MS = 250;

/**
 * Releases seen in this process, per lock: a waiter sharing the lock looks again at once instead of at
 * its next poll. `count` tells a waiter that a release happened while it was looking.
 */
const releases = new WeakMap<AuthSessionLock, { count: number; waiters: Set<() => void> }>();

function releasesOf(lock: AuthSessionLock): { count: number; waiters: Set<() => void> } {
  let entry = releases.get(lock);
  if (!entry) {
    entry = { count: 0, waiters: new Set() };
    releases.set(lock, entry);
  }
  return entry;
}

function announceRelease(lock: AuthSessionLock): void {
  const entry = releasesOf(lock);
  entry.count++;
  for (const wake of [...entry.waiters]) wake();
}

/** The lock key of a session's lease (beside `refresh:<id>`, the refresh lock). */
export function leaseLockKey(id: string): string {
  return `lease:${id}`;
}

/**
 * `manager.lease`: the least recently leased active session matching the filter that nobody holds, taken
 * through the manager's lock (`lease:<id>`, held for `ttlMs` and renewed while held) and then on the record
 * (`leaseTaken`, a compare-and-set that refuses while another live lease is shown: processes sharing the
 * store but not the lock stay exclusive too). Polls (and wakes on releases in this process) until `waitMs`, then `LEASE_TIMEOUT`;
 * `SESSION_NOT_FOUND` at once when no session at all matches the filter.
 */
export async function leaseSession(
  lifecycle: Lifecycle,
  filter: LeaseFilter,
  options: LeaseOptions,
  services: LeaseServices,
): Promise<AuthSessionLease> {
  const d = lifecycle.deps;
  if (typeof filter !== 'object' || filter === null) {
    throw new AuthSessionError('INVALID_OPTIONS', 'lease(filter, options): filter must be an object');
  }
  if (typeof options !== 'object' || options === null) {
    throw new AuthSessionError('INVALID_OPTIONS', 'lease(filter, options): options must be an object');
  }
  if (filter.auth !== undefined) d.auth(filter.auth); // UNKNOWN_AUTH for a typo
  const labels = Object.entries(filter.labels ?? {});
  for (const [name, value] of labels) {
    if (typeof value !== 'string') {
      throw new AuthSessionError('INVALID_OPTIONS', `lease(filter): label "${name}" must be a string`);
    }
  }
  const ttlMs = durationOption(options.ttlMs, 'lease: "ttlMs"') ?? DEFAULT_TTL_MS;
  const waitMs =
    durationOption(options.waitMs, 'lease: "waitMs"', { zero: true, infinity: true }) ?? DEFAULT_WAIT_MS;
  const signal = anySignal(options.signal, d.closed);
  const [label] = labels;
  const term: IndexTerm = label
    ? { field: 'label', name: label[0], value: label[1] }
    : { field: 'state', value: 'active' };
  const clock = d.clock;
  const deadline = clock.now() + waitMs;
  const released = releasesOf(d.lock);

  /** One look: the free candidates, least recently leased first, each tried without waiting. */
  const tryOnce = async (): Promise<{ lease?: Lease; matching: number; active: number }> => {
    const now = clock.now();
    const free: SessionRecord[] = [];
    let matching = 0;
    let active = 0;
    for await (const record of d.store.records(undefined, term)) {
      if (filter.auth !== undefined && record.auth !== filter.auth) continue;
      if (labels.some(([k, v]) => record.labels[k] !== v)) continue;
      matching++;
      if (record.state !== 'active') continue;
      active++;
      // Shown as held by a live holder (renewed within ttlMs): its lock is taken, do not ask.
      if (record.lease !== undefined && Date.parse(record.lease.until) > now) continue;
      free.push(record);
    }
    free.sort((a, b) => {
      const ka = lastUsed(a);
      const kb = lastUsed(b);
      return ka < kb ? -1 : ka > kb ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    });
    for (const record of free) {
      if (signal.aborted) throw abortError(signal);
      let handle: LockHandle;
      try {
        handle = await d.lock.acquire(leaseLockKey(record.id), { leaseMs: ttlMs, waitMs: 0, signal });
      } catch (err) {
        if (err instanceof AuthSessionError && err.code === 'LOCK_TIMEOUT') continue; // just taken
        throw err;
      }
      try {
        const leaseId = d.newId();
        const at = clock.now();
        const until = new Date(at + ttlMs).toISOString();
        const { record: taken, written } = await lifecycle.commit(record.id, leaseTaken(leaseId, until, at));
        if (!written || !taken) {
          // Expired, deleted, logging in again or leased by a process that does not share our lock since
          // the look: not handed out.
          await handle.release();
          continue;
        }
        return { lease: new Lease(lifecycle, services, taken, leaseId, handle, ttlMs), matching, active };
      } catch (err) {
        await handle.release().catch(() => {});
        throw err;
      }
    }
    return { matching, active };
  };

  for (let attempt = 0; ; attempt++) {
    if (signal.aborted) throw abortError(signal);
    const seen = released.count;
    const { lease, matching, active } = await tryOnce();
    if (lease) return lease;
    if (matching === 0) {
      throw new AuthSessionError(
        'SESSION_NOT_FOUND',
        `No session matches the lease filter ${describeFilter(filter)}; create (or record) sessions for it first`,
      );
    }
    const left = deadline - clock.now();
    if (left <= 0) {
      throw new AuthSessionError(
        'LEASE_TIMEOUT',
        `No session matching ${describeFilter(filter)} was free within ${waitMs} ms (${active} active, all leased; ` +
          `${matching - active} not active): release leases sooner, add sessions, or raise "waitMs"`,
      );
    }
    if (released.count !== seen) continue; // a release happened while looking: look again now
    await pause(Math.min(backoff(attempt, 20, MAX_POLL_MS), left), released.waiters, lifecycle, signal);
  }
}

/** When the session was last leased: never leased first, then by end of the last (or lapsed) lease. */
function lastUsed(record: SessionRecord): string {
  return record.lease?.until ?? record.leaseEndedAt ?? '';
}

function describeFilter(filter: LeaseFilter): string {
  const parts: string[] = [];
  if (filter.auth !== undefined) parts.push(`auth "${filter.auth}"`);
  const labels = Object.entries(filter.labels ?? {});
  if (labels.length > 0) parts.push(`labels ${labels.map(([k, v]) => `${k}=${v}`).join(', ')}`);
  return parts.length === 0 ? '(any session)' : `(${parts.join('; ')})`;
}

/**
 * Waits `ms` or until a release in this process, whichever comes first; the signal aborts it. The timer is
 * ref'd: a script whose only work is waiting for a lease must not exit mid-wait (an unref'd timer alone
 * lets Node end with "unsettled top-level await").
 */
function pause(
  ms: number,
  waiters: Set<() => void>,
  lifecycle: Lifecycle,
  signal: AbortSignal,
): Promise<void> {
  if (signal.aborted) return Promise.reject(abortError(signal));
  const clock = lifecycle.deps.clock;
  return new Promise<void>((resolve, reject) => {
    const done = () => {
      clock.clearTimeout(timer);
      waiters.delete(done);
      signal.removeEventListener('abort', onAbort);
      resolve();
    };
    const onAbort = () => {
      clock.clearTimeout(timer);
      waiters.delete(done);
      reject(abortError(signal));
    };
    const timer = clock.setTimeout(done, ms);
    (timer as { ref?: () => unknown }).ref?.();
    waiters.add(done);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** A held lease: the lock handle, the record's lease id, a renewal every third of `ttlMs`. */
class Lease implements AuthSessionLease {
  readonly #lifecycle: Lifecycle;
  readonly #services: LeaseServices;
  readonly #leaseId: string;
  readonly #handle: LockHandle;
  readonly #ttlMs: number;
  #info: AuthSessionInfo;
  #timer: ReturnType<Lifecycle['deps']['clock']['setTimeout']> | undefined;
  #lost = false;
  #releasing: Promise<void> | undefined;
  readonly #onClose = () => void this.release();

  constructor(
    lifecycle: Lifecycle,
    services: LeaseServices,
    record: SessionRecord,
    leaseId: string,
    handle: LockHandle,
    ttlMs: number,
  ) {
    this.#lifecycle = lifecycle;
    this.#services = services;
    this.#info = toInfo(record);
    this.#leaseId = leaseId;
    this.#handle = handle;
    this.#ttlMs = ttlMs;
    lifecycle.deps.closed.addEventListener('abort', this.#onClose, { once: true });
    this.#schedule();
  }

  get session(): AuthSessionInfo {
    return this.#info;
  }

  get released(): boolean {
    return this.#releasing !== undefined || this.#lost;
  }

  async run<T>(task: RunTask<T>, options?: RunOptions): Promise<T> {
    this.#assertHeld();
    return this.#services.run(this.#info.id, task, options);
  }

  async renew(): Promise<AuthSessionInfo> {
    this.#assertHeld();
    const d = this.#lifecycle.deps;
    const until = new Date(d.clock.now() + this.#ttlMs).toISOString();
    const { record, written } = await this.#lifecycle.commit(
      this.#info.id,
      leaseRenewed(this.#leaseId, until),
    );
    if (!written || !record) {
      if (!record) {
        await this.release();
        throw new AuthSessionError('SESSION_NOT_FOUND', `The leased session "${this.#info.id}" was deleted`, {
          sessionId: this.#info.id,
        });
      }
      this.#markLost();
      throw this.#lostError();
    }
    this.#info = toInfo(record);
    return this.#info;
  }

  release(): Promise<void> {
    this.#releasing ??= this.#release();
    return this.#releasing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }

  /** Readable in the REPL. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `AuthSessionLease { session: '${this.#info.id}', released: ${this.released} }`;
  }

  toJSON(): { session: AuthSessionInfo; released: boolean } {
    return { session: this.#info, released: this.released };
  }

  async #release(): Promise<void> {
    const d = this.#lifecycle.deps;
    this.#stop();
    try {
      // A lost lease is someone else's now: its record and lock are left alone.
      if (!this.#lost) {
        await this.#lifecycle
          .commit(this.#info.id, leaseEnded(this.#leaseId, new Date(d.clock.now()).toISOString()))
          .catch((err: unknown) => this.#warn('Could not show the lease as ended', err));
        await this.#handle
          .release()
          .catch((err: unknown) => this.#warn('Could not release the lease lock', err));
      }
    } finally {
      announceRelease(d.lock);
    }
  }

  #warn(what: string, err: unknown): void {
    const code = err instanceof AuthSessionError ? err.code : 'STORAGE_UNAVAILABLE';
    this.#lifecycle.deps.events.emit('warning', {
      session: this.#info,
      error: {
        code,
        message: `${what} on session "${this.#info.id}" (it frees itself after ttlMs: ${this.#ttlMs} ms)`,
      },
    });
  }

  #assertHeld(): void {
    if (this.#lost || (this.#handle as { lost?: unknown }).lost === true) {
      this.#markLost();
      throw this.#lostError();
    }
    if (this.#releasing !== undefined) {
      throw new AuthSessionError('INVALID_STATE', `The lease on session "${this.#info.id}" was released`, {
        sessionId: this.#info.id,
      });
    }
  }

  #lostError(): AuthSessionError {
    return new AuthSessionError(
      'LEASE_LOST',
      `The lease on session "${this.#info.id}" lapsed (not renewed within ttlMs: ${this.#ttlMs} ms) and may be another holder's now; lease again`,
      { sessionId: this.#info.id },
    );
  }

  #markLost(): void {
    if (this.#lost) return;
    this.#lost = true;
    this.#stop();
    // Stops the handle's renewals; its release is owner-checked, so it never frees someone else's lock.
    void this.#handle.release().catch(() => {});
    announceRelease(this.#lifecycle.deps.lock);
  }

  #stop(): void {
    const d = this.#lifecycle.deps;
    if (this.#timer !== undefined) d.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    d.closed.removeEventListener('abort', this.#onClose);
  }

  #schedule(): void {
    const tick = Math.max(1, Math.floor(this.#ttlMs / 3));
    this.#timer = this.#lifecycle.deps.clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.released) return;
      this.renew().then(
        () => {
          if (!this.released) this.#schedule();
        },
        (err: unknown) => {
          // A store that cannot answer now: try again next tick (the lease covers two missed renewals).
          if (!this.released) this.#schedule();
          if (!(err instanceof AuthSessionError && err.code === 'LEASE_LOST')) {
            this.#warn('Could not renew the lease', err);
          }
        },
      );
    }, tick);
  }
}
