/**
 * Every duration option is bounded by what a timer can wait (2^31 - 1 ms): Node fires a longer timer after
 * 1 ms, so an unchecked `createTimeout: 2 ** 31` would time out every login at once.
 */
import { describe, expect, it } from 'vitest';
import { resolveWarmContexts } from '../../src/browser/warm-pool.js';
import { MAX_DURATION_MS } from '../../src/duration.js';
import { AuthSessionManager, ChromiumProvider, createMemoryStore, LocalLock } from '../../src/index.js';
import { RedisLock } from '../../src/redis/index.js';
import { FakeBrowserProvider, FakeClock, FakeSite } from '../../src/testing/index.js';
import { harness, siteAuth, TEST_KEY } from './helpers.js';

const TOO_LONG = 2 ** 31;

function invalid(fn: () => unknown, option: string): void {
  expect(fn).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }));
  try {
    fn();
  } catch (err) {
    expect((err as Error).message).toContain(option);
    expect((err as Error).message).toContain(String(MAX_DURATION_MS));
  }
}

function manager(options: Record<string, unknown>) {
  const clock = new FakeClock();
  const site = new FakeSite({ clock });
  return new AuthSessionManager({
    auths: [siteAuth(site)],
    store: createMemoryStore(),
    key: TEST_KEY,
    browser: new FakeBrowserProvider({ sites: [site] }),
    clock,
    ...options,
  });
}

describe('duration options', () => {
  it.each(['checkTimeout', 'createTimeout', 'inputTimeout', 'checkInterval', 'retryDelay'])(
    'defineAuth rejects %s above 2^31-1 ms and Infinity',
    (option) => {
      const site = new FakeSite({ clock: new FakeClock() });
      invalid(() => siteAuth(site, { [option]: TOO_LONG }), option);
      invalid(() => siteAuth(site, { [option]: Number.POSITIVE_INFINITY }), option);
      expect(() => siteAuth(site, { [option]: MAX_DURATION_MS })).not.toThrow();
    },
  );

  it.each(['storeTimeoutMs', 'lockLeaseMs', 'lockWaitMs'])(
    'the manager rejects %s above 2^31-1 ms',
    (option) => {
      invalid(() => manager({ [option]: TOO_LONG }), option);
    },
  );

  it('accepts lockWaitMs: Infinity (no limit) but not for the store timeout or the lease', () => {
    expect(() => manager({ lockWaitMs: Number.POSITIVE_INFINITY })).not.toThrow();
    invalid(() => manager({ storeTimeoutMs: Number.POSITIVE_INFINITY }), 'storeTimeoutMs');
    invalid(() => manager({ lockLeaseMs: Number.POSITIVE_INFINITY }), 'lockLeaseMs');
  });

  it('a per-call checkTimeout above the bound is INVALID_OPTIONS, not a check that times out at once', async () => {
    const h = harness();
    const s = await h.manager.create('site', { credentials: { username: 'alice', password: 'pw-alice-1' } });
    await expect(h.manager.run(s.id, async () => 1, { checkTimeout: TOO_LONG })).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
      message: expect.stringContaining('checkTimeout'),
    });
    expect((await h.manager.get(s.id))?.state).toBe('active');
    await h.manager.close();
  });

  it('LocalLock waits without limit for waitMs: Infinity (it used to time out after 1 ms)', async () => {
    // The system clock: Node's own timers are what clamp an over-long delay to 1 ms.
    const lock = new LocalLock();
    const first = await lock.acquire('k', { leaseMs: 1000, waitMs: 0 });
    let outcome: unknown;
    const second = lock.acquire('k', { leaseMs: 1000, waitMs: Number.POSITIVE_INFINITY }).then(
      (h) => {
        outcome = 'acquired';
        return h;
      },
      (err: unknown) => {
        outcome = err;
      },
    );
    await new Promise((r) => setTimeout(r, 20));
    expect(outcome).toBeUndefined();
    await first.release();
    await second;
    expect(outcome).toBe('acquired');
    await expect(lock.acquire('x', { leaseMs: 1000, waitMs: TOO_LONG })).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
    });
  });

  it('infrastructure options are bounded too', () => {
    invalid(() => resolveWarmContexts({ idleMs: TOO_LONG }), 'idleMs');
    invalid(() => new ChromiumProvider({ launchTimeoutMs: TOO_LONG }), 'launchTimeoutMs');
    invalid(
      () => new RedisLock({ url: 'redis://127.0.0.1:1', commandTimeoutMs: TOO_LONG }),
      'commandTimeoutMs',
    );
    invalid(
      () => new RedisLock({ url: 'redis://127.0.0.1:1', maxRetryDelayMs: TOO_LONG }),
      'maxRetryDelayMs',
    );
  });

  it('queue options are bounded', async () => {
    const h = harness();
    const s = await h.manager.create('site', { credentials: { username: 'alice', password: 'pw-alice-1' } });
    invalid(() => h.manager.queue(s.id, { recheckIntervalMs: TOO_LONG }), 'recheckIntervalMs');
    await h.manager.close();
  });
});
