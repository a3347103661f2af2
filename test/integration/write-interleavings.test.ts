import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { createPostgresStore } from '../../src/postgres/index.js';
import { createRedisStore } from '../../src/redis/index.js';
import { checkInterleaving, opArb } from '../properties/interleavings.js';
import { POSTGRES_URL, REDIS_URL, serviceAvailable } from './services.js';

// The write rule on the shared stores: the interleaving property of test/properties/interleavings.ts over
// a real Redis and a real PostgreSQL (fewer runs: each one is a few round trips to a server).

const redisUp = await serviceAvailable('redis');
const postgresUp = await serviceAvailable('postgres');

describe.skipIf(!redisUp)('interleavings of writers on one session: Redis', () => {
  it('no acknowledged write lost, nothing deleted comes back, never stuck pending', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 2, maxLength: 6 }), fc.scheduler(), async (ops, s) => {
        const store = createRedisStore(REDIS_URL, { namespace: `interleave-${randomUUID()}` });
        await checkInterleaving({ store, cleanup: () => store.disconnect() }, ops, s);
      }),
      { numRuns: 20 },
    );
  }, 180_000);
});

describe.skipIf(!postgresUp)('interleavings of writers on one session: PostgreSQL', () => {
  it('no acknowledged write lost, nothing deleted comes back, never stuck pending', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 2, maxLength: 6 }), fc.scheduler(), async (ops, s) => {
        const store = createPostgresStore(POSTGRES_URL, {
          namespace: `interleave${randomUUID().slice(0, 8)}`,
        });
        await checkInterleaving({ store, cleanup: () => store.disconnect() }, ops, s);
      }),
      { numRuns: 20 },
    );
  }, 180_000);
});
