/**
 * `authSessionFixtures` driven the way Playwright Test drives fixtures (a value handed to `use`, teardown
 * after it), on the fake browser: the real run through `npx playwright test` is test/e2e/playwright-fixtures.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { AuthSessionInfo, AuthSessionLease } from '../../src/index.js';
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

type State = { cookies: Array<{ name: string; value: string }> };

/** One test as Playwright sets it up: `authSession` (validation), then `storageState` from it, then `body`. */
function oneTest(
  fixtures: ReturnType<typeof authSessionFixtures>,
  lease: AuthSessionLease,
  body: (state: State, info: AuthSessionInfo) => Promise<void> | void,
  info: object = passed,
): Promise<void> {
  return runFixture<AuthSessionInfo>(
    fixtures.authSession,
    { authSessionLease: lease },
    (session) =>
      runFixture<State>(fixtures.storageState, { authSessionLease: lease, authSession: session }, (state) =>
        body(state, session),
      ),
    info,
  );
}

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
      const states: State[] = [];
      const sessions: AuthSessionInfo[] = [];
      const record = (state: State, info: AuthSessionInfo) => {
        states.push(state);
        sessions.push(info);
      };
      await oneTest(fixtures, lease, record);
      expect(h.site.counters.logins).toBe(1);
      h.site.expireSessions();
      await oneTest(fixtures, lease, record);
      await oneTest(fixtures, lease, record);
      expect(h.site.counters.logins).toBe(2); // one refresh, by the holder
      expect(states).toHaveLength(3);
      expect(states[0]!.cookies.length).toBeGreaterThan(0);
      expect(states[1]!.cookies).not.toEqual(states[0]!.cookies);
      expect(sessions[2]).toMatchObject({ id: 's1', state: 'active' });
    });
  });

  it('the check and a login again run under their own fixture timeout, not the test’s', async () => {
    await pool(1);
    const defaults = authSessionFixtures({ manager: h.manager, auth: 'site' });
    expect(defaults.authSession).toMatchObject([expect.any(Function), { timeout: 180_000 }]);
    const custom = authSessionFixtures({ manager: h.manager, auth: 'site', renewTimeout: 600_000 });
    expect(custom.authSession).toMatchObject([expect.any(Function), { timeout: 600_000 }]);
    await runFixture<AuthSessionLease>(defaults.authSessionLease, {}, async (lease) => {
      h.site.expireSessions();
      // The refresh happens in authSession's setup: done before storageState (the test's time) starts.
      await runFixture<AuthSessionInfo>(
        defaults.authSession,
        { authSessionLease: lease },
        async (session) => {
          expect(h.site.counters.logins).toBe(2);
          // storageState only reads what authSession validated: no check or login of its own in the test's time
          // (with the login lapsed again, one would log in once more).
          h.site.expireSessions();
          await runFixture<State>(
            defaults.storageState,
            { authSessionLease: lease, authSession: session },
            (state) => void expect(state.cookies.length).toBeGreaterThan(0),
          );
          expect(h.site.counters.logins).toBe(2);
        },
      );
    });
  });

  it('a failed test that ran logged out gets an error naming the session', async () => {
    await pool(1);
    const fixtures = authSessionFixtures({ manager: h.manager, auth: 'site', labels: { pool: 'e2e' } });
    await runFixture<AuthSessionLease>(fixtures.authSessionLease, {}, async (lease) => {
      // The site ends the login during the test.
      const ranLoggedOut = oneTest(fixtures, lease, () => h.site.logoutAll(), failed);
      await expect(ranLoggedOut).rejects.toThrow(
        /This test ran logged out: auth session "s1" \(auth "site", labels pool=e2e\)/,
      );
      // A failure that had nothing to do with the login says nothing more.
      await oneTest(fixtures, lease, () => {}, failed);
      expect(h.site.counters.logins).toBe(2);
    });
  });

  it('a manager made by a function gets the worker’s browser, is made once per worker and closed with it', async () => {
    await pool(1);
    const workerBrowser = { name: 'the worker’s Playwright browser' };
    const given: unknown[] = [];
    const fixtures = authSessionFixtures({
      manager: ({ browser }) => {
        given.push(browser);
        return h.manager;
      },
      auth: 'site',
    });
    // Playwright reads a fixture's dependencies from its parameter pattern: the factory's lease asks for `browser`.
    expect(String((fixtures.authSessionLease as unknown[])[0])).toMatch(/\(\{ browser \}/);
    await runFixture<AuthSessionLease>(
      fixtures.authSessionLease,
      { browser: workerBrowser },
      async (lease) => {
        await oneTest(fixtures, lease, () => {});
        await oneTest(fixtures, lease, () => {});
      },
    );
    expect(given).toEqual([workerBrowser]);
    await expectCode(h.manager.get('s1'), 'CLOSED');
  });

  it('a worker that finds no free account fails with LEASE_TIMEOUT and closes the manager it made', async () => {
    await pool(1);
    const taken = await h.manager.lease({ auth: 'site' });
    const fixtures = authSessionFixtures({ manager: () => h.manager, auth: 'site', lease: { waitMs: 0 } });
    await expectCode(
      runFixture(fixtures.authSessionLease, { browser: {} }, () => {}),
      'LEASE_TIMEOUT',
    );
    await expectCode(h.manager.get('s1'), 'CLOSED');
    await taken.release();
  });

  it('a manager given as it is does not ask Playwright for a browser, and stays open', async () => {
    await pool(1);
    const fixtures = authSessionFixtures({ manager: h.manager, auth: 'site' });
    expect(String((fixtures.authSessionLease as unknown[])[0])).not.toMatch(/browser/);
    await runFixture<AuthSessionLease>(fixtures.authSessionLease, {}, (lease) =>
      oneTest(fixtures, lease, () => {}),
    );
    await expect(h.manager.get('s1')).resolves.toMatchObject({ id: 's1' });
  });

  it('refuses bad options', () => {
    expect(() => authSessionFixtures({ manager: {} as never, auth: 'site' })).toThrow(/"manager"/);
    expect(() => authSessionFixtures({ manager: () => h.manager, auth: '' })).toThrow(/"auth"/);
    expect(() => authSessionFixtures({ manager: () => h.manager, auth: 'site', renewTimeout: 0 })).toThrow(
      /"renewTimeout" must be a number of milliseconds/,
    );
  });
});
