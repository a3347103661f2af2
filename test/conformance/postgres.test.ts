/** The conformance suites against PostgreSQL: `createPostgresStore`'s adapter and `PostgresAdvisoryLock`. */
import { randomBytes } from 'node:crypto';
import type Keyv from 'keyv';
import { afterAll, describe, expect, it } from 'vitest';
import { lockConformance, storeConformance } from '../../src/conformance/index.js';
import { createPostgresStore, PostgresAdvisoryLock } from '../../src/postgres/index.js';
import { createPool } from '../../src/postgres/pg.js';
import { storeAdapterFor } from '../../src/store/registry.js';
import { FakeClock } from '../../src/testing/index.js';
import { POSTGRES_URL, serviceAvailable } from '../integration/services.js';

const postgresUp = await serviceAvailable('postgres');
const schema = `auth_sessions_conformance_${randomBytes(6).toString('hex')}`;
let n = 0;

describe.skipIf(!postgresUp)('PostgreSQL', () => {
  afterAll(async () => {
    const admin = createPool(POSTGRES_URL, { max: 1, connectTimeoutMs: 5000 });
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });

  storeConformance({
    describe,
    it,
    expect,
    name: 'createPostgresStore',
    exactIndex: true,
    makeStore: () => {
      const table = `t${++n}`;
      const opened: Keyv[] = [];
      const open = () => {
        const keyv = createPostgresStore(POSTGRES_URL, { schema, table, maxConnections: 4 });
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
    name: 'PostgresAdvisoryLock',
    makeLock: () => {
      const namespace = `${schema}-${++n}`;
      const opened: PostgresAdvisoryLock[] = [];
      const open = (clock?: FakeClock) => {
        const lock = new PostgresAdvisoryLock({
          url: POSTGRES_URL,
          namespace,
          maxRetryDelayMs: 20,
          maxConnections: 4,
          ...(clock ? { clock } : {}),
        });
        opened.push(lock);
        return lock;
      };
      return {
        lock: open(),
        connect: () => open(),
        // Heartbeats on a clock that only moves when told: the server ends the idle transaction after the lease.
        stall: () => {
          const clock = new FakeClock();
          return { lock: open(clock), clock };
        },
        cleanup: () => Promise.allSettled(opened.map((l) => l.close())),
      };
    },
  });
});
