/**
 * The example's pool: three accounts of the demo site, one per Playwright worker, and the manager every
 * worker makes over the same store (a SQLite file) and key.
 */
import { join } from 'node:path';
import type { Browser } from '@playwright/test';
import { AuthSessionManager, ChromiumProvider } from 'auth-sessions';
import { demoSiteAuth } from '../demo-auth.js';

/** The demo site the tests run against (`DEMO_SITE_URL`, e.g. from `npm run demo-site`). */
export const SITE_URL = process.env.DEMO_SITE_URL ?? 'http://127.0.0.1:3000';

/** The Chromium to use: `AUTH_SESSIONS_CHROMIUM`, else Debian's. */
export const CHROMIUM = process.env.AUTH_SESSIONS_CHROMIUM ?? '/usr/bin/chromium';

/** What Chromium needs in a container (as root, no GPU, no background traffic). */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

/** The pool: the site must know these users (the test starts the demo site with them). */
export const ACCOUNTS = [
  { username: 'ann', password: 'ann-pw-1' },
  { username: 'bob', password: 'bob-pw-2' },
  { username: 'cid', password: 'cid-pw-3' },
] as const;

/**
 * One manager per process (Playwright's runner and each worker). The store is a SQLite file every worker
 * shares; the key comes from `AUTH_SESSIONS_KEY` (or a key file next to the store).
 */
export function makeManager(browser?: Browser): AuthSessionManager {
  return new AuthSessionManager({
    auths: [demoSiteAuth(SITE_URL)],
    dataDir: process.env.AUTH_SESSIONS_DIR ?? join(import.meta.dirname, '.auth-sessions'),
    // A worker passes its Playwright `browser`: the checks and logins run in the browser its tests use.
    // Without one (globalSetup), the manager launches Chromium itself and closes it when it is closed.
    ...(browser ? { browser: new ChromiumProvider({ browser, maxContexts: 2 }) } : {}),
  });
}
