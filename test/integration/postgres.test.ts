import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { KeyvPostgres } from '@keyv/postgres';
import Keyv from 'keyv';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { AuthSessionError } from '../../src/errors.js';
import { createPostgresStore, PostgresAdvisoryLock } from '../../src/postgres/index.js';
import { createPool, type PgPool } from '../../src/postgres/pg.js';
import { SessionStore } from '../../src/store/session-store.js';
import { FakeSite } from '../../src/testing/index.js';
import { codeOf, gatedWorker, nextFailedCheck, raceCreators, raceFencedWriters } from './helpers.js';
import { POSTGRES_URL, serviceAvailable } from './services.js';
import { fencedWriteRechecks, unreadableRecordIsNeverOverwritten } from './store-scenarios.js';
import { TcpProxy } from './tcp-proxy.js';

const postgresUp = await serviceAvailable('postgres');

describe.skipIf(!postgresUp)('PostgreSQL storage and lock', () => {
  const schema = `auth_sessions_test_${randomBytes(6).toString('hex')}`;
  let admin: PgPool;
  const cleanup: Array<() => Promise<unknown>> = [];
  const closeLater = <T extends { close?: () => Promise<unknown>; disconnect?: () => Promise<unknown> }>(
    x: T,
  ) => {
    cleanup.push(async () => (x.close ? x.close() : x.disconnect?.()));
    return x;
  };
  let tables = 0;
  const store = (options: { table?: string; url?: string; connectTimeoutMs?: number } = {}) =>
    closeLater(
      createPostgresStore(options.url ?? POSTGRES_URL, {
        schema,
        table: options.table ?? 'sessions',
        ...(options.connectTimeoutMs ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
      }),
    );
  const lock = (options: Partial<ConstructorParameters<typeof PostgresAdvisoryLock>[0]> = {}) =>
    closeLater(new PostgresAdvisoryLock({ url: POSTGRES_URL, namespace: schema, ...options }));
  const site = () => {
    const s = new FakeSite({ rollingCookie: false });
    s.addUser('alice', 'pw-alice-1');
    s.addUser('bob', 'pw-bob-1');
    return s;
  };
  const alice = { username: 'alice', password: 'pw-alice-1' };

  beforeAll(() => {
    admin = createPool(POSTGRES_URL, { max: 2, connectTimeoutMs: 5000 });
  });

  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => {});
  });

  afterAll(async () => {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });

  it('works with a plain @keyv/postgres store: create, run, refresh, list, delete', async () => {
    await admin.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    const keyv = new Keyv(new KeyvPostgres({ uri: POSTGRES_URL, schema, table: 'plain' }));
    const s = site();
    const w = gatedWorker(s, keyv, lock());
    const { id } = await w.manager.create('site', { credentials: alice, labels: { team: 'a' } });
    expect(await w.manager.run(id, () => 'ok')).toBe('ok');
    s.logoutAll();
    expect(await w.manager.run(id, () => 'again')).toBe('again');
    expect(w.events.refreshed).toBe(1);
    expect((await w.manager.list({ labels: { team: 'a' } })).map((x) => x.id)).toEqual([id]);
    const { rows } = await admin.query(`SELECT value FROM "${schema}".plain`);
    expect(JSON.stringify(rows)).not.toContain('pw-alice-1');
    await w.manager.delete(id);
    expect(await w.manager.list()).toEqual([]);
    await w.manager.close();
    await keyv.disconnect();
  });

  it('createPostgresStore: create, run, refresh, list, delete, and the table holds no secret', async () => {
    const s = site();
    const w = gatedWorker(s, store({ table: `t${++tables}` }), lock());
    const a = await w.manager.create('site', { credentials: alice, labels: { team: 'a' } });
    const b = await w.manager.create('site', { credentials: { username: 'bob', password: 'pw-bob-1' } });
    s.logoutAll();
    expect(await w.manager.run(a.id, () => 'ok')).toBe('ok');
    expect(w.events.refreshed).toBe(1);
    expect((await w.manager.list()).map((x) => x.id).sort()).toEqual([a.id, b.id].sort());
    expect((await w.manager.list({ labels: { team: 'a' } })).map((x) => x.id)).toEqual([a.id]);
    const { rows } = await admin.query(`SELECT key, value FROM "${schema}".t${tables}`);
    expect(rows.map((r) => r.key)).toContain(`auth-sessions:session/${a.id}`);
    expect(JSON.stringify(rows)).not.toContain('pw-alice-1');
    await w.manager.delete(b.id);
    expect((await w.manager.list()).map((x) => x.id)).toEqual([a.id]);
    await w.manager.close();
  });

  it('lets several stores create one fresh schema and table at the same moment (no duplicate-type failure)', async () => {
    for (let round = 0; round < 5; round++) {
      const fresh = `${schema}_fresh${round}`;
      cleanup.push(() => admin.query(`DROP SCHEMA IF EXISTS "${fresh}" CASCADE`));
      const stores = Array.from({ length: 6 }, () =>
        closeLater(createPostgresStore(POSTGRES_URL, { schema: fresh, table: 'sessions' })),
      );
      await Promise.all(stores.map((k, i) => k.set(`k${i}`, `v${i}`)));
      const values = await Promise.all(stores.map((k, i) => k.get(`k${(i + 1) % stores.length}`)));
      expect(values).toEqual(['v1', 'v2', 'v3', 'v4', 'v5', 'v0']);
    }
  });

  it('writes fenced records atomically: of 20 concurrent writers expecting one generation, exactly one wins', async () => {
    const table = `t${++tables}`;
    const w = gatedWorker(site(), store({ table }), lock());
    const { id } = await w.manager.create('site', { credentials: alice });
    const newStore = () => store({ table });
    const { outcomes, base, stored } = await raceFencedWriters(newStore, id, 20);
    expect(outcomes.filter((o) => o === undefined)).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'STALE_WRITE')).toHaveLength(19);
    expect(stored?.labels).toEqual({ writer: String(outcomes.indexOf(undefined)) });
    expect(stored?.generation).toBe(base.generation + 1);
    await w.manager.close();
  });

  it('lets exactly one of several concurrent creators of one id win', async () => {
    const table = `t${++tables}`;
    const w = gatedWorker(site(), store({ table }), lock());
    const { id } = await w.manager.create('site', { credentials: alice });
    const keyv = store({ table });
    const template = (await new SessionStore(keyv).read(id))!;
    const outcomes = await raceCreators(() => store({ table }), template, 10);
    expect(outcomes.filter((o) => o === undefined)).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'STALE_WRITE')).toHaveLength(9);
    await w.manager.close();
  });

  it('re-checks a fenced write when an unrelated write lands in between, and never reuses a revision', async () => {
    const table = `t${++tables}`;
    const keyv = store({ table });
    const w = gatedWorker(site(), keyv, lock());
    const { id } = await w.manager.create('site', { credentials: alice });
    await fencedWriteRechecks(() => store({ table }), keyv, id);
    await w.manager.close();
  });

  it('never writes over a record it cannot read', async () => {
    const table = `t${++tables}`;
    const keyv = store({ table });
    const w = gatedWorker(site(), keyv, lock());
    const { id } = await w.manager.create('site', { credentials: alice });
    await unreadableRecordIsNeverOverwritten(keyv, id);
    // Stored as @keyv/postgres stores it: a Keyv entry under the namespace.
    const { rows } = await admin.query(`SELECT value FROM "${schema}".${table} WHERE key = $1`, [
      `auth-sessions:session/${id}`,
    ]);
    expect(rows).toEqual([{ value: '{"value":"{\\"v\\":1,\\"broken\\":true}"}' }]);
    await w.manager.close();
  });

  // Exclusion, bounded and aborted waits, lease expiry and renewal: test/conformance/postgres.test.ts.
  describe('PostgresAdvisoryLock', () => {
    it('frees the lock at once when the holding connection dies', async () => {
      const holder = lock();
      const held = await holder.acquire('dies', { leaseMs: 60_000, waitMs: 0 });
      // Only the backend holding this very lock (a 64-bit key shows as classid = high half, objid = low half).
      const id = createHash('sha256').update(schema).update('\0').update('dies').digest().readBigUInt64BE(0);
      const { rows } = await admin.query(
        `SELECT pg_terminate_backend(pid) AS ok FROM pg_locks
          WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND classid = $1::oid AND objid = $2::oid AND objsubid = 1`,
        [String(id >> 32n), String(id & 0xffffffffn)],
      );
      expect(rows).toEqual([{ ok: true }]);
      const next = await lock().acquire('dies', { leaseMs: 10_000, waitMs: 5_000 });
      await next.release();
      await held.release().catch(() => {});
    });

    it('validates options without echoing the URL', () => {
      expect(() => new PostgresAdvisoryLock({ url: 'mysql://u:s3cret@x' })).toThrow(AuthSessionError);
      expect(() => new PostgresAdvisoryLock({ url: 'mysql://u:s3cret@x' })).not.toThrow(/s3cret/);
      expect(() => createPostgresStore(POSTGRES_URL, { table: 'x; drop table y' })).toThrow(/identifier/);
    });
  });

  it('two workers on createPostgresStore + PostgresAdvisoryLock: one refresh, the waiter reuses it', async () => {
    const table = `t${++tables}`;
    const s = site();
    const a = gatedWorker(s, store({ table }), lock());
    const b = gatedWorker(s, store({ table }), lock());
    const { id } = await a.manager.create('site', { credentials: alice });
    s.logoutAll();
    a.gate.hold();
    const runA = a.manager.run(id, () => 'a');
    await a.gate.entered;
    const bCheckFailed = nextFailedCheck(b.manager);
    const runB = b.manager.run(id, () => 'b');
    // B's check has failed on the old state before A finishes: B must take the lock and reuse A's refresh.
    await bCheckFailed;
    a.gate.open();
    expect(await Promise.all([runA, runB])).toEqual(['a', 'b']);
    expect(s.counters.logins).toBe(2);
    await a.manager.close();
    await b.manager.close();
  });

  it('outage: PostgreSQL unreachable during a run of tasks gives STORAGE_UNAVAILABLE, loses nothing, recovers', async () => {
    const url = new URL(POSTGRES_URL);
    const proxy = await TcpProxy.start(url.hostname, Number(url.port || 5432));
    cleanup.push(() => proxy.close());
    url.port = String(proxy.port);
    const table = `t${++tables}`;
    const s = site();
    const w = gatedWorker(
      s,
      store({ table, url: url.toString(), connectTimeoutMs: 500 }),
      lock({ url: url.toString(), commandTimeoutMs: 500 }),
      {
        storeTimeoutMs: 2_000,
      },
    );
    const ids = [
      (await w.manager.create('site', { credentials: alice })).id,
      (await w.manager.create('site', { credentials: { username: 'bob', password: 'pw-bob-1' } })).id,
    ];
    const loginsBefore = s.counters.logins;
    type Outcome = { at: number; ms: number; code: string | undefined };
    const outcomes: Outcome[] = [];
    let stop = false;
    const loop = async (k: number) => {
      for (let i = k; !stop; i++) {
        const started = Date.now();
        const code = await codeOf(w.manager.run(ids[i % ids.length]!, () => 'ok'));
        outcomes.push({ at: started, ms: Date.now() - started, code });
        await sleep(code === undefined ? 2 : 20);
      }
    };
    const loops = Promise.all([0, 1, 2, 3].map(loop));
    try {
      await vi.waitFor(
        () => expect(outcomes.filter((o) => o.code === undefined).length).toBeGreaterThan(20),
        {
          timeout: 15_000,
          interval: 50,
        },
      );
      const downAt = Date.now();
      await proxy.cut();
      await sleep(1_000);
      const upAt = Date.now();
      await proxy.restore();
      await vi.waitFor(
        () => expect(outcomes.filter((o) => o.at > upAt && o.code === undefined).length).toBeGreaterThan(20),
        { timeout: 15_000, interval: 50 },
      );
      const whileDown = outcomes.filter((o) => o.at > downAt + 200 && o.at + o.ms < upAt);
      expect(whileDown.length).toBeGreaterThan(5);
      expect(new Set(whileDown.map((o) => o.code))).toEqual(new Set(['STORAGE_UNAVAILABLE']));
      expect(Math.max(...whileDown.map((o) => o.ms))).toBeLessThan(2_500);
    } finally {
      stop = true;
      await loops;
    }
    expect(new Set(outcomes.map((o) => o.code))).toEqual(new Set([undefined, 'STORAGE_UNAVAILABLE']));
    const after = await Promise.all(ids.map((id) => w.manager.get(id)));
    expect(after.map((x) => x?.state)).toEqual(['active', 'active']);
    for (const id of ids) expect(await w.manager.run(id, () => 'again', { forceCheck: true })).toBe('again');
    expect(s.counters.logins).toBe(loginsBefore);
    await w.manager.close();
  });
});
