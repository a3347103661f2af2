/**
 * Four worker processes sharing one Redis store and RedisLock run health checks on the same sessions, in real
 * time, against a local token site that counts every login and check: each session is validated by one
 * process per round, and logged in once per lapse (ahead of it), never meeting a lapsed token.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import { afterAll, describe, expect, it } from 'vitest';
import { AuthSessionManager } from '../../src/index.js';
import { createRedisStore, RedisLock } from '../../src/redis/index.js';
import { FakeBrowserProvider } from '../../src/testing/index.js';
import { startTokenSite, tokenAuth } from './fixtures/health-site.js';
import type {
  HealthParentMessage,
  HealthWorkerConfig,
  HealthWorkerMessage,
} from './fixtures/health-worker.js';
import { ForkedWorker } from './forked-worker.js';
import { TEST_KEY } from './helpers.js';
import { REDIS_URL, serviceAvailable } from './services.js';

const redisUp = await serviceAvailable('redis');
const WORKER = fileURLToPath(new URL('./fixtures/health-worker.ts', import.meta.url));

const EVERY = 2_000;
const REFRESH_AHEAD = 3_000;
const LIFETIME = 7_000;
const SESSIONS = 5;
const PROCESSES = 4;
const DURATION = 24_000;

class Worker extends ForkedWorker<HealthWorkerMessage, HealthParentMessage> {
  constructor(config: HealthWorkerConfig) {
    super(WORKER, config);
  }
}

describe.skipIf(!redisUp)('health checks across processes (Redis)', () => {
  const run = randomUUID();
  const workers: Worker[] = [];
  afterAll(async () => {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    const redis = createClient({ url: REDIS_URL });
    redis.on('error', () => {});
    await redis.connect();
    for await (const keys of redis.scanIterator({ MATCH: `auth-sessions-health-${run}*` })) {
      if (keys.length) await redis.del(keys);
    }
    redis.destroy();
  });

  it('4 processes: each session validated once per round, one login per lapse, no lapse met', async () => {
    const site = await startTokenSite(LIFETIME);
    const namespace = `auth-sessions-health-${run}`;
    const lockPrefix = `${namespace}:lock:`;
    const store = createRedisStore(REDIS_URL, { namespace });
    const lock = new RedisLock({ url: REDIS_URL, prefix: lockPrefix });
    const manager = new AuthSessionManager({
      auths: [tokenAuth(site.url)],
      store,
      lock,
      key: TEST_KEY,
      browser: new FakeBrowserProvider(),
    });
    const config: HealthWorkerConfig = {
      redisUrl: REDIS_URL,
      namespace,
      lockPrefix,
      siteUrl: site.url,
      key: TEST_KEY,
    };
    const pool = Array.from({ length: PROCESSES }, () => new Worker(config));
    workers.push(...pool);
    await Promise.all(pool.map((w) => w.next('ready')));
    // Created once the workers are up (starting them takes seconds): the first lapses come after the start.
    const ids: string[] = [];
    for (let i = 0; i < SESSIONS; i++) {
      ids.push((await manager.create('token-site', { credentials: { username: `u${i}` } })).id);
    }
    const started = Date.now();
    for (const w of pool) w.send({ type: 'start', every: EVERY, refreshAhead: REFRESH_AHEAD });
    await sleep(DURATION);
    for (const w of pool) w.send({ type: 'stop' });
    const reports = await Promise.all(pool.map((w) => w.next('stopped')));
    const ended = Date.now();
    await manager.close();
    await lock.close();
    await store.disconnect();
    await site.close();

    // What the site saw between the start and the end of the health checks.
    const checks = site.checks.filter((c) => c.at >= started && c.at <= ended);
    const logins = site.logins.filter((l) => l.at >= started && l.at <= ended);
    // Never a lapsed token: no check failed.
    expect(checks.filter((c) => !c.ok).map((c) => ({ ...c, at: c.at - started }))).toEqual([]);
    // Each session at most once per round: a health validation or a login ahead (which replaces it).
    const perRound = new Map<string, number>();
    for (const c of checks.filter((c) => c.after === 'health')) {
      const key = `${Math.floor(c.at / EVERY)}:${c.session}`;
      perRound.set(key, (perRound.get(key) ?? 0) + 1);
    }
    for (const l of logins) {
      const key = `${Math.floor(l.at / EVERY)}:${l.session}`;
      perRound.set(key, (perRound.get(key) ?? 0) + 1);
    }
    expect([...perRound.entries()].filter(([, n]) => n > 1)).toEqual([]);
    const rounds = Math.floor(DURATION / EVERY);
    // Every session looked at in (almost) every round: the first round skips sessions just checked.
    expect(perRound.size).toBeGreaterThanOrEqual(SESSIONS * (rounds - 3));
    // One login per lapse and session: logins of a session at least `LIFETIME - REFRESH_AHEAD` apart, and as
    // many as the lifetimes that ended (the create's login included in the first).
    for (const id of ids) {
      const times = logins.filter((l) => l.session === id).map((l) => l.at);
      for (let i = 1; i < times.length; i++) {
        expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(LIFETIME - REFRESH_AHEAD - 1_000);
      }
      expect(times.length).toBeGreaterThanOrEqual(Math.floor(DURATION / LIFETIME));
      expect(times.length).toBeLessThanOrEqual(Math.ceil(DURATION / (LIFETIME - REFRESH_AHEAD - 1_000)));
    }
    // Every process took part in the rounds; no warnings (no failed claim, refresh or check).
    for (const r of reports) {
      expect(r.rounds.length).toBeGreaterThanOrEqual(rounds - 2);
      expect(r.warnings).toEqual([]);
    }
    const validated = reports.flatMap((r) => r.rounds).reduce((n, r) => n + r.checked, 0);
    expect(validated).toBe(checks.filter((c) => c.after === 'health').length);
    console.info(
      `[health multi-process] ${PROCESSES} processes, ${SESSIONS} sessions, ${rounds} rounds: ${validated} validations, ${logins.length} logins`,
    );
  }, 120_000);
});
