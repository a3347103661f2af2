import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Clock, TimerHandle } from '../../src/clock.js';
import {
  type AuthSessionLease,
  type AuthSessionManager,
  createMemoryStore,
  LocalLock,
} from '../../src/index.js';
import { LeasedHandle, pollForLock, type RenewalOutcome } from '../../src/lock/leased-handle.js';
import type { AuthSessionLock, LockAcquireOptions, LockHandle } from '../../src/lock/lock.js';
import type { FakeClock } from '../../src/testing/index.js';
import { expectCode } from '../shared.js';
import { type Harness, harness, managerOver } from './helpers.js';

let h: Harness;
const extra: AuthSessionManager[] = [];

afterEach(async () => {
  for (const m of extra.splice(0)) await m.close();
  await h?.manager.close();
  await h?.browser.close();
});

/** A pool of `n` active sessions s1…sn, one user each. */
async function pool(n: number, options: Parameters<typeof harness>[0] = {}): Promise<string[]> {
  h = harness(options);
  const ids: string[] = [];
  for (let i = 1; i <= n; i++) {
    h.site.addUser(`user${i}`, `pw-${i}`);
    const s = await h.manager.create('site', {
      id: `s${i}`,
      credentials: { username: `user${i}`, password: `pw-${i}` },
      labels: { pool: i % 2 === 0 ? 'even' : 'odd' },
    });
    ids.push(s.id);
  }
  return ids;
}

// ——— a lock whose leases lapse on the fake clock, shared by several "processes" ———

/** The server side: key → token and expiry (like Redis keys with a TTL). */
type TtlServer = Map<string, { token: string; expires: number }>;

class TtlHandle extends LeasedHandle {
  constructor(
    clock: Clock,
    leaseMs: number,
    held: Set<LeasedHandle>,
    readonly server: TtlServer,
    readonly key: string,
    readonly token: string,
  ) {
    super(clock, leaseMs, held);
  }
  protected async renewOnServer(): Promise<RenewalOutcome> {
    const cur = this.server.get(this.key);
    if (cur?.token !== this.token || cur.expires <= this.clock.now()) return 'lost';
    cur.expires = this.clock.now() + this.leaseMs;
    return 'held';
  }
  protected async releaseOnServer(): Promise<void> {
    if (this.server.get(this.key)?.token === this.token) this.server.delete(this.key);
  }
}

class TtlLock implements AuthSessionLock {
  readonly #held = new Set<LeasedHandle>();
  constructor(
    readonly server: TtlServer,
    readonly clock: Clock,
  ) {}
  acquire(key: string, options: LockAcquireOptions): Promise<LockHandle> {
    return pollForLock(key, options, { clock: this.clock, maxRetryDelayMs: 50 }, async (leaseMs) => {
      const cur = this.server.get(key);
      if (cur && cur.expires > this.clock.now()) return undefined;
      const token = randomBytes(8).toString('hex');
      this.server.set(key, { token, expires: this.clock.now() + leaseMs });
      return new TtlHandle(this.clock, leaseMs, this.#held, this.server, key, token);
    });
  }
}

/** A view of the fake clock whose timers stop firing once the "process" is killed (stalled or dead). */
function killable(base: FakeClock): { clock: Clock; kill(): void; revive(): void } {
  let dead = false;
  return {
    clock: {
      now: () => base.now(),
      setTimeout: (fn, ms): TimerHandle =>
        base.setTimeout(() => {
          if (!dead) fn();
        }, ms),
      clearTimeout: (t) => base.clearTimeout(t),
    },
    kill: () => {
      dead = true;
    },
    revive: () => {
      dead = false;
    },
  };
}

/** A second manager ("another process") over the same store, site and browser. */
function another(store: ReturnType<typeof createMemoryStore>, lock: AuthSessionLock, clock: Clock) {
  const m = managerOver(h, { store, clock, lock });
  extra.push(m);
  return m;
}

describe('manager.lease', () => {
  it('hands each holder a different session, and LEASE_TIMEOUT when all are taken', async () => {
    const ids = await pool(3);
    const leases = await Promise.all([1, 2, 3].map(() => h.manager.lease({ auth: 'site' }, { waitMs: 0 })));
    expect(new Set(leases.map((l) => l.session.id))).toEqual(new Set(ids));
    const err = await expectCode(h.manager.lease({}, { waitMs: 0 }), 'LEASE_TIMEOUT');
    expect(err.message).toContain('3 active, all leased');
    for (const l of leases) {
      const info = await h.manager.get(l.session.id);
      expect(Date.parse(info!.leasedUntil!)).toBeGreaterThan(h.clock.now());
    }
    await Promise.all(leases.map((l) => l.release()));
    for (const id of ids) expect((await h.manager.get(id))!.leasedUntil).toBeUndefined();
  });

  it('filters by auth and labels, never hands out an expired session, and says when none matches', async () => {
    await pool(4);
    const even = await h.manager.lease({ labels: { pool: 'even' } }, { waitMs: 0 });
    expect(['s2', 's4']).toContain(even.session.id);
    const even2 = await h.manager.lease({ labels: { pool: 'even' } }, { waitMs: 0 });
    expect(['s2', 's4']).toContain(even2.session.id);
    await expectCode(h.manager.lease({ labels: { pool: 'even' } }, { waitMs: 0 }), 'LEASE_TIMEOUT');
    await expectCode(h.manager.lease({ labels: { pool: 'none' } }, { waitMs: 0 }), 'SESSION_NOT_FOUND');
    await expectCode(h.manager.lease({ auth: 'nope' as 'site' }, { waitMs: 0 }), 'UNKNOWN_AUTH');
    await expectCode(
      h.manager.lease({ labels: { pool: 'odd' } }, { waitMs: 0, ttl: 5 } as never),
      'INVALID_OPTIONS',
    );
    await expectCode(h.manager.lease({}, { ttlMs: -1 }), 'INVALID_OPTIONS');
    // s1 expires (its user's password changed, no refresh possible): only s3 is left among the odd ones.
    h.site.changePassword('user1', 'other');
    await expectCode(h.manager.validate('s1'), 'SESSION_EXPIRED');
    const odd = await h.manager.lease({ labels: { pool: 'odd' } }, { waitMs: 0 });
    expect(odd.session.id).toBe('s3');
    await expectCode(h.manager.lease({ labels: { pool: 'odd' } }, { waitMs: 0 }), 'LEASE_TIMEOUT');
  });

  it('hands out the least recently used session first', async () => {
    await pool(3);
    const order: string[] = [];
    const all = await Promise.all([1, 2, 3].map(() => h.manager.lease({}, { waitMs: 0 })));
    for (const id of ['s3', 's1', 's2']) {
      h.clock.advance(1000);
      await all.find((l) => l.session.id === id)!.release();
    }
    // s3 was released first, then s1, then s2.
    for (let i = 0; i < 3; i++) {
      const l = await h.manager.lease({}, { waitMs: 0 });
      order.push(l.session.id);
      h.clock.advance(1000);
      await l.release();
    }
    expect(order).toEqual(['s3', 's1', 's2']);
  });

  it('a waiter gets the session as soon as a holder releases it, without waiting for a poll', async () => {
    await pool(1);
    const first = await h.manager.lease({}, { waitMs: 0 });
    const waiting = h.manager.lease({}, { waitMs: 60_000 });
    await h.clock.advanceAsync(100);
    await first.release();
    const second = await waiting;
    expect(second.session.id).toBe('s1');
    await second.release();
  });

  it('LEASE_TIMEOUT after waitMs, and the wait is abortable', async () => {
    await pool(1);
    const held = await h.manager.lease({}, { waitMs: 0 });
    const timedOut = expectCode(h.manager.lease({}, { waitMs: 5000 }), 'LEASE_TIMEOUT');
    await h.clock.advanceAsync(4000);
    await h.clock.advanceAsync(1500);
    await timedOut;
    const controller = new AbortController();
    const aborted = expectCode(h.manager.lease({}, { waitMs: 60_000, signal: controller.signal }), 'ABORTED');
    await h.clock.advanceAsync(300);
    controller.abort();
    await aborted;
    await held.release();
    // Nothing was left waiting or holding: the session is free.
    await (await h.manager.lease({}, { waitMs: 0 })).release();
  });

  it('await using releases the lease at the end of the scope; release is idempotent', async () => {
    await pool(1);
    {
      await using lease = await h.manager.lease({}, { waitMs: 0 });
      expect(lease.released).toBe(false);
      await expectCode(h.manager.lease({}, { waitMs: 0 }), 'LEASE_TIMEOUT');
    }
    const again = await h.manager.lease({}, { waitMs: 0 });
    await again.release();
    await again.release();
    expect(again.released).toBe(true);
    await expectCode(
      again.run(() => 1),
      'INVALID_STATE',
    );
    await expectCode(again.renew(), 'INVALID_STATE');
  });

  it('runs tasks on the leased session', async () => {
    await pool(2);
    const lease = await h.manager.lease({ labels: { pool: 'even' } }, { waitMs: 0 });
    const user = await lease.run(async ({ page, session }) => {
      await page.goto(`${h.site.origin}/account`);
      return `${session.id}:${await page.textContent('#user')}`;
    });
    expect(user).toBe('s2:user2');
    await expectCode(
      lease.run(() => 1, { checkIntervall: 1 } as never),
      'INVALID_OPTIONS',
    );
    await lease.release();
  });

  it('is renewed while held, and renew() extends it', async () => {
    await pool(1);
    const lease = await h.manager.lease({}, { ttlMs: 30_000, waitMs: 0 });
    const firstUntil = Date.parse(lease.session.leasedUntil!);
    expect(firstUntil).toBe(h.clock.now() + 30_000);
    await h.clock.advanceAsync(95_000); // three ttls: renewed every 10 s
    const info = await h.manager.get('s1');
    expect(Date.parse(info!.leasedUntil!)).toBeGreaterThan(h.clock.now());
    await expectCode(h.manager.lease({}, { waitMs: 0 }), 'LEASE_TIMEOUT');
    h.clock.advance(5000);
    const renewed = await lease.renew();
    expect(Date.parse(renewed.leasedUntil!)).toBe(h.clock.now() + 30_000);
    await lease.release();
  });

  it('a holder that dies frees its session after ttlMs; one that only stalled finds it LEASE_LOST', async () => {
    await pool(1);
    const store = createMemoryStore();
    // Copy the session into a store two "processes" share (the harness's manager keeps its own store).
    const server: TtlServer = new Map();
    const a = killable(h.clock);
    const b = killable(h.clock);
    const pa = another(store, new TtlLock(server, a.clock), a.clock);
    const pb = another(store, new TtlLock(server, b.clock), b.clock);
    await pa.importState('site', await h.manager.exportState('s1'), {
      id: 'shared',
      credentials: { username: 'user1', password: 'pw-1' },
    });
    const held = await pa.lease({}, { ttlMs: 30_000, waitMs: 0 });
    await h.clock.advanceAsync(45_000); // renewed while alive
    await expectCode(pb.lease({}, { waitMs: 0 }), 'LEASE_TIMEOUT');
    a.kill(); // SIGKILL / a long stall: no more renewals (the last one was at 40 s)
    await h.clock.advanceAsync(20_000);
    await expectCode(pb.lease({}, { waitMs: 0 }), 'LEASE_TIMEOUT');
    await h.clock.advanceAsync(11_000); // at most ttlMs after the death
    const taken = await pb.lease({}, { ttlMs: 30_000, waitMs: 0 });
    expect(taken.session.id).toBe('shared');
    // The stalled holder wakes up: its lease is someone else's now.
    a.revive();
    await expectCode(held.renew(), 'LEASE_LOST');
    await expectCode(
      held.run(() => 1),
      'LEASE_LOST',
    );
    expect(held.released).toBe(true);
    await held.release(); // must not free the new holder's lease
    await expectCode(pa.lease({}, { waitMs: 0 }), 'LEASE_TIMEOUT');
    expect((await pb.get('shared'))!.leasedUntil).toBe(taken.session.leasedUntil);
    await taken.release();
    await (await pa.lease({}, { waitMs: 0 })).release();
  });

  it('processes sharing the store but each with its own in-process lock still never share a session', async () => {
    await pool(1);
    const store = createMemoryStore();
    const a = another(store, new LocalLock({ clock: h.clock }), h.clock);
    const b = another(store, new LocalLock({ clock: h.clock }), h.clock);
    await a.importState('site', await h.manager.exportState('s1'), {
      id: 'shared',
      credentials: { username: 'user1', password: 'pw-1' },
    });
    const [first, second] = await Promise.allSettled([
      a.lease({}, { waitMs: 0, ttlMs: 10_000 }),
      b.lease({}, { waitMs: 0, ttlMs: 10_000 }),
    ]);
    const won = [first, second].filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    await expectCode(b.lease({}, { waitMs: 0 }), 'LEASE_TIMEOUT');
    await (won[0] as PromiseFulfilledResult<AuthSessionLease>).value.release();
    await (await b.lease({}, { waitMs: 0 })).release();
  });

  it('closing the manager releases its leases', async () => {
    await pool(1);
    const store = createMemoryStore();
    const lock = new TtlLock(new Map(), h.clock);
    const first = another(store, lock, h.clock);
    await first.importState('site', await h.manager.exportState('s1'), {
      id: 'shared',
      credentials: { username: 'user1', password: 'pw-1' },
    });
    const lease = await first.lease({}, { waitMs: 0 });
    await first.close();
    await h.clock.advanceAsync(10);
    expect(lease.released).toBe(true);
    const second = another(store, lock, h.clock);
    await (await second.lease({}, { waitMs: 0 })).release();
  });
});
