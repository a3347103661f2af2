/**
 * Shared fixtures of the benchmarks: auth definitions for the fake site and the demo site, temporary
 * folders, and a 32-byte key.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { z } from 'zod';
import { type AuthOptions, defineAuth } from '../src/index.js';
import type { FakeSite } from '../src/testing/index.js';

/** A fresh random key for the vault (base64 of 32 bytes). */
export const BENCH_KEY = randomBytes(32).toString('base64');

export const credentialsSchema = z.object({ username: z.string().min(1), password: z.string().min(1) });

/** The demo site's default account. */
export const DEMO_ALICE = { username: 'alice', password: 'wonderland-42' } as const;

/** A temporary folder, removed by the returned function. */
export function tempDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'auth-sessions-bench-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Logs in to the demo site through its form (what a user's `create` hook does). */
export async function demoLogin(page: Page, url: string, username: string, password: string): Promise<void> {
  await page.goto(`${url}/login`);
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('#login');
  await page.waitForURL(/\/account$/);
}

/** The check written by hand and by the library alike: the account page shows the user. */
export async function demoCheck(page: Page, url: string): Promise<boolean> {
  await page.goto(`${url}/account`);
  return (await page.textContent('#user')) === 'alice';
}

/**
 * The task of benchmarks 1 and 2: open the account page and read who is signed in. The site rolls a cookie
 * on that page, as many do, so the library has a changed state to seal and save after every run.
 */
export async function demoTask(page: Page, url: string): Promise<string | null> {
  await page.goto(`${url}/account`);
  return page.textContent('#user');
}

/** The demo site's auth, with exactly the hand-written login and check. */
export function demoAuth(url: string, options: AuthOptions = {}) {
  return defineAuth({
    name: 'demo',
    type: 'credentials',
    credentials: credentialsSchema,
    ...options,
    async create({ page, credentials }) {
      await demoLogin(page, url, credentials.username, credentials.password);
    },
    async check({ page }) {
      return demoCheck(page, url);
    },
  });
}

/**
 * An auth over a {@link FakeSite}: the login goes through the site's form; `check` is given (the bookkeeping
 * benchmark passes `() => true` so only the library's own work is timed).
 */
export function fakeSiteBenchAuth(
  site: FakeSite,
  options: {
    readonly check?: (page: Page) => Promise<boolean> | boolean;
    readonly createDelayMs?: number;
  } & AuthOptions = {},
) {
  const { check, createDelayMs, ...authOptions } = options;
  return defineAuth({
    name: 'bench',
    type: 'credentials',
    credentials: credentialsSchema,
    retryDelay: 0,
    ...authOptions,
    async create({ page, credentials }) {
      await page.goto(`${site.origin}/login`);
      await page.fill('#username', credentials.username);
      await page.fill('#password', credentials.password);
      await page.click('#login');
      await page.waitForURL(/\/account$/, { timeout: 1000 });
      if (createDelayMs) await new Promise((resolve) => setTimeout(resolve, createDelayMs));
    },
    async check({ page }) {
      if (check) return check(page);
      await page.goto(`${site.origin}/account`);
      return (await page.textContent('#user')) !== null;
    },
  });
}
