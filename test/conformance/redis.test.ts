/** The conformance suites against Redis: `createRedisStore`'s adapter and `RedisLock`. */
import { randomUUID } from 'node:crypto';
import type Keyv from 'keyv';
import { createClient } from 'redis';
import { afterAll, describe, expect, it } from 'vitest';
import { lockConformance, storeConformance } from '../../src/conformance/index.js';
import { createRedisStore, RedisLock } from '../../src/redis/index.js';
import { storeAdapterFor } from '../../src/store/registry.js';
import { FakeClock } from '../../src/testing/index.js';
import { REDIS_URL, serviceAvailable } from '../integration/services.js';

const redisUp = await serviceAvailable('redis');
const run = `auth-sessions-conformance-${randomUUID()}`;
let n = 0;

describe.skipIf(!redisUp)('Redis', () => {
  afterAll(async () => {
    const redis = createClient({ url: REDIS_URL });
    redis.on('error', () => {});
    await redis.connect();
    for await (const keys of redis.scanIterator({ MATCH: `${run}*` })) if (keys.length) await redis.del(keys);
    redis.destroy();
  });

  storeConformance({
    describe,
    it,
    expect,
    name: 'createRedisStore',
    exactIndex: true,
    makeStore: () => {
      const namespace = `${run}-${++n}`;
      const opened: Keyv[] = [];
      const open = () => {
        const keyv = createRedisStore(REDIS_URL, { namespace });
        opened.push(keyv);
        return storeAdapterFor(keyv);
      };
      return {
        store: open(),
        connect: open,
        cleanup: () => Promise.allSettled(opened.map((k) => k.disconnect())),
      };
    },
  });

  lockConformance({
    describe,
    it,
    expect,
    name: 'RedisLock',
    makeLock: () => {
      const prefix = `${run}-${++n}:lock:`;
      const opened: RedisLock[] = [];
      const clients: ReturnType<typeof createClient>[] = [];
      const open = () => {
        const lock = new RedisLock({ url: REDIS_URL, prefix, maxRetryDelayMs: 20 });
        opened.push(lock);
        return lock;
      };
      return {
        lock: open(),
        connect: () => open(),
        // Renewals on a clock that only moves when told: its holder looks stalled to Redis. (Connected
        // beforehand: waiting for a connection runs on that clock too.)
        stall: async () => {
          const clock = new FakeClock();
          const client = createClient({ url: REDIS_URL });
          client.on('error', () => {});
          await client.connect();
          clients.push(client);
          const lock = new RedisLock({ client, prefix, clock, maxRetryDelayMs: 20 });
          opened.push(lock);
          return { lock, clock };
        },
        cleanup: async () => {
          await Promise.allSettled(opened.map((l) => l.close()));
          for (const c of clients) c.destroy();
        },
      };
    },
  });
});
