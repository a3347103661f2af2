/**
 * One worker of the multi-process example (started by main.ts, not by hand): its own manager over the shared
 * Redis store and lock, running a few tasks at once on the shared session. Whichever worker finds the
 * login lapsed first logs in again under the lock; the others wait for it and reuse its login.
 */
import type { Page } from 'playwright-core';
import {
  type AuthSessionEvents,
  AuthSessionInvalidError,
  AuthSessionManager,
  type BrowserProvider,
  ChromiumProvider,
  defineAuth,
} from '../../src/index.js';
import { createRedisStore, RedisLock } from '../../src/redis/index.js';
import { FakeBrowserProvider } from '../../src/testing/index.js';
import { httpCredentialsSchema, httpIsLoggedIn, httpLoginAuth } from './http-auth.js';

/** What main.ts passes to each worker (the encryption key travels in the environment, never in argv). */
export interface ExampleWorkerConfig {
  readonly name: string;
  readonly redisUrl: string;
  readonly namespace: string;
  readonly siteUrl: string;
  readonly sessionId: string;
  readonly runs: number;
  readonly browser: 'chromium' | 'fake';
}

/** What a worker reports back. */
export interface ExampleWorkerReport {
  readonly name: string;
  readonly ok: number;
  readonly failed: readonly string[];
  readonly refreshes: number;
  readonly users: readonly string[];
}

/** The demo site driven through a real page, as you would write it for your own site. */
function chromiumAuth(siteUrl: string) {
  return defineAuth({
    name: 'demo',
    type: 'credentials',
    credentials: httpCredentialsSchema,
    async create({ page, credentials }) {
      await page.goto(`${siteUrl}/login?next=%2Faccount`);
      await page.fill('#username', credentials.username);
      await page.fill('#password', credentials.password);
      await page.click('#login');
      await page.locator('#user').waitFor({ timeout: 15_000 });
    },
    async check({ page }) {
      await page.goto(`${siteUrl}/account`);
      return new URL(page.url()).pathname === '/account' && (await page.locator('#user').count()) === 1;
    },
  });
}

async function readAccount(page: Page, siteUrl: string): Promise<string> {
  await page.goto(`${siteUrl}/account`);
  const user = new URL(page.url()).pathname === '/account' ? await page.textContent('#user') : null;
  if (user === null) throw new AuthSessionInvalidError();
  return user;
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as ExampleWorkerConfig;
  const store = createRedisStore(config.redisUrl, { namespace: config.namespace });
  const lock = new RedisLock({ url: config.redisUrl, prefix: `${config.namespace}:lock:` });
  const fake = config.browser === 'fake';
  const browser: BrowserProvider = fake
    ? new FakeBrowserProvider({ maxContexts: 16 })
    : new ChromiumProvider({ maxContexts: 2 });
  const manager = new AuthSessionManager({
    auths: [fake ? httpLoginAuth(config.siteUrl, { name: 'demo' }) : chromiumAuth(config.siteUrl)],
    store,
    lock,
    browser,
    key: process.env.AUTH_SESSIONS_KEY,
  });
  let refreshes = 0;
  manager.on('refreshed', (e: AuthSessionEvents['refreshed']) => {
    refreshes++;
    console.log(`[${config.name}] logged in again (${e.durationMs} ms)`);
  });
  const origin = new URL(config.siteUrl).origin;
  try {
    const outcomes = await Promise.allSettled(
      Array.from({ length: config.runs }, () =>
        manager.run(
          config.sessionId,
          async ({ page, context, signal }) => {
            if (!fake) return readAccount(page, config.siteUrl);
            const cookie = (await context.cookies(origin)).map((c) => `${c.name}=${c.value}`).join('; ');
            if (!(await httpIsLoggedIn(origin, cookie, signal))) throw new AuthSessionInvalidError();
            return 'alice';
          },
          // Every run is bounded: waiting for a browser, for the lock, the login and the task.
          { signal: AbortSignal.timeout(120_000) },
        ),
      ),
    );
    const report: ExampleWorkerReport = {
      name: config.name,
      ok: outcomes.filter((o) => o.status === 'fulfilled').length,
      failed: outcomes.flatMap((o) =>
        o.status === 'rejected' ? [String((o.reason as Error)?.message ?? o.reason)] : [],
      ),
      refreshes,
      users: [...new Set(outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : [])))],
    };
    process.send?.(report);
  } finally {
    await manager.close();
    await browser.close();
    await lock.close();
    await store.disconnect();
  }
}

main().catch((err: unknown) => {
  console.error(`worker failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
