import type { AuthSessionLock, LockHandle } from '../lock/lock.js';
import {
  type ConformanceClock,
  type ConformanceRunner,
  codeOf,
  eventually,
  settle,
  uniqueKey,
} from './runner.js';

/**
 * One fresh lock for one case, as {@link LockConformanceOptions.makeLock} returns it.
 *
 * @example
 * ```ts
 * const fixture: LockFixture = { lock: new RedisLock({ url }), connect: () => new RedisLock({ url }) };
 * ```
 */
export interface LockFixture {
  /** The lock under test. */
  readonly lock: AuthSessionLock;
  /**
   * Another instance over the same backend (as another process would have). The exclusion cases contend
   * through instances made here; without it they contend on `lock`.
   */
  readonly connect?: () => AuthSessionLock | Promise<AuthSessionLock>;
  /**
   * For locks with leases: an instance over the same backend whose renewals run only when `clock` is
   * advanced, so its holders look stalled to the backend. Enables the lease cases (expiry, stale release,
   * lost lease, renewal).
   */
  readonly stall?: () =>
    | { readonly lock: AuthSessionLock; readonly clock: ConformanceClock }
    | Promise<{ readonly lock: AuthSessionLock; readonly clock: ConformanceClock }>;
  /** Closes what `makeLock`, `connect` and `stall` opened. */
  readonly cleanup?: () => unknown;
}

/**
 * Options of {@link lockConformance}.
 *
 * @example
 * ```ts
 * lockConformance({ describe, it, expect, name: 'LocalLock', clock, makeLock: () => ({ lock: new LocalLock({ clock }) }) });
 * ```
 */
export interface LockConformanceOptions extends ConformanceRunner {
  /** Name of the suite. @default 'lock conformance' */
  readonly name?: string;
  /** A fresh lock per case. */
  readonly makeLock: () => LockFixture | Promise<LockFixture>;
  /**
   * The clock the lock waits on, when it takes one: the bounded-wait case moves it instead of waiting.
   * Every instance the fixture makes (except `stall`) must use it.
   */
  readonly clock?: ConformanceClock;
  /** Lease of the lease cases, in real milliseconds (the backend's clock decides). @default 300 */
  readonly leaseMs?: number;
  /** Milliseconds each case may take. @default 30000 */
  readonly timeoutMs?: number;
}

const LONG = 60_000;

/**
 * Registers the lock conformance cases on the given runner: mutual exclusion, bounded and abortable waits,
 * owner-checked release and, for locks with leases, lease expiry, renewal and lost-lease reporting (the
 * `lost` flag writers use to know they were fenced off). Runs against `LocalLock`, `RedisLock` and
 * `PostgresAdvisoryLock` in the library's own tests; run it against your lock the same way.
 *
 * @example
 * ```ts
 * import { describe, expect, it } from 'vitest';
 * import { lockConformance } from 'auth-sessions/conformance';
 * import { RedisLock } from 'auth-sessions/redis';
 * import { FakeClock } from 'auth-sessions/testing';
 *
 * lockConformance({
 *   describe, it, expect, name: 'RedisLock',
 *   makeLock: () => {
 *     const prefix = `test:${crypto.randomUUID()}:`;
 *     const open: RedisLock[] = [];
 *     const make = (clock?: FakeClock) => { const l = new RedisLock({ url, prefix, clock }); open.push(l); return l; };
 *     return {
 *       lock: make(), connect: () => make(),
 *       stall: () => { const clock = new FakeClock(); return { lock: make(clock), clock }; },
 *       cleanup: () => Promise.all(open.map((l) => l.close())),
 *     };
 *   },
 * });
 * ```
 */
export function lockConformance(options: LockConformanceOptions): void {
  const { describe, it, expect, makeLock, clock } = options;
  const timeout = options.timeoutMs ?? 30_000;
  const leaseMs = options.leaseMs ?? 300;

  const withLock = (
    name: string,
    fn: (f: LockFixture, other: () => Promise<AuthSessionLock>) => Promise<void>,
  ) =>
    it(
      name,
      async () => {
        const fixture = await makeLock();
        const other = async () => (fixture.connect ? fixture.connect() : fixture.lock);
        try {
          await fn(fixture, other);
        } finally {
          await fixture.cleanup?.();
        }
      },
      timeout,
    );

  /** Holds `key` on `lock` from another holder, returning the handle. */
  const hold = (lock: AuthSessionLock, key: string) => lock.acquire(key, { leaseMs: LONG, waitMs: 0 });

  describe(options.name ?? 'lock conformance', () => {
    withLock('grants a free lock at once, and again once released', async ({ lock }) => {
      const key = uniqueKey('free');
      const first = await hold(lock, key);
      await first.release();
      const second = await hold(lock, key);
      await second.release();
    });

    withLock('keeps keys independent', async ({ lock }, other) => {
      const a = await hold(lock, uniqueKey('a'));
      const b = await hold(await other(), uniqueKey('b'));
      await a.release();
      await b.release();
    });

    withLock(
      'excludes: of many concurrent contenders, one holds the lock at a time',
      async ({ lock }, other) => {
        const key = uniqueKey('mutex');
        const locks = [lock, await other()];
        let inside = 0;
        let most = 0;
        let entered = 0;
        await Promise.all(
          Array.from({ length: 12 }, async (_, i) => {
            const handle = await locks[i % locks.length]!.acquire(key, { leaseMs: LONG, waitMs: LONG });
            inside++;
            entered++;
            most = Math.max(most, inside);
            await settle(2);
            inside--;
            await handle.release();
          }),
        );
        expect(entered).toBe(12);
        expect(most).toBe(1);
      },
    );

    withLock('hands the lock to a waiter when the holder releases it', async ({ lock }, other) => {
      const key = uniqueKey('handover');
      const holder = await hold(lock, key);
      let granted = false;
      const waiting = (await other()).acquire(key, { leaseMs: LONG, waitMs: LONG }).then((h) => {
        granted = true;
        return h;
      });
      await settle();
      expect(granted).toBe(false);
      await holder.release();
      const next = await waiting;
      expect(granted).toBe(true);
      await next.release();
    });

    withLock(
      'releases once: a second release by an old holder frees nobody else’s lock',
      async ({ lock }, other) => {
        const key = uniqueKey('release-twice');
        const first = await hold(lock, key);
        await first.release();
        const second = await hold(await other(), key);
        await first.release();
        expect(await codeOf(hold(lock, key))).toBe('LOCK_TIMEOUT');
        await second.release();
        await (await hold(lock, key)).release();
      },
    );

    withLock('gives LOCK_TIMEOUT at once with waitMs 0 while held', async ({ lock }, other) => {
      const key = uniqueKey('busy');
      const holder = await hold(lock, key);
      expect(await codeOf(hold(await other(), key))).toBe('LOCK_TIMEOUT');
      await holder.release();
    });

    withLock('bounds a wait: LOCK_TIMEOUT once waitMs passed, not before', async ({ lock }, other) => {
      const key = uniqueKey('bounded');
      const holder = await hold(lock, key);
      const waitMs = clock ? 5_000 : 300;
      const started = Date.now();
      let outcome: string | undefined | null = null;
      const waiting = codeOf((await other()).acquire(key, { leaseMs: LONG, waitMs })).then((code) => {
        outcome = code;
      });
      await settle();
      expect(outcome).toBe(null);
      if (clock) {
        clock.advance(waitMs);
        await waiting;
      } else {
        await waiting;
        expect(Date.now() - started >= waitMs - 20).toBe(true);
      }
      expect(outcome).toBe('LOCK_TIMEOUT');
      await holder.release();
      // The waiter that gave up does not hold the lock.
      await (await hold(lock, key)).release();
    });

    withLock(
      'stops waiting with ABORTED when aborted, and never takes the lock afterwards',
      async ({ lock }, other) => {
        const key = uniqueKey('abort');
        const holder = await hold(lock, key);
        const contender = await other();
        const controller = new AbortController();
        const waiting = codeOf(
          contender.acquire(key, { leaseMs: LONG, waitMs: LONG, signal: controller.signal }),
        );
        await settle();
        controller.abort();
        expect(await waiting).toBe('ABORTED');
        expect(
          await codeOf(contender.acquire(key, { leaseMs: LONG, waitMs: LONG, signal: AbortSignal.abort() })),
        ).toBe('ABORTED');
        await holder.release();
        await settle();
        await (await hold(lock, key)).release();
      },
    );

    withLock(
      'leases: a stalled holder’s lease lapses; its late release frees nothing; it learns it lost the lock',
      async (fixture, other) => {
        if (!fixture.stall) return;
        const key = uniqueKey('lease');
        const stalled = await fixture.stall();
        const stale = (await stalled.lock.acquire(key, { leaseMs, waitMs: 0 })) as LockHandle & {
          lost?: boolean;
        };
        // Another holder gets the lock once the lease lapsed on the backend's clock.
        const next = await (await other()).acquire(key, { leaseMs: LONG, waitMs: leaseMs * 20 + 10_000 });
        // The stalled holder wakes up: its renewal finds the lock gone. (Time moves in small steps, each
        // given real time for the backend to answer, so the renewal's own deadline on that clock holds.)
        if ('lost' in stale) {
          for (let moved = 0; moved <= leaseMs * 3 && stale.lost !== true; moved += 10) {
            stalled.clock.advance(10);
            await eventually(() => stale.lost === true, 50);
          }
          expect(stale.lost).toBe(true);
        }
        await stale.release().catch(() => {});
        expect(await codeOf(hold(fixture.lock, key))).toBe('LOCK_TIMEOUT');
        await next.release();
        await (await hold(fixture.lock, key)).release();
      },
    );

    withLock(
      'leases: a holder that keeps running renews its lease past its length',
      async (fixture, other) => {
        if (!fixture.stall) return;
        const key = uniqueKey('renew');
        const handle = (await fixture.lock.acquire(key, { leaseMs, waitMs: 0 })) as LockHandle & {
          lost?: boolean;
        };
        await new Promise((resolve) => setTimeout(resolve, leaseMs * 3));
        expect(await codeOf(hold(await other(), key))).toBe('LOCK_TIMEOUT');
        if ('lost' in handle) expect(handle.lost).toBe(false);
        await handle.release();
      },
    );
  });
}
