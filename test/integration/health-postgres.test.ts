/**
 * Health checks of two managers sharing a PostgreSQL store and the PostgreSQL advisory lock: each session is
 * validated once per round (the claim of a round works with this lock too), counted in the check hook.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { AuthSessionManager } from '../../src/index.js';
import { createPostgresStore, PostgresAdvisoryLock } from '../../src/postgres/index.js';
import { createPool } from '../../src/postgres/pg.js';
import { FakeBrowserProvider, FakeSite } from '../../src/testing/index.js';
import { siteAuth, TEST_KEY } from '../unit/helpers.js';
import { POSTGRES_URL, serviceAvailable } from './services.js';

const postgresUp = await serviceAvailable('postgres');
const EVERY = 1_500;

describe.skipIf(!postgresUp)('health checks across managers (PostgreSQL)', () => {
  const schema = `auth_sessions_health_${randomBytes(6).toString('hex')}`;
  afterAll(async () => {
    const admin = createPool(POSTGRES_URL, { max: 1, connectTimeoutMs: 5000 });
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });

  it('two managers: each session validated once per round', async () => {
    const site = new FakeSite({ rollingCookie: false });
    site.addUser('alice', 'pw-alice-1');
    const seen = new Map<string, number>();
    let checks = 0;
    const base = siteAuth(site);
    const auth = siteAuth(site, {
      async check(ctx) {
        checks++;
        const key = `${Math.floor(Date.now() / EVERY)}:${ctx.session.id}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
        return base.check(ctx);
      },
    });
    const owned: Array<{ close?: () => Promise<unknown>; disconnect?: () => Promise<unknown> }> = [];
    const make = () => {
      const store = createPostgresStore(POSTGRES_URL, { schema, table: 'sessions' });
      const lock = new PostgresAdvisoryLock({ url: POSTGRES_URL, namespace: schema });
      owned.push(lock, store);
      return new AuthSessionManager({
        auths: [auth],
        store,
        lock,
        key: TEST_KEY,
        browser: new FakeBrowserProvider({ site }),
      });
    };
    const one = make();
    const two = make();
    try {
      for (let i = 0; i < 3; i++)
        await one.create('site', { credentials: { username: 'alice', password: 'pw-alice-1' }, id: `p${i}` });
      seen.clear();
      checks = 0;
      const rounds: number[] = [];
      two.on('health:round', (r) => rounds.push(r.checked));
      one.on('health:round', (r) => rounds.push(r.checked));
      const h1 = one.startHealthChecks({ every: EVERY, refreshAhead: 0, concurrency: 2 });
      const h2 = two.startHealthChecks({ every: EVERY, refreshAhead: 0, concurrency: 2 });
      await sleep(EVERY * 7);
      await Promise.all([h1.stop(), h2.stop()]);
      expect([...seen.entries()].filter(([, n]) => n > 1)).toEqual([]);
      // 7 rounds, 3 sessions; the first round skips the sessions just created, the last may be cut short.
      expect(checks).toBeGreaterThanOrEqual(3 * 4);
      expect(rounds.reduce((a, b) => a + b, 0)).toBe(checks);
    } finally {
      await one.close();
      await two.close();
      for (const x of owned) await (x.close ? x.close() : x.disconnect?.())?.catch(() => {});
    }
  }, 60_000);
});
