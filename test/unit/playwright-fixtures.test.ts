/**
 * `authSessionFixtures` driven the way Playwright Test drives fixtures (a value handed to `use`, teardown
 * after it), on the fake browser: the real run through `npx playwright test` is test/e2e/playwright-fixtures.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { AuthSessionLease } from '../../src/index.js';
import { authSessionFixtures } from '../../src/playwright/index.js';
import { expectCode } from '../shared.js';
import { type Harness, harness } from './helpers.js';

let h: Harness;

afterEach(async () => {
  await h?.manager.close();
  await h?.browser.close();
});

type AnyFixture = (args: never, use: (value: never) => Promise<void>, info: never) => Promise<void>;

/** Runs one fixture: `body` gets the value while it is in use; resolves after the teardown. */
async function runFixture<T>(
  fixture: unknown,
  args: object,
  body: (value: T) => Promise<void> | void,
  info: object = {},
): Promise<void> {
  const fn = (Array.isArray(fixture) ? fixture[0] : fixture) as AnyFixture;
  await fn(args as never, (async (value: T) => body(value)) as never, info as never);
}

async function pool(n: number): Promise<void> {
  h = harness();
  for (let i = 1; i <= n; i++) {
    h.site.addUser(`user${i}`, `pw-${i}`);
    await h.manager.create('site', {
      id: `s${i}`,
      credentials: { username: `user${i}`, password: `pw-${i}` },
      labels: { pool: 'e2e' },
    });
  }
}

const passed = { status: 'passed', expectedStatus: 'passed' };
const failed = { status: 'failed', expectedStatus: 'passed' };

describe('authSessionFixtures', () => {
  it('each worker leases its own account for its life, released when the worker ends', async () => {
    await pool(2);
    const fixtures = authSessionFixtures({ manager: h.manager, auth: 'site', labels: { pool: 'e2e' } });
    expect(fixtures.authSessionLease).toMatchObject([expect.any(Function), { scope: 'worker' }]);
    const held: string[] = [];
    await runFixture<AuthSessionLease>(fixtures.authSessionLease, {}, async (first) => {
      await runFixture<AuthSessionLease>(fixtures.authSessionLease, {}, async (second) => {
        held.push(first.session.id, second.session.id);
        // A third worker finds no free account.
        await expectCode(h.manager.lease({ auth: 'site' }, { waitMs: 0 }), 'LEASE_TIMEOUT');
      });
    });
    expect(new Set(held)).toEqual(new Set(['s1', 's2']));
    // Both released: both can be leased again.
    const again = await Promise.all([h.manager.lease({}, { waitMs: 0 }), h.manager.lease({}, { waitMs: 0 })]);
    await Promise.all(again.map((l) => l.release()));
  });

  it('every test starts from the validated state; a lapse is refreshed once, before the next test', async () => {
    await pool(1);
    const fixtures = authSessionFixtures({ manager: h.manager, auth: 'site' });
    await runFixture<AuthSessionLease>(fixtures.authSessionLease, {}, async (lease) => {
      const states: Array<{ cookies: Array<{ name: string; value: string }> }> = [];
      const oneTest = () =>
        runFixture<{ cookies: Array<{ name: string; value: string }> }>(
          fixtures.storageState,
          { authSessionLease: lease },
          (state) => void states.push(state),
          passed,
        );
      await oneTest();
      expect(h.site.counters.logins).toBe(1);
      h.site.expireSessions();
      await oneTest();
      await oneTest();
      expect(h.site.counters.logins).toBe(2); // one refresh, by the holder
      expect(states).toHaveLength(3);
      expect(states[0]!.cookies.length).toBeGreaterThan(0);
      expect(states[1]!.cookies).not.toEqual(states[0]!.cookies);
      await runFixture(fixtures.authSession, { authSessionLease: lease, storageState: states[2] }, (info) => {
        expect(info).toMatchObject({ id: 's1', state: 'active' });
      });
    });
  });

  it('a failed test that ran logged out gets an error naming the session', async () => {
    await pool(1);
    const fixtures = authSessionFixtures({ manager: h.manager, auth: 'site', labels: { pool: 'e2e' } });
    await runFixture<AuthSessionLease>(fixtures.authSessionLease, {}, async (lease) => {
      const ranLoggedOut = runFixture(
        fixtures.storageState,
        { authSessionLease: lease },
        () => h.site.logoutAll(), // the site ends the login during the test
        failed,
      );
      await expect(ranLoggedOut).rejects.toThrow(
        /This test ran logged out: auth session "s1" \(auth "site", labels pool=e2e\)/,
      );
      // A failure that had nothing to do with the login says nothing more.
      await runFixture(fixtures.storageState, { authSessionLease: lease }, () => {}, failed);
      expect(h.site.counters.logins).toBe(2);
    });
  });

  it('a manager made by a function is made once per worker and closed with it', async () => {
    await pool(1);
    let made = 0;
    const fixtures = authSessionFixtures({
      manager: () => {
        made++;
        return h.manager;
      },
      auth: 'site',
    });
    await runFixture<AuthSessionLease>(fixtures.authSessionLease, {}, async (lease) => {
      await runFixture(fixtures.storageState, { authSessionLease: lease }, () => {}, passed);
    });
    expect(made).toBe(1);
    await expectCode(h.manager.get('s1'), 'CLOSED');
  });

  it('refuses bad options', () => {
    expect(() => authSessionFixtures({ manager: {} as never, auth: 'site' })).toThrow(/"manager"/);
    expect(() => authSessionFixtures({ manager: () => h.manager, auth: '' })).toThrow(/"auth"/);
  });
});
