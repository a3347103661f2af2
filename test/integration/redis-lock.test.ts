import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AuthSessionError } from '../../src/errors.js';
import { RedisLock } from '../../src/redis/index.js';
import { FakeClock } from '../../src/testing/index.js';
import { codeOf } from '../shared.js';
import { REDIS_URL, serviceAvailable } from './services.js';

const redisUp = await serviceAvailable('redis');

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

  it('gives LOCK_TIMEOUT after waitMs while someone else holds it (a bounded wait)', async () => {
    const holder = await newLock().acquire('busy', { leaseMs: 10_000, waitMs: 0 });
    const started = Date.now();
    expect(await codeOf(newLock().acquire('busy', { leaseMs: 10_000, waitMs: 300 }))).toBe('LOCK_TIMEOUT');
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(290);
    expect(waited).toBeLessThan(1_500);
    await holder.release();
  });

  it('hands the lock to a waiter soon after the holder releases it', async () => {
    const holder = await newLock().acquire('handover', { leaseMs: 10_000, waitMs: 0 });
    const waiting = newLock().acquire('handover', { leaseMs: 10_000, waitMs: 5_000 });
    await sleep(100);
    const released = Date.now();
    await holder.release();
    const next = await waiting;
    expect(Date.now() - released).toBeLessThan(600);
    await next.release();
  });

  it('stops waiting when aborted', async () => {
    const holder = await newLock().acquire('abort', { leaseMs: 10_000, waitMs: 0 });
    const controller = new AbortController();
    const waiting = codeOf(
      newLock().acquire('abort', { leaseMs: 10_000, waitMs: 10_000, signal: controller.signal }),
    );
    await sleep(50);
    const aborted = Date.now();
    controller.abort();
    expect(await waiting).toBe('ABORTED');
    expect(Date.now() - aborted).toBeLessThan(300);
    await holder.release();
  });

  it('gives mutual exclusion to many concurrent contenders', async () => {
    const lock = newLock({ maxRetryDelayMs: 20 });
    const other = newLock({ maxRetryDelayMs: 20 });
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const handle = await (i % 2 ? lock : other).acquire('mutex', { leaseMs: 10_000, waitMs: 20_000 });
        inside++;
        maxInside = Math.max(maxInside, inside);
        await sleep(2);
        inside--;
        await handle.release();
      }),
    );
    expect(maxInside).toBe(1);
  });

  it('never releases a lock that lapsed and was taken by someone else (owner-checked release)', async () => {
    const first = await newLock().acquire('owner', { leaseMs: 10_000, waitMs: 0 });
    await redis.del(first.key); // the lease lapsed (the holder stalled)
    const second = await newLock().acquire('owner', { leaseMs: 10_000, waitMs: 0 });
    const secondToken = await redis.get(second.key);
    await first.release();
    expect(await redis.get(second.key)).toBe(secondToken);
    await second.release();
    expect(await redis.exists(second.key)).toBe(0);
  });

  it('renews the lease while held, so a long refresh keeps the lock', async () => {
    const lock = newLock();
    const handle = await lock.acquire('long', { leaseMs: 300, waitMs: 0 });
    await sleep(1_000); // more than three leases
    expect(handle.lost).toBe(false);
    expect(await redis.pTTL(handle.key)).toBeGreaterThan(0);
    expect(await codeOf(newLock().acquire('long', { leaseMs: 300, waitMs: 0 }))).toBe('LOCK_TIMEOUT');
    await handle.release();
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
