import type {
  Browser,
  Fixtures,
  PlaywrightTestArgs,
  PlaywrightTestOptions,
  PlaywrightWorkerArgs,
  PlaywrightWorkerOptions,
} from '@playwright/test';
import { durationOption } from '../duration.js';
import { AuthSessionError } from '../errors.js';
import type { AuthSessionManager } from '../manager.js';
import type { AuthSessionLease, LeaseOptions } from '../operations/lease.js';
import type { AuthSessionInfo } from '../session/info.js';

/**
 * Options of {@link authSessionFixtures}.
 *
 * @example
 * ```ts
 * const options: AuthSessionFixturesOptions = {
 *   manager: () => new AuthSessionManager({ auths: [crm] }),
 *   auth: 'crm',
 *   labels: { env: 'staging' },
 *   lease: { ttlMs: 60_000, waitMs: 120_000 },
 * };
 * ```
 */
export interface AuthSessionFixturesOptions {
  /**
   * The manager, or a function that makes one. A function is called once per worker process, on the first
   * test that needs it, with the worker's Playwright `browser`, and its manager is closed when the worker
   * ends; a manager given as is stays open. Pass that browser to the manager's provider
   * (`new ChromiumProvider({ browser })`) and the checks and logins run in the browser the tests use,
   * instead of a second Chromium per worker. Every worker must reach the same sessions: the same store (the
   * default SQLite file in the same `dataDir`, or Redis, PostgreSQL) and the same key.
   */
  readonly manager: AuthSessionManager | AuthSessionManagerFactory;
  /** The auth whose sessions the workers lease (one per worker). */
  readonly auth: string;
  /** Only sessions carrying all of these labels. */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Each worker's lease: `ttlMs` (how long a killed worker keeps its account from the others) and `waitMs`
   * (how long a worker waits for a free account when there are fewer accounts than workers).
   * @default { ttlMs: 60000, waitMs: 60000 }
   */
  readonly lease?: Omit<LeaseOptions, 'signal'>;
  /**
   * Milliseconds the `authSession` fixture may take before each test to check the session and, when the login
   * lapsed, log in again; and as long again after a failed test to tell whether it ran logged out. This time
   * is Playwright's fixture timeout: it does not count toward the test's own `timeout`, so a slow login does
   * not fail the test that happens to come first after a lapse. The auth's own `checkTimeout` and
   * `createTimeout` still bound each hook.
   * @default 180000
   */
  readonly renewTimeout?: number;
}

/**
 * Makes a worker's manager, given the worker's Playwright `browser`.
 *
 * @example
 * ```ts
 * const manager: AuthSessionManagerFactory = ({ browser }) =>
 *   new AuthSessionManager({ auths: [crm], browser: new ChromiumProvider({ browser }) });
 * ```
 */
export type AuthSessionManagerFactory = (worker: {
  /** Playwright Test's worker-scoped `browser` fixture. */
  readonly browser: Browser;
}) => AuthSessionManager | Promise<AuthSessionManager>;

/** Test-scoped fixtures of {@link authSessionFixtures}. */
export interface AuthSessionTestFixtures {
  /**
   * The worker's session, validated (and refreshed if it had lapsed) before this test, within `renewTimeout`.
   * Never secrets.
   */
  readonly authSession: AuthSessionInfo;
}

/** Worker-scoped fixtures of {@link authSessionFixtures}. */
export interface AuthSessionWorkerFixtures {
  /** The worker's lease: one account nobody else holds, for the whole life of the worker. */
  readonly authSessionLease: AuthSessionLease;
}

/** The fixtures {@link authSessionFixtures} returns, typed for `test.extend`. */
export type AuthSessionFixtures = Fixtures<
  AuthSessionTestFixtures,
  AuthSessionWorkerFixtures,
  PlaywrightTestArgs & PlaywrightTestOptions,
  PlaywrightWorkerArgs & PlaywrightWorkerOptions
>;

type StorageStateOption = PlaywrightTestOptions['storageState'];

/**
 * Fixtures for Playwright Test's `test.extend`: each worker leases its own session of `auth` (one account per
 * worker, across worker processes), and every test starts from that session's fresh, validated browser
 * state (`storageState`, so `page` and `context` are logged in). A login that lapsed is refreshed once, by the
 * worker holding the account, before the next test, instead of every worker logging in. A test that fails
 * and finds its session logged out afterwards gets an error naming the session.
 *
 * @example
 * ```ts
 * import { test as base, expect } from '@playwright/test';
 * import { AuthSessionManager } from 'auth-sessions';
 * import { type AuthSessionTestFixtures, type AuthSessionWorkerFixtures, authSessionFixtures } from 'auth-sessions/playwright';
 *
 * // The type arguments name the fixtures for TypeScript (it cannot infer them through Playwright's types).
 * export const test = base.extend<AuthSessionTestFixtures, AuthSessionWorkerFixtures>(
 *   authSessionFixtures({ manager: () => new AuthSessionManager({ auths: [crm] }), auth: 'crm' }),
 * );
 *
 * test('shows the dashboard', async ({ page, authSession }) => {
 *   await page.goto('https://crm.example/dashboard');
 *   await expect(page.getByText(authSession.labels.user ?? '')).toBeVisible();
 * });
 * ```
 */
export function authSessionFixtures(options: AuthSessionFixturesOptions): AuthSessionFixtures {
  if (typeof options !== 'object' || options === null) {
    throw new AuthSessionError('INVALID_OPTIONS', 'authSessionFixtures(options): options must be an object');
  }
  const { auth, labels, lease: leaseOptions = {} } = options;
  if (typeof auth !== 'string' || auth === '') {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      'authSessionFixtures(options): "auth" must be an auth name',
    );
  }
  if (typeof options.manager !== 'function' && typeof options.manager?.lease !== 'function') {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      'authSessionFixtures(options): "manager" must be an AuthSessionManager or a function returning one',
    );
  }
  const renewTimeout =
    durationOption(options.renewTimeout, 'authSessionFixtures(options): "renewTimeout"') ??
    DEFAULT_RENEW_TIMEOUT;
  const owned = isFactory(options.manager);
  let made: Promise<AuthSessionManager> | undefined;
  /** The worker's manager: made by the lease fixture (the first to ask, with the browser), then shared. */
  const manager = (browser?: Browser): Promise<AuthSessionManager> => {
    const given = options.manager;
    made ??= isFactory(given)
      ? Promise.resolve().then(() => given({ browser: browser as Browser }))
      : Promise.resolve(given);
    return made;
  };
  const nameOf = (id: string) => {
    const parts = Object.entries(labels ?? {}).map(([k, v]) => `${k}=${v}`);
    return `auth session "${id}" (auth "${auth}"${parts.length ? `, labels ${parts.join(', ')}` : ''})`;
  };

  const holdLease = async (m: AuthSessionManager, use: (lease: AuthSessionLease) => Promise<void>) => {
    let lease: AuthSessionLease;
    try {
      lease = await m.lease({ auth, ...(labels === undefined ? {} : { labels }) }, { ...leaseOptions });
    } catch (err) {
      // No account for this worker (LEASE_TIMEOUT…): the worker fails, and the manager it made goes with it.
      if (owned) await m.close();
      throw err;
    }
    try {
      await use(lease);
    } finally {
      await lease.release();
      if (owned) await m.close();
    }
  };

  return {
    authSessionLease: [
      owned
        ? async ({ browser }, use) => holdLease(await manager(browser), use)
        : // biome-ignore lint/correctness/noEmptyPattern: Playwright reads the fixtures a fixture uses from this pattern.
          async ({}, use) => holdLease(await manager(), use),
      { scope: 'worker', timeout: (leaseOptions.waitMs ?? 60_000) + 60_000 },
    ],

    authSession: [
      async ({ authSessionLease }, use, testInfo) => {
        const m = await manager();
        const id = authSessionLease.session.id;
        // The check (and the refresh when the login lapsed) runs here, by the one worker holding the account,
        // under this fixture's own timeout: a login does not eat the test's time.
        try {
          await authSessionLease.run(() => undefined);
        } catch (err) {
          throw new Error(
            `${nameOf(id)} is not logged in and could not be renewed (${codeOf(err)}): ${messageOf(err)}`,
            { cause: err },
          );
        }
        const info = await m.get(id);
        if (!info) throw new Error(`${nameOf(id)} was deleted while leased`);
        await use(info);
        if (testInfo.status === testInfo.expectedStatus) return;
        await explainFailure(m, authSessionLease, nameOf(id));
      },
      { timeout: renewTimeout },
    ],

    storageState: async ({ authSessionLease, authSession }, use) => {
      void authSession; // validated first
      const m = await manager();
      const state = await m.exportState(authSessionLease.session.id);
      await use({ cookies: state.cookies, origins: state.origins } as StorageStateOption);
    },
  };
}

/** Default of `renewTimeout`: 3 minutes. */
const DEFAULT_RENEW_TIMEOUT = 180_000;

/**
 * After a failed test: throws an error saying so when the test ran logged out (the site ended the login
 * meanwhile), after logging the session in again for the next tests. Says nothing when the login held.
 */
async function explainFailure(m: AuthSessionManager, lease: AuthSessionLease, name: string): Promise<void> {
  const id = lease.session.id;
  let refreshed = false;
  const onRefreshed = (e: { session: AuthSessionInfo }) => {
    if (e.session.id === id) refreshed = true;
  };
  m.on('refreshed', onRefreshed);
  let renewError: unknown;
  try {
    await lease.run(() => undefined, { forceCheck: true });
  } catch (err) {
    renewError = err;
  } finally {
    m.off('refreshed', onRefreshed);
  }
  if (renewError !== undefined) {
    throw new Error(
      `This test ran logged out: ${name} is no longer logged in and could not be renewed ` +
        `(${codeOf(renewError)}): ${messageOf(renewError)}`,
      { cause: renewError },
    );
  }
  if (refreshed) {
    throw new Error(
      `This test ran logged out: ${name} was no longer logged in when the test ended (the site ` +
        'ended its login during the test); it has been logged in again for the next tests',
    );
  }
}

function isFactory(value: AuthSessionFixturesOptions['manager']): value is AuthSessionManagerFactory {
  return typeof value === 'function';
}

function codeOf(err: unknown): string {
  return err instanceof AuthSessionError ? err.code : 'ERROR';
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
