import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import {
  type AuthSessionEventName,
  type AuthSessionEvents,
  AuthSessionManager,
  type AuthSessionManagerOptions,
  type CheckContext,
  type CredentialsAuthDefinition,
  createMemoryStore,
  defineAuth,
} from '../../src/index.js';
import { FakeBrowserProvider, FakeClock, FakeSite } from '../../src/testing/index.js';

export const TEST_KEY = randomBytes(32).toString('base64');

export const credentialsSchema = z.object({ username: z.string().min(1), password: z.string().min(1) });

/** An auth that logs in to a FakeSite through its login form, as a user would write it for Playwright. */
export type SiteAuthExtra = Partial<Omit<CredentialsAuthDefinition<typeof credentialsSchema>, 'check'>> & {
  check?: (ctx: CheckContext) => unknown;
};

export function siteAuth(site: FakeSite, extra: SiteAuthExtra = {}) {
  return defineAuth({
    name: 'site',
    type: 'credentials',
    credentials: credentialsSchema,
    retryDelay: 0,
    async create({ page, credentials }) {
      await page.goto(`${site.origin}/login`);
      await page.fill('#username', credentials.username);
      await page.fill('#password', credentials.password);
      await page.click('#login');
      await page.waitForURL(/\/account$/, { timeout: 1000 });
    },
    async check({ page }) {
      await page.goto(`${site.origin}/account`);
      return (await page.textContent('#user')) !== null;
    },
    ...(extra as Partial<CredentialsAuthDefinition<typeof credentialsSchema>>),
  });
}

/** Where a test manager logs in: a fake site, the fake browser that serves it, and the clock of both. */
export type SiteSetup = Pick<Harness, 'site' | 'browser' | 'clock'>;

/**
 * A manager over a fake site (a harness's, or another process's view of it): the site's auth, the test
 * key, the fake browser and the clock, over a fresh memory store; `options` replace any of them (pass the
 * `store` of another manager to share its sessions).
 */
export function managerOver(
  setup: SiteSetup,
  options: Partial<AuthSessionManagerOptions> = {},
): AuthSessionManager {
  return new AuthSessionManager({
    auths: [siteAuth(setup.site)],
    store: options.store ?? createMemoryStore(),
    key: TEST_KEY,
    browser: setup.browser,
    clock: setup.clock,
    ...options,
  });
}

export interface Harness {
  site: FakeSite;
  clock: FakeClock;
  browser: FakeBrowserProvider;
  manager: AuthSessionManager;
  events: Array<{ name: AuthSessionEventName; payload: unknown }>;
  count(name: AuthSessionEventName): number;
}

/** A manager over a memory store, the fake browser and a fake clock, recording every event. */
export function harness(
  options: Partial<AuthSessionManagerOptions> & { auth?: SiteAuthExtra } = {},
): Harness {
  const clock = new FakeClock();
  const site = new FakeSite({ clock, sessionTtlMs: 60 * 60_000 });
  site.addUser('alice', 'pw-alice-1');
  const browser = new FakeBrowserProvider({ sites: [site], maxContexts: 64 });
  const { auth, ...managerOptions } = options;
  const manager = managerOver({ site, browser, clock }, { auths: [siteAuth(site, auth)], ...managerOptions });
  const events: Harness['events'] = [];
  const names: AuthSessionEventName[] = [
    'created',
    'failed',
    'checked',
    'refreshed',
    'expired',
    'updated',
    'deleted',
    'transition',
    'run:start',
    'run:end',
    'warning',
  ];
  for (const name of names) {
    manager.on(name, (payload: AuthSessionEvents[typeof name]) => events.push({ name, payload }));
  }
  return {
    site,
    clock,
    browser,
    manager,
    events,
    count: (name) => events.filter((e) => e.name === name).length,
  };
}
