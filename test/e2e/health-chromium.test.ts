/**
 * Health checks in real Chromium against the demo site's localStorage token site, whose tokens are JWTs that
 * lapse after a few seconds: the session's expiry is read from the token's `exp`, the health checks log in
 * again ahead of it, and no run ever meets a lapsed token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_USER, demoCredentialsSchema } from '../../examples/demo-auth.js';
import { type DemoSite, startDemoSite } from '../../examples/demo-site/server.js';
import { AuthSessionManager, ChromiumProvider, createMemoryStore, defineAuth } from '../../src/index.js';
import { TEST_KEY } from '../unit/helpers.js';

const TOKEN_SECONDS = 12;

describe.runIf(process.platform === 'linux')('health checks in real Chromium', () => {
  let site: DemoSite;
  let provider: ChromiumProvider;
  let manager: AuthSessionManager;

  beforeAll(async () => {
    site = await startDemoSite({ sessionTtlSeconds: TOKEN_SECONDS });
    provider = new ChromiumProvider({ maxContexts: 2 });
    const tokenSite = defineAuth({
      name: 'token-site',
      type: 'credentials',
      credentials: demoCredentialsSchema,
      retryDelay: 250,
      async create({ page, credentials }) {
        await page.goto(`${site.url}/ls/login`);
        await page.fill('#username', credentials.username);
        await page.fill('#password', credentials.password);
        await page.click('#login');
        await page.locator('#user').waitFor({ timeout: 15_000 });
      },
      async check({ page }) {
        await page.goto(`${site.url}/ls/account`);
        await page.locator('#user, #login-required').first().waitFor({ timeout: 15_000 });
        return (await page.locator('#user').count()) === 1;
      },
    });
    manager = new AuthSessionManager({
      auths: [tokenSite],
      store: createMemoryStore(),
      key: TEST_KEY,
      browser: provider,
    });
  });

  afterAll(async () => {
    await manager?.close();
    await provider?.close();
    await site?.close();
  });

  it('a session whose JWT lapses every 12 s is refreshed ahead; no run sees the lapse', async () => {
    const session = await manager.create('token-site', { credentials: DEMO_USER });
    // The expiry is the token's `exp` (whole seconds), read from localStorage.
    const expiresAt = Date.parse(session.expiresAt ?? '');
    expect(expiresAt - Date.now()).toBeGreaterThan((TOKEN_SECONDS - 5) * 1000);
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(TOKEN_SECONDS * 1000);

    const failedChecks: unknown[] = [];
    const refreshes: Array<{ started: number; ahead: boolean | undefined; lapse: number }> = [];
    let lapse = expiresAt;
    manager.on('checked', (e) => {
      if (!e.ok) failedChecks.push(e);
    });
    manager.on('refreshed', (e) => {
      refreshes.push({ started: Date.now() - e.durationMs, ahead: e.ahead, lapse });
      lapse = Date.parse(e.session.expiresAt ?? '');
    });
    const health = manager.startHealthChecks({ every: 2_000, refreshAhead: 6_000, concurrency: 1 });
    const errors: unknown[] = [];
    let runs = 0;
    const until = Date.now() + 2.5 * TOKEN_SECONDS * 1000;
    while (Date.now() < until) {
      runs++;
      await manager
        .run(session.id, async ({ page }) => {
          await page.goto(`${site.url}/ls/account`);
          await page.locator('#user, #login-required').first().waitFor({ timeout: 15_000 });
          return page.locator('#user').textContent();
        })
        .then((user) => expect(user).toBe(DEMO_USER.username))
        .catch((err: unknown) => errors.push(err));
    }
    await health.stop();

    expect(errors).toEqual([]);
    expect(failedChecks).toEqual([]);
    expect(runs).toBeGreaterThan(5);
    // Two lapses at least went by, each replaced by a login started ahead of it. On a loaded machine that
    // login may end just after the old token lapsed: the runs meanwhile wait for it (errors is empty above).
    expect(refreshes.length).toBeGreaterThanOrEqual(2);
    for (const r of refreshes) {
      expect(r.ahead).toBe(true);
      expect(r.started).toBeLessThan(r.lapse);
    }
    const stats = await manager.stats({ sessions: false });
    expect(stats.refreshes.reactive).toBe(0);
    expect(stats.refreshes.proactive).toBe(refreshes.length);
  }, 120_000);
});
