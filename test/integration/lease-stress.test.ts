/**
 * Leases across processes: 8 worker processes × 50 leases over a pool of 5 sessions on Redis (fake browser),
 * checked by a shared HTTP site that sees every login and every request of every holder.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthSessionManager } from '../../src/index.js';
import { createRedisStore, RedisLock } from '../../src/redis/index.js';
import { FakeBrowserProvider } from '../../src/testing/index.js';
import type { LeaseParentMessage, LeaseWorkerConfig, LeaseWorkerMessage } from './fixtures/lease-worker.js';
import { poolAuth } from './fixtures/pool-auth.js';
import { ForkedWorker } from './forked-worker.js';
import { TEST_KEY } from './helpers.js';
import { REDIS_URL, serviceAvailable } from './services.js';

const redisUp = await serviceAvailable('redis');
const WORKER = fileURLToPath(new URL('./fixtures/lease-worker.ts', import.meta.url));
const PROCESSES = 8;
const LEASES = 50;
const SESSIONS = 5;
const TTL_MS = 3000;

/**
 * The pool site: users log in (counted), and a holder's conversation (`/work/begin`, `/work/page`…,
 * `/work/end`, each request naming its holder) must never interleave with another holder's on the same
 * account: a `begin` while another holder is between its `begin` and `end` is a violation.
 */
class PoolSite {
  readonly logins = new Map<string, number>();
  readonly violations: string[] = [];
  /** Every `begin`: which account, which holder, when. */
  readonly served: Array<{ user: string; holder: string; at: number }> = [];
  readonly #passwords = new Map<string, string>();
  readonly #sids = new Map<string, string>();
  readonly #active = new Map<string, string>();
  #server: Server | undefined;
  url = '';

  addUser(user: string, password: string): void {
    this.#passwords.set(user, password);
  }

  async start(): Promise<void> {
    this.#server = createServer((req, res) => void this.#handle(req, res));
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server!.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise((resolve) => this.#server?.close(resolve));
  }

  /** One step of a holder's conversation, as the site sees it (also used to prove the checker can fail). */
  step(user: string, holder: string, step: string): void {
    const current = this.#active.get(user);
    if (step === 'begin') {
      if (current !== undefined) this.violations.push(`${user}: ${holder} began while ${current} held it`);
      this.#active.set(user, holder);
      this.served.push({ user, holder, at: Date.now() });
    } else if (current !== holder) {
      this.violations.push(`${user}: ${step} of ${holder} while ${current ?? 'nobody'} held it`);
    } else if (step === 'end') {
      this.#active.delete(user);
    }
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const sid = /(?:^|;\s*)sid=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    const user = sid === undefined ? undefined : this.#sids.get(sid);
    if (url.pathname === '/login' && req.method === 'POST') {
      let body = '';
      for await (const chunk of req) body += chunk;
      const { username, password } = JSON.parse(body) as { username: string; password: string };
      if (this.#passwords.get(username) !== password) return void res.writeHead(401).end('{}');
      const fresh = randomBytes(12).toString('hex');
      this.#sids.set(fresh, username);
      this.logins.set(username, (this.logins.get(username) ?? 0) + 1);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sid: fresh }));
      return;
    }
    if (!user) return void res.writeHead(401).end();
    if (url.pathname === '/me') return void res.writeHead(200).end(user);
    const step = /^\/work\/(begin|page|end)$/.exec(url.pathname)?.[1];
    if (!step) return void res.writeHead(404).end();
    this.step(user, String(req.headers['x-holder']), step);
    // Each step takes a little while, so two holders of one account would overlap if they could.
    await sleep(8);
    res.writeHead(200).end();
  }
}

class Worker extends ForkedWorker<LeaseWorkerMessage, LeaseParentMessage> {
  constructor(config: LeaseWorkerConfig) {
    super(WORKER, config);
  }
}

describe.skipIf(!redisUp)('leases across processes', () => {
  const namespace = `auth-sessions-test-lease-${randomUUID()}`;
  const lockPrefix = `${namespace}:lock:`;
  const redis = createClient({ url: REDIS_URL });
  const site = new PoolSite();
  const workers: Worker[] = [];

  beforeAll(async () => {
    redis.on('error', () => {});
    await redis.connect();
    await site.start();
  });

  afterAll(async () => {
    await Promise.allSettled(workers.map((w) => w.stop()));
    await site.close();
    for await (const keys of redis.scanIterator({ MATCH: `${namespace}*` })) {
      if (keys.length) await redis.del(keys);
    }
    redis.destroy();
  });

  it('the site catches two holders of one account (the checker can fail)', () => {
    const probe = new PoolSite();
    probe.step('x', 'a', 'begin');
    probe.step('x', 'b', 'begin');
    probe.step('x', 'a', 'page');
    expect(probe.violations).toHaveLength(2);
  });

  it(`${PROCESSES} processes × ${LEASES} leases over ${SESSIONS} sessions: never two holders at once, every lease served, a SIGKILLed holder's session back after ttlMs`, async () => {
    const store = createRedisStore(REDIS_URL, { namespace });
    const lock = new RedisLock({ url: REDIS_URL, prefix: lockPrefix });
    const manager = new AuthSessionManager({
      auths: [poolAuth(site.url)],
      store,
      lock,
      key: TEST_KEY,
      browser: new FakeBrowserProvider(),
    });
    for (let i = 1; i <= SESSIONS; i++) {
      site.addUser(`u${i}`, `pw-${i}`);
      await manager.create('pool', { id: `p${i}`, credentials: { username: `u${i}`, password: `pw-${i}` } });
    }
    const config = (name: string): LeaseWorkerConfig => ({
      name,
      redisUrl: REDIS_URL,
      namespace,
      lockPrefix,
      siteUrl: site.url,
      key: TEST_KEY,
      leases: LEASES,
      ttlMs: TTL_MS,
      waitMs: 45_000,
    });
    const victim = new Worker(config('victim'));
    const pool = Array.from({ length: PROCESSES }, (_, i) => new Worker(config(`w${i + 1}`)));
    workers.push(victim, ...pool);
    await Promise.all([victim, ...pool].map((w) => w.next('ready')));

    victim.send({ type: 'hold' });
    const { sessionId: held } = await victim.next('holding');
    const heldUser = `u${held.slice(1)}`;
    const started = Date.now();
    for (const w of pool) w.send({ type: 'go' });
    await sleep(300);
    victim.child.kill('SIGKILL');
    const killedAt = Date.now();
    const done = await Promise.all(pool.map((w) => w.next('done', 120_000)));
    const seconds = (Date.now() - started) / 1000;

    const errors = done.flatMap((d) => d.errors);
    expect(errors).toEqual([]);
    expect(done.reduce((sum, d) => sum + d.ok, 0)).toBe(PROCESSES * LEASES);
    expect(site.violations).toEqual([]);
    expect(site.served).toHaveLength(PROCESSES * LEASES);
    // One login per session: nobody logged in again (the pool was never refreshed nor fought over).
    expect([...site.logins.values()]).toEqual(Array.from({ length: SESSIONS }, () => 1));
    // Every session was used, the one of the killed holder too, once its lease lapsed (its last renewal was
    // at most a third of the ttl before the kill).
    const perUser = new Map<string, number>();
    for (const s of site.served) perUser.set(s.user, (perUser.get(s.user) ?? 0) + 1);
    expect(perUser.size).toBe(SESSIONS);
    const firstAfterKill = site.served.find((s) => s.user === heldUser)!.at - killedAt;
    console.info(
      `[lease-stress] ${PROCESSES * LEASES} leases in ${seconds.toFixed(1)} s; per account ${JSON.stringify(Object.fromEntries(perUser))}; ` +
        `the killed holder's session was back after ${firstAfterKill} ms (ttlMs ${TTL_MS})`,
    );
    expect(firstAfterKill).toBeGreaterThanOrEqual((TTL_MS * 2) / 3 - 100);
    expect(firstAfterKill).toBeLessThanOrEqual(TTL_MS + 3000);
    const info = await manager.get(held);
    expect(info?.leasedUntil).toBeUndefined();

    await Promise.all(pool.map((w) => w.stop()));
    await manager.close();
    await lock.close();
    await store.disconnect();
  }, 150_000);
});
