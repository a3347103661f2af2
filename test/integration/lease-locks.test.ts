/**
 * Leases over the shared locks: two managers (as two processes would, each with its own connections) over
 * one store and one lock server, on Redis and on PostgreSQL.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type Keyv from 'keyv';
import { createClient } from 'redis';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type AuthSessionLock, AuthSessionManager, defineAuth } from '../../src/index.js';
import { createPostgresStore, PostgresAdvisoryLock } from '../../src/postgres/index.js';
import { createPool } from '../../src/postgres/pg.js';
import { createRedisStore, RedisLock } from '../../src/redis/index.js';
import { FakeBrowserProvider, FakeSite, fakeSiteAuth } from '../../src/testing/index.js';
import { codeOf } from '../shared.js';
import { POSTGRES_URL, REDIS_URL, serviceAvailable } from './services.js';

const redisUp = await serviceAvailable('redis');
const postgresUp = await serviceAvailable('postgres');
const KEY = randomBytes(32).toString('base64');

interface Backend {
  readonly store: () => Keyv;
  readonly lock: () => AuthSessionLock & { close(): Promise<void> };
}

const run = randomUUID().slice(0, 8);
const pgSchema = `auth_sessions_lease_${randomBytes(6).toString('hex')}`;
const backends: Array<[string, boolean, Backend]> = [
  [
    'Redis',
    redisUp,
    {
      store: () => createRedisStore(REDIS_URL, { namespace: `auth-sessions-test-lease-${run}` }),
      lock: () => new RedisLock({ url: REDIS_URL, prefix: `auth-sessions-test-lease-${run}:lock:` }),
    },
  ],
  [
    'PostgreSQL',
    postgresUp,
    {
      store: () => createPostgresStore(POSTGRES_URL, { schema: pgSchema, table: 'sessions' }),
      lock: () => new PostgresAdvisoryLock({ url: POSTGRES_URL, namespace: pgSchema }),
    },
  ],
];

afterAll(async () => {
  if (redisUp) {
    const redis = createClient({ url: REDIS_URL });
    redis.on('error', () => {});
    await redis.connect();
    for await (const keys of redis.scanIterator({ MATCH: `auth-sessions-test-lease-${run}*` })) {
      if (keys.length) await redis.del(keys);
    }
    redis.destroy();
  }
  if (postgresUp) {
    const admin = createPool(POSTGRES_URL, { max: 1, connectTimeoutMs: 5000 });
    await admin.query(`DROP SCHEMA IF EXISTS "${pgSchema}" CASCADE`);
    await admin.end();
  }
});

for (const [name, up, backend] of backends) {
  describe.skipIf(!up)(`leases on ${name}`, () => {
    it('two processes never hold one session; a waiter in one gets what the other releases', async () => {
      const site = new FakeSite();
      const browser = new FakeBrowserProvider({ sites: [site] });
      const closers: Array<() => Promise<unknown>> = [];
      const process = () => {
        const store = backend.store();
        const lock = backend.lock();
        const manager = new AuthSessionManager({
          auths: [
            defineAuth({
              name: 'fake-site',
              type: 'credentials',
              credentials: z.object({ username: z.string(), password: z.string() }),
              ...fakeSiteAuth(site),
            }),
          ],
          store,
          lock,
          key: KEY,
          browser,
        });
        closers.push(
          () => manager.close(),
          () => lock.close(),
          () => store.disconnect(),
        );
        return manager;
      };
      try {
        const a = process();
        for (const user of ['u1', 'u2', 'u3']) {
          site.addUser(user, `pw-${user}`);
          await a.create('fake-site', {
            id: `${run}-${user}`,
            credentials: { username: user, password: `pw-${user}` },
          });
        }
        // Made once the store's table exists: two stores creating it at the same moment collide on PostgreSQL.
        const b = process();
        const attempts = await Promise.allSettled(
          [a, b, a, b].map((m) => m.lease({ auth: 'fake-site' }, { waitMs: 0, ttlMs: 10_000 })),
        );
        const won = attempts.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
        expect(won).toHaveLength(3);
        expect(new Set(won.map((l) => l.session.id)).size).toBe(3);
        const lost = attempts.find((r) => r.status === 'rejected');
        expect(await codeOf(Promise.reject(lost?.reason))).toBe('LEASE_TIMEOUT');
        // The other process sees the leases.
        for (const l of won) expect((await b.get(l.session.id))?.leasedUntil).toBeDefined();

        const waiting = b.lease({ auth: 'fake-site' }, { waitMs: 15_000 });
        const given = won[0]!;
        await given.release();
        const next = await waiting;
        expect(next.session.id).toBe(given.session.id);
        await next.run(async ({ session }) => expect(session.id).toBe(given.session.id));
        await Promise.all([next, ...won.slice(1)].map((l) => l.release()));
        expect(site.counters.logins).toBe(3);
      } finally {
        for (const close of closers.reverse()) await close().catch(() => {});
        await browser.close();
      }
    }, 60_000);
  });
}
