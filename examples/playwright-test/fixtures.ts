/** The example's `test`: every worker leases one account of the pool and every test starts logged in. */
import { test as base } from '@playwright/test';
import {
  type AuthSessionTestFixtures,
  type AuthSessionWorkerFixtures,
  authSessionFixtures,
} from 'auth-sessions/playwright';
import { makeManager } from './accounts.js';

export const test = base.extend<AuthSessionTestFixtures, AuthSessionWorkerFixtures>(
  authSessionFixtures({
    manager: ({ browser }) => makeManager(browser),
    auth: 'demo-site',
    labels: { pool: 'e2e' },
    lease: { ttlMs: 30_000, waitMs: 60_000 },
  }),
);

export { expect } from '@playwright/test';
