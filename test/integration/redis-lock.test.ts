import { randomUUID } from 'node:crypto';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AuthSessionError } from '../../src/errors.js';
import { RedisLock } from '../../src/redis/index.js';
import { FakeClock } from '../../src/testing/index.js';
import { codeOf } from '../shared.js';
import { REDIS_URL, serviceAvailable } from './services.js';

const redisUp = await serviceAvailable('redis');

// Exclusion, bounded and aborted waits, owner-checked release, lease expiry and renewal run in
// test/conformance/redis.test.ts; these are the Redis specifics.
describe.skipIf(!redisUp)('RedisLock against a real Redis', () => {
  const prefix = `auth-sessions-test:${randomUUID()}:lock:`;
  const redis = createClient({ url: REDIS_URL });
  const locks: RedisLock[] = [];
  const newLock = (options: Partial<ConstructorParameters<typeof RedisLock>[0]> = {}) => {
    const lock = new RedisLock({ url: REDIS_URL, prefix, ...options } as ConstructorParameters<
      typeof RedisLock
    >[0]);
    locks.push(lock);
    return lock;
  };

  beforeAll(async () => {
    redis.on('error', () => {});
    await redis.connect();
  });

  afterAll(async () => {
    await Promise.allSettled(locks.map((l) => l.close()));
    for await (const keys of redis.scanIterator({ MATCH: `${prefix}*` }))
      if (keys.length) await redis.del(keys);
    redis.destroy();
  });

  it('takes the key with a token and a lease, and releases it', async () => {
    const lock = newLock();
    const handle = await lock.acquire('a', { leaseMs: 10_000, waitMs: 0 });
    expect(handle.key).toBe(`${prefix}a`);
    const ttl = await redis.pTTL(handle.key);
    expect(ttl).toBeGreaterThan(9_000);
    expect(ttl).toBeLessThanOrEqual(10_000);
    expect((await redis.get(handle.key))?.length).toBeGreaterThanOrEqual(20);
    await handle.release();
    expect(await redis.exists(handle.key)).toBe(0);
    await handle.release(); // idempotent
  });

  it('renews every third of the lease on the injected clock, and notices a lost lease', async () => {
    const clock = new FakeClock();
    const client = createClient({ url: REDIS_URL });
    client.on('error', () => {});
    await client.connect();
    try {
      const lock = newLock({ url: undefined, client, clock });
      const handle = await lock.acquire('clocked', { leaseMs: 60_000, waitMs: 0 });
      await redis.pExpire(handle.key, 5_000);
      clock.advance(20_000);
      await vi.waitFor(async () => expect(await redis.pTTL(handle.key)).toBeGreaterThan(50_000));
      expect(handle.lost).toBe(false);
      await redis.del(handle.key); // lapsed
      clock.advance(20_000);
      await vi.waitFor(() => expect(handle.lost).toBe(true));
      await handle.release();
      await lock.close();
      expect(client.isOpen).toBe(true); // a client passed in stays open
    } finally {
      client.destroy();
    }
  });

  it('fails with STORAGE_UNAVAILABLE, quickly, when Redis cannot be reached', async () => {
    const lock = newLock({ url: 'redis://127.0.0.1:1', commandTimeoutMs: 300 });
    const started = Date.now();
    expect(await codeOf(lock.acquire('x', { leaseMs: 1_000, waitMs: 10_000 }))).toBe('STORAGE_UNAVAILABLE');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('releases what it holds on close, and refuses to acquire afterwards', async () => {
    const lock = newLock();
    const handle = await lock.acquire('closing', { leaseMs: 10_000, waitMs: 0 });
    await lock.close();
    expect(handle.released).toBe(true);
    expect(await redis.exists(handle.key)).toBe(0);
    expect(await codeOf(lock.acquire('closing', { leaseMs: 10_000, waitMs: 0 }))).toBe('CLOSED');
    await lock.close();
  });

  it('validates its options without echoing a URL (it may carry a password)', () => {
    const bad = () => new RedisLock({ url: 'http://:hunter2@example.test' });
    expect(bad).toThrow(AuthSessionError);
    expect(bad).toThrow(/redis:\/\//);
    expect(bad).not.toThrow(/hunter2/);
    expect(() => new RedisLock({} as never)).toThrow(/exactly one of "url" or "client"/);
    expect(() => new RedisLock({ url: REDIS_URL, client: createClient() as never })).toThrow(/exactly one/);
  });
});
