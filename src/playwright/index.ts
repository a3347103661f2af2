/**
 * `auth-sessions/playwright`: fixtures for Playwright Test (`@playwright/test`, an optional peer). Each worker
 * leases its own account from a pool of auth sessions, and every test starts logged in from that session's
 * fresh, validated state. Only types come from `@playwright/test`: this entry point loads without it.
 *
 * @example
 * ```ts
 * import { test as base } from '@playwright/test';
 * import { type AuthSessionTestFixtures, type AuthSessionWorkerFixtures, authSessionFixtures } from 'auth-sessions/playwright';
 * import { manager } from './auth-sessions.config.js';
 *
 * export const test = base.extend<AuthSessionTestFixtures, AuthSessionWorkerFixtures>(
 *   authSessionFixtures({ manager, auth: 'crm' }),
 * );
 * ```
 *
 * @module
 */

export {
  type AuthSessionFixtures,
  type AuthSessionFixturesOptions,
  type AuthSessionManagerFactory,
  type AuthSessionTestFixtures,
  type AuthSessionWorkerFixtures,
  authSessionFixtures,
} from './fixtures.js';
