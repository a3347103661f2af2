/**
 * Several worker processes sharing one Redis store and RedisLock, logging in to one shared demo site over
 * HTTP (the site counts every login, whichever process made it).
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type DemoSite, startDemoSite } from '../../examples/demo-site/server.js';
import { httpLoginAuth } from '../../examples/multi-process/http-auth.js';
import { AuthSessionManager } from '../../src/index.js';
import { createRedisStore, RedisLock } from '../../src/redis/index.js';
import { SessionStore } from '../../src/store/session-store.js';
import { FakeBrowserProvider } from '../../src/testing/index.js';
import type { ParentMessage, WorkerConfig, WorkerMessage } from './fixtures/worker.js';
import { ForkedWorker } from './forked-worker.js';
import { TEST_KEY } from './helpers.js';
import { REDIS_URL, serviceAvailable } from './services.js';

const redisUp = await serviceAvailable('redis');
const WORKER = fileURLToPath(new URL('./fixtures/worker.ts', import.meta.url));
const ALICE = { username: 'alice', password: 'wonderland-42' };

class Worker extends ForkedWorker<WorkerMessage, ParentMessage> {
  constructor(config: WorkerConfig) {
    super(WORKER, config);
  }
}

describe.skipIf(!redisUp)('many processes, one session, one login per lapse', () => {
  const run = randomUUID();
  const redis = createClient({ url: REDIS_URL });
  let site: DemoSite;
  const workers: Worker[] = [];

  /** A session created from the test process, and the config its workers share. */
  const setup = async (name: string, lock: { leaseMs: number; waitMs: number }) => {
    const namespace = `auth-sessions-test-${run}-${name}`;
    const lockPrefix = `${namespace}:lock:`;
    const store = createRedisStore(REDIS_URL, { namespace });
    const redisLock = new RedisLock({ url: REDIS_URL, prefix: lockPrefix });
    const manager = new AuthSessionManager({
      auths: [httpLoginAuth(site.url)],
      store,
      lock: redisLock,
      key: TEST_KEY,
      browser: new FakeBrowserProvider(),
    });
    const session = await manager.create('demo-http', { credentials: ALICE });
    const config: WorkerConfig = {
      redisUrl: REDIS_URL,
      namespace,
      lockPrefix,
      siteUrl: site.url,
      key: TEST_KEY,
      sessionId: session.id,
      lockLeaseMs: lock.leaseMs,
      lockWaitMs: lock.waitMs,
    };
    const close = async () => {
      await manager.close();
      await redisLock.close();
      await store.disconnect();
    };
    return { config, manager, store, session, lockKey: `${lockPrefix}refresh:${session.id}`, close };
  };

  const spawn = async (config: WorkerConfig, count: number) => {
    const started = Array.from({ length: count }, () => new Worker(config));
    workers.push(...started);
    await Promise.all(started.map((w) => w.next('ready')));
    return started;
  };

  const expireSiteLogins = async () => {
    const res = await fetch(`${site.url}/__admin/expire`, { method: 'POST' });
    expect(res.status).toBe(200);
  };

  beforeAll(async () => {
    redis.on('error', () => {});
    await redis.connect();
    site = await startDemoSite({ sessionTtlSeconds: 3600 });
  });

  afterAll(async () => {
    await Promise.allSettled(workers.map((w) => w.stop()));
    await site?.close();
    for await (const keys of redis.scanIterator({ MATCH: `auth-sessions-test-${run}-*` })) {
      if (keys.length) await redis.del(keys);
    }
    redis.destroy();
  });

  it('4 processes × 50 concurrent runs on a lapsed login, 50 times: exactly one login per lapse, every run succeeds', async () => {
    const ROUNDS = Number(process.env.AUTH_SESSIONS_STRESS_ROUNDS ?? 50);
    const PROCESSES = 4;
    const RUNS = 50;
    const ctx = await setup('stress', { leaseMs: 10_000, waitMs: 30_000 });
    const spawnStarted = Date.now();
    const pool = await spawn(ctx.config, PROCESSES);
    const spawnSeconds = (Date.now() - spawnStarted) / 1000;
    const started = Date.now();
    const loginsPerLapse: number[] = [];
    const failures: string[] = [];
    let refreshes = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      await expireSiteLogins();
      const before = site.stats().logins;
      for (const w of pool) w.send({ type: 'run', round, count: RUNS });
      const done = await Promise.all(pool.map((w) => w.next('done')));
      loginsPerLapse.push(site.stats().logins - before);
      for (const d of done) {
        expect(d.round).toBe(round);
        failures.push(...d.errors);
        refreshes += d.refreshes;
      }
      expect(failures).toEqual([]);
      expect(done.reduce((sum, d) => sum + d.ok, 0)).toBe(PROCESSES * RUNS);
    }
    const seconds = (Date.now() - started) / 1000;
    console.info(
      `[multi-process] ${ROUNDS} lapses × ${PROCESSES} processes × ${RUNS} runs in ${seconds.toFixed(1)} s (starting the processes: ${spawnSeconds.toFixed(1)} s)`,
    );
    expect(failures).toEqual([]);
    expect(loginsPerLapse).toEqual(Array.from({ length: ROUNDS }, () => 1));
    expect(refreshes).toBe(ROUNDS);
    const record = await new SessionStore(ctx.store).read(ctx.session.id);
    expect(record).toMatchObject({ state: 'active', generation: 1 + ROUNDS });
    await Promise.all(pool.map((w) => w.stop()));
    await ctx.close();
  }, 400_000);

  it('a process killed with SIGKILL mid-refresh: the others proceed after the lease, the record is intact, one login', async () => {
    const LEASE = 2_000;
    const ctx = await setup('sigkill', { leaseMs: LEASE, waitMs: 20_000 });
    const before = new SessionStore(ctx.store);
    const generation = (await before.read(ctx.session.id))!.generation;
    const [victim, ...others] = await spawn(ctx.config, 4);
    if (!victim) throw new Error('no worker');

    await expireSiteLogins();
    const loginsBefore = site.stats().logins;
    victim.send({ type: 'block-logins' });
    victim.send({ type: 'run', round: 1, count: 5 });
    await victim.next('login-started'); // it holds the lock, inside its refresh
    expect(await redis.exists(ctx.lockKey)).toBe(1);

    for (const w of others) w.send({ type: 'run', round: 1, count: 50 });
    const othersDone = Promise.all(others.map((w) => w.next('done')));
    await sleep(LEASE); // longer than a lease: the victim keeps renewing while alive
    expect(site.stats().logins).toBe(loginsBefore);
    expect(await redis.exists(ctx.lockKey)).toBe(1);

    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    expect((await victim.exited).signal).toBe('SIGKILL');
    await vi.waitFor(() => expect(site.stats().logins).toBeGreaterThan(loginsBefore), {
      timeout: LEASE + 15_000,
      interval: 10,
    });
    const tookOver = Date.now() - killedAt;
    const done = await othersDone;

    expect(done.map((d) => d.ok)).toEqual([50, 50, 50]);
    expect(done.flatMap((d) => d.errors)).toEqual([]);
    expect(site.stats().logins - loginsBefore).toBe(1);
    // Another worker took over once what was left of the lease ran out (it is renewed every third of it,
    // so at least about two thirds remained at the kill), not much later.
    expect(tookOver).toBeGreaterThanOrEqual(LEASE / 4);
    expect(tookOver).toBeLessThan(LEASE + 5_000);
    const record = await before.read(ctx.session.id);
    expect(record).toMatchObject({ state: 'active', generation: generation + 1 });
    expect(await ctx.manager.run(ctx.session.id, () => 'fine', { forceCheck: true })).toBe('fine');
    expect(site.stats().logins - loginsBefore).toBe(1);
    await Promise.all(others.map((w) => w.stop()));
    await ctx.close();
  }, 120_000);
});
