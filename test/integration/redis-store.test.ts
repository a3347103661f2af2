import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type Keyv from 'keyv';
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { AuthSessionError } from '../../src/errors.js';
import { createRedisStore, RedisLock } from '../../src/redis/index.js';
import { redisIndexTerm } from '../../src/redis/store-adapter.js';
import type { IndexTerm } from '../../src/store/contract.js';
import { storeAdapterFor } from '../../src/store/registry.js';
import { SessionStore } from '../../src/store/session-store.js';
import { FakeSite } from '../../src/testing/index.js';
import {
  codeOf,
  gatedWorker,
  nextFailedCheck,
  raceCreators,
  raceFencedWriters,
  storedSid,
} from './helpers.js';
import { DisposableRedis } from './redis-server.js';
import { REDIS_URL, serviceAvailable } from './services.js';
import { fencedWriteRechecks, unreadableRecordIsNeverOverwritten } from './store-scenarios.js';

const redisUp = await serviceAvailable('redis');

describe.skipIf(!redisUp)('Redis storage and fencing', () => {
  const run = randomUUID();
  const redis = createClient({ url: REDIS_URL });
  const cleanup: Array<() => Promise<unknown>> = [];
  let n = 0;
  /** A fresh namespace, store and lock for one test (all cleaned up afterwards). */
  const fresh = () => {
    const namespace = `auth-sessions-test-${run}-${++n}`;
    const lockPrefix = `${namespace}:lock:`;
    const stores: Keyv[] = [];
    const locks: RedisLock[] = [];
    const store = () => {
      const s = createRedisStore(REDIS_URL, { namespace });
      stores.push(s);
      return s;
    };
    const lock = () => {
      const l = new RedisLock({ url: REDIS_URL, prefix: lockPrefix });
      locks.push(l);
      return l;
    };
    cleanup.push(async () => {
      await Promise.allSettled(locks.map((l) => l.close()));
      await Promise.allSettled(stores.map((s) => s.disconnect()));
    });
    return { namespace, lockPrefix, store, lock };
  };
  const site = () => {
    const s = new FakeSite({ rollingCookie: false });
    s.addUser('alice', 'pw-alice-1');
    s.addUser('bob', 'pw-bob-1');
    s.addUser('carol', 'pw-carol-1');
    return s;
  };
  const alice = { username: 'alice', password: 'pw-alice-1' };

  beforeAll(async () => {
    redis.on('error', () => {});
    await redis.connect();
  });

  afterEach(async () => {
    for (const fn of cleanup.splice(0)) await fn();
  });

  afterAll(async () => {
    for await (const keys of redis.scanIterator({ MATCH: `auth-sessions-test-${run}-*` })) {
      if (keys.length) await redis.del(keys);
    }
    redis.destroy();
  });

  it('keeps sealed sessions a manager can create, run, refresh, list and delete', async () => {
    const { namespace, store, lock } = fresh();
    const s = site();
    const w = gatedWorker(s, store(), lock());
    const created = await w.manager.create('site', { credentials: alice, labels: { team: 'a' } });
    expect(await w.manager.run(created.id, ({ session }) => session.id)).toBe(created.id);
    s.logoutAll();
    await w.manager.run(created.id, () => undefined);
    expect(w.events.refreshed).toBe(1);
    expect(s.counters.logins).toBe(2);
    expect((await w.manager.list({ labels: { team: 'a' } })).map((x) => x.id)).toEqual([created.id]);
    // Everything lives under the namespace, and no secret is readable in Redis.
    const keys: string[] = [];
    for await (const batch of redis.scanIterator({ MATCH: `${namespace}::*` })) keys.push(...batch);
    expect(keys).toContain(`${namespace}::session/${created.id}`);
    const raw = await redis.get(`${namespace}::session/${created.id}`);
    expect(raw).not.toContain('pw-alice-1');
    expect(raw).not.toContain(w.sids.at(-1));
    await w.manager.delete(created.id);
    expect(await w.manager.get(created.id)).toBeUndefined();
    await w.manager.close();
  });

  it('writes fenced records atomically: of 20 concurrent writers expecting one generation, exactly one wins', async () => {
    const { store, lock } = fresh();
    const w = gatedWorker(site(), store(), lock());
    const { id } = await w.manager.create('site', { credentials: alice });
    const { outcomes, base, stored } = await raceFencedWriters(store, id, 20);
    expect(outcomes.filter((o) => o === undefined)).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'STALE_WRITE')).toHaveLength(19);
    expect(stored?.labels).toEqual({ writer: String(outcomes.indexOf(undefined)) });
    expect(stored?.generation).toBe(base.generation + 1);
    await w.manager.close();
  });

  it('lets exactly one of several concurrent creators of one id win', async () => {
    const { store, lock } = fresh();
    const w = gatedWorker(site(), store(), lock());
    const { id } = await w.manager.create('site', { credentials: alice });
    const template = (await new SessionStore(store()).read(id))!;
    const outcomes = await raceCreators(store, template, 10);
    expect(outcomes.filter((o) => o === undefined)).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'STALE_WRITE')).toHaveLength(9);
    await w.manager.close();
  });

  it('re-checks a fenced write when an unrelated write lands in between, and never reuses a revision', async () => {
    const { store, lock } = fresh();
    const keyv = store();
    const w = gatedWorker(site(), keyv, lock());
    const { id } = await w.manager.create('site', { credentials: alice });
    await fencedWriteRechecks(store, keyv, id);
    await w.manager.close();
  });

  it('never writes over a record it cannot read', async () => {
    const { namespace, store, lock } = fresh();
    const keyv = store();
    const w = gatedWorker(site(), keyv, lock());
    const { id } = await w.manager.create('site', { credentials: alice });
    await unreadableRecordIsNeverOverwritten(keyv, id);
    // Stored as @keyv/redis stores it: a Keyv entry under the namespace.
    expect(await redis.get(`${namespace}::session/${id}`)).toBe('{"value":"{\\"v\\":1,\\"broken\\":true}"}');
    await w.manager.close();
  });

  it('gives STORAGE_UNAVAILABLE quickly, never "not found", when Redis cannot be reached', async () => {
    const store = createRedisStore('redis://127.0.0.1:1', { connectTimeoutMs: 300 });
    const w = gatedWorker(
      site(),
      store,
      new RedisLock({ url: 'redis://127.0.0.1:1', commandTimeoutMs: 300 }),
    );
    const started = Date.now();
    expect(await codeOf(w.manager.get('abc'))).toBe('STORAGE_UNAVAILABLE');
    expect(await codeOf(w.manager.run('abc', () => 1))).toBe('STORAGE_UNAVAILABLE');
    expect(Date.now() - started).toBeLessThan(3_000);
    await w.manager.close();
    await store.disconnect();
  });

  it('validates its options without echoing the URL', () => {
    expect(() => createRedisStore('http://:s3cret@x')).toThrow(AuthSessionError);
    expect(() => createRedisStore('http://:s3cret@x')).not.toThrow(/s3cret/);
    expect(() => createRedisStore(REDIS_URL, { namespace: '' })).toThrow(/namespace/);
    expect(() => createRedisStore(REDIS_URL, { connectTimeoutMs: -1 })).toThrow(/connectTimeoutMs/);
  });

  describe('two workers, one session', () => {
    it('reads the record again after taking the lock: a worker that waited uses the refresh it waited for', async () => {
      const { store, lock } = fresh();
      const s = site();
      const a = gatedWorker(s, store(), lock());
      const b = gatedWorker(s, store(), lock());
      const { id } = await a.manager.create('site', { credentials: alice });
      s.logoutAll();
      a.gate.hold();
      const runA = a.manager.run(id, () => 'a');
      await a.gate.entered; // A holds the lock, mid-refresh
      const bCheckFailed = nextFailedCheck(b.manager);
      const runB = b.manager.run(id, () => 'b'); // B's check fails; it waits for the lock
      // B's check has failed on the old state before A finishes: B must take the lock and reuse A's refresh.
      await bCheckFailed;
      a.gate.open();
      expect(await Promise.all([runA, runB])).toEqual(['a', 'b']);
      expect(s.counters.logins).toBe(2); // create + one refresh
      expect(a.events.refreshed + b.events.refreshed).toBe(1);
      await a.manager.close();
      await b.manager.close();
    });

    it('fences a worker whose lock lapsed mid-refresh: it cannot overwrite the newer record', async () => {
      const { lockPrefix, store, lock } = fresh();
      const s = site();
      const a = gatedWorker(s, store(), lock());
      const b = gatedWorker(s, store(), lock());
      const { id } = await a.manager.create('site', { credentials: alice });
      const generation = (await new SessionStore(store()).read(id))!.generation;
      s.logoutAll();
      a.gate.hold();
      const runA = a.manager.run(id, () => 'a');
      await a.gate.entered; // A holds the lock and stalls inside its refresh…
      await redis.del(`${lockPrefix}refresh:${id}`); // …long enough for its lease to lapse
      expect(await b.manager.run(id, () => 'b')).toBe('b'); // B takes the lock and refreshes
      const bSid = b.sids.at(-1);
      const afterB = (await new SessionStore(store()).read(id))!;
      expect(afterB.generation).toBe(generation + 1);
      a.gate.open(); // A wakes up, logs in, and tries to save its (stale) refresh
      expect(await runA).toBe('a'); // A's run still succeeds, with B's record
      const stored = (await new SessionStore(store()).read(id))!;
      expect(stored.generation).toBe(generation + 1);
      expect(a.events.refreshed).toBe(0);
      expect(b.events.refreshed).toBe(1);
      expect(a.sids).toHaveLength(2); // A did log in (its lease was gone), but its result was not stored
      expect(a.sids.at(-1)).not.toBe(bSid);
      expect(await storedSid(b.manager, id)).toBe(bSid);
      await a.manager.close();
      await b.manager.close();
    });
  });

  describe('outage: Redis stopped and started again during a run of tasks', () => {
    let server: DisposableRedis | undefined;
    afterAll(async () => {
      await server?.dispose();
    });

    it('fails tasks with STORAGE_UNAVAILABLE while down, loses nothing, and works again after', async () => {
      server = await DisposableRedis.start();
      const store = createRedisStore(server.url, { connectTimeoutMs: 300 });
      const lock = new RedisLock({ url: server.url, commandTimeoutMs: 500 });
      const s = site();
      const w = gatedWorker(s, store, lock, { storeTimeoutMs: 2_000 });
      const ids: string[] = [];
      for (const [username, password] of [
        ['alice', 'pw-alice-1'],
        ['bob', 'pw-bob-1'],
        ['carol', 'pw-carol-1'],
      ] as const) {
        ids.push((await w.manager.create('site', { credentials: { username, password } })).id);
      }
      const before = await Promise.all(ids.map((id) => w.manager.get(id)));
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
          { timeout: 15_000, interval: 50 },
        );
        const downAt = Date.now();
        await server.stop();
        await sleep(2_000);
        const upAt = Date.now();
        await server.start();
        await vi.waitFor(
          () =>
            expect(outcomes.filter((o) => o.at > upAt && o.code === undefined).length).toBeGreaterThan(20),
          { timeout: 15_000, interval: 50 },
        );
        const whileDown = outcomes.filter((o) => o.at > downAt + 200 && o.at + o.ms < upAt);
        expect(whileDown.length).toBeGreaterThanOrEqual(8);
        expect(new Set(whileDown.map((o) => o.code))).toEqual(new Set(['STORAGE_UNAVAILABLE']));
        // Failing is quick (a call waits for a reconnection up to connectTimeoutMs): none hangs for the outage.
        expect(Math.max(...whileDown.map((o) => o.ms))).toBeLessThan(2_500);
      } finally {
        stop = true;
        await loops;
      }
      // Only two outcomes ever: success or STORAGE_UNAVAILABLE.
      expect(new Set(outcomes.map((o) => o.code))).toEqual(new Set([undefined, 'STORAGE_UNAVAILABLE']));
      // Nothing lost or corrupted: every session is there, active, on the same login, and still logged in.
      const after = await Promise.all(ids.map((id) => w.manager.get(id)));
      expect(after.map((x) => x?.state)).toEqual(['active', 'active', 'active']);
      expect(after.map((x) => x?.id)).toEqual(before.map((x) => x?.id));
      for (const id of ids)
        expect(await w.manager.run(id, () => 'again', { forceCheck: true })).toBe('again');
      expect(s.counters.logins).toBe(loginsBefore);
      const direct = new SessionStore(store);
      for (const id of ids) expect((await direct.read(id))?.generation).toBe(1);
      await w.manager.close();
      await lock.close();
      await store.disconnect();
    });
  });
});

describe.skipIf(!redisUp)('the Redis index of records by state, auth and label', () => {
  const namespace = `auth-sessions-test-index-${randomUUID()}`;
  const redis = createClient({ url: REDIS_URL });
  const stores: Keyv[] = [];
  const record = (state: string, labels: Record<string, string>) =>
    JSON.stringify({ v: 1, state, auth: 'crm', labels });
  const listed = async (keyv: Keyv, term: IndexTerm) => {
    const keys: string[] = [];
    for await (const [key] of storeAdapterFor(keyv).scanWhere!('session/', term)) keys.push(key);
    return keys.sort();
  };
  const acme: IndexTerm = { field: 'label', name: 'customer', value: 'acme' };

  beforeAll(async () => {
    redis.on('error', () => {});
    await redis.connect();
  });
  afterAll(async () => {
    await Promise.allSettled(stores.map((s) => s.disconnect()));
    for await (const keys of redis.scanIterator({ MATCH: `${namespace}*` }))
      if (keys.length) await redis.del(keys);
    redis.destroy();
  });

  it('indexes entries written before it existed, skips and drops members whose key is gone', async () => {
    // Written by Keyv itself (as by a version without the index): indexed by the first scanWhere.
    const first = createRedisStore(REDIS_URL, { namespace });
    stores.push(first);
    await first.set('session/old', record('active', { customer: 'acme' }));
    await first.set('meta/history', '{"at":1}');
    expect(await redis.exists(`${namespace}:idx:v1`)).toBe(0);
    expect(await listed(first, acme)).toEqual(['session/old']);
    expect(await redis.exists(`${namespace}:idx:v1`)).toBe(1);

    // Written through the library by another process: in the index at once.
    const second = createRedisStore(REDIS_URL, { namespace });
    stores.push(second);
    const adapter = storeAdapterFor(second);
    expect(
      await adapter.compareAndSet('session/new', undefined, record('pending', { customer: 'acme' })),
    ).toBe(true);
    expect(await listed(first, acme)).toEqual(['session/new', 'session/old']);
    expect(await listed(first, { field: 'state', value: 'pending' })).toEqual(['session/new']);

    // Removed behind the index's back (Keyv's delete, an expiry on the server): skipped, then dropped.
    const set = `${namespace}:idx:${redisIndexTerm(acme)}`;
    await first.delete('session/old');
    expect(await redis.sIsMember(set, `${namespace}::session/old`)).toBe(1);
    expect(await listed(second, acme)).toEqual(['session/new']);
    expect(await redis.sIsMember(set, `${namespace}::session/old`)).toBe(0);
    // Created again through the library: listed again.
    expect(
      await adapter.compareAndSet('session/old', undefined, record('active', { customer: 'acme' })),
    ).toBe(true);
    expect(await listed(second, acme)).toEqual(['session/new', 'session/old']);
    // Deleted through the library: gone from every set it was in.
    expect(await adapter.delete('session/new')).toBe(true);
    expect(await redis.sIsMember(set, `${namespace}::session/new`)).toBe(0);
    expect(await redis.sIsMember(`${namespace}:idx:state:pending`, `${namespace}::session/new`)).toBe(0);
  });

  it('builds label terms in TypeScript exactly as the script does (byte length of the name)', () => {
    expect(redisIndexTerm({ field: 'label', name: 'ünï', value: 'v=1' })).toBe('label:5:ünï=v=1');
    expect(redisIndexTerm({ field: 'state', value: 'active' })).toBe('state:active');
  });
});
