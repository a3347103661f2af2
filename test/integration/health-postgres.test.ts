/**
 * Health checks of two managers sharing a PostgreSQL store and the PostgreSQL advisory lock: each session is
 * validated once per round (the claim of a round works with this lock too), counted in the check hook. Time
 * is a FakeClock both managers share: the test moves it a round at a time, then waits for the real I/O.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { AuthSessionManager } from '../../src/index.js';
import { createPostgresStore, PostgresAdvisoryLock } from '../../src/postgres/index.js';
import { createPool } from '../../src/postgres/pg.js';
import { FakeBrowserProvider, FakeClock, FakeSite } from '../../src/testing/index.js';
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
    const clock = new FakeClock();
    const site = new FakeSite({ rollingCookie: false, clock });
    site.addUser('alice', 'pw-alice-1');
    const checksOf = new Map<string, number>();
    let checks = 0;
    const base = siteAuth(site);
    const auth = siteAuth(site, {
      async check(ctx) {
        checks++;
        checksOf.set(ctx.session.id, (checksOf.get(ctx.session.id) ?? 0) + 1);
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
        clock,
        browser: new FakeBrowserProvider({ site }),
      });
    };
    const one = make();
    const two = make();
    try {
      for (let i = 0; i < 3; i++)
        await one.create('site', { credentials: { username: 'alice', password: 'pw-alice-1' }, id: `p${i}` });
      checksOf.clear();
      checks = 0;
      const rounds: Array<Array<{ checked: number; skipped: number }>> = [[], []];
      // Per manager and per round, the sessions it validated: the checks it reported before that round's end.
      const validated: Array<Array<string[]>> = [[[]], [[]]];
      [one, two].forEach((manager, m) => {
        manager.on('checked', (e) => validated[m]!.at(-1)!.push(e.session.id));
        manager.on('health:round', (r) => {
          rounds[m]!.push(r);
          validated[m]!.push([]);
        });
      });
      const h1 = one.startHealthChecks({ every: EVERY, refreshAhead: 0, concurrency: 2 });
      const h2 = two.startHealthChecks({ every: EVERY, refreshAhead: 0, concurrency: 2 });
      const ROUNDS = 7;
      for (let k = 1; k <= ROUNDS; k++) {
        // Every check of the round comes due on the way; then its claims and checks go through PostgreSQL.
        await clock.advanceAsync(EVERY);
        await vi.waitFor(
          () => {
            expect(rounds[0]!.length).toBeGreaterThanOrEqual(k);
            expect(rounds[1]!.length).toBeGreaterThanOrEqual(k);
          },
          { timeout: 20_000, interval: 10 },
        );
      }
      await Promise.all([h1.stop(), h2.stop()]);
      // Round by round, no session was validated twice: neither by one manager nor by both.
      for (let k = 0; k < ROUNDS; k++) {
        const both = [...validated[0]![k]!, ...validated[1]![k]!];
        expect(new Set(both).size).toBe(both.length);
      }
      // Validated all along (the first round skips the sessions just created; and a check that lands on
      // the next round's first instant of fake time counts for it, so that round skips the session).
      expect(checks).toBeGreaterThanOrEqual(3 * 4);
      for (const n of checksOf.values()) expect(n).toBeGreaterThanOrEqual(3);
      const counted = [...rounds[0]!, ...rounds[1]!].reduce((sum, r) => sum + r.checked, 0);
      expect(counted).toBe(checks);
    } finally {
      await one.close();
      await two.close();
      for (const x of owned) await (x.close ? x.close() : x.disconnect?.())?.catch(() => {});
    }
  }, 60_000);
});
