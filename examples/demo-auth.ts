/**
 * How to log in to the demo site (examples/demo-site/) and how to tell whether a browser is still logged in:
 * the auth definition shared by the demo (`npm run demo`), the examples' tests and the end-to-end tests.
 * examples/credentials.ts spells the same thing out inline, as you would write it for your own site.
 */
import type { Page } from 'playwright-core';
import { z } from 'zod';
// In your own code: `from 'auth-sessions'`.
import {
  type AuthOptions,
  AuthSessionInvalidError,
  type CredentialsAuthDefinition,
  defineAuth,
} from '../src/index.js';

/**
 * The account the demo site knows by default (`startDemoSite()` without `users`).
 *
 * @example
 * ```ts
 * await manager.create('demo-site', { credentials: DEMO_USER });
 * ```
 */
export const DEMO_USER = Object.freeze({ username: 'alice', password: 'wonderland-42' });

/**
 * Zod schema of the demo site's credentials.
 *
 * @example
 * ```ts
 * const credentials: DemoCredentials = demoCredentialsSchema.parse({ username: 'alice', password: '…' });
 * ```
 */
export const demoCredentialsSchema = z.object({
  username: z.string().min(1),
  password: z.string().min(1),
});

/**
 * Credentials of the demo site.
 *
 * @example
 * ```ts
 * const credentials: DemoCredentials = { ...DEMO_USER };
 * ```
 */
export type DemoCredentials = z.infer<typeof demoCredentialsSchema>;

/**
 * Options of {@link demoSiteAuth}: the auth's name and any attempt/timeout option of `defineAuth`.
 *
 * @example
 * ```ts
 * const auth = demoSiteAuth(site.url, { checkInterval: 60_000 });
 * ```
 */
export interface DemoSiteAuthOptions extends AuthOptions {
  /**
   * Name of the auth definition.
   * @default 'demo-site'
   */
  readonly name?: string;
}

/** Where the demo site is; a function lets a test point the same auth somewhere else (a closed port). */
type SiteUrl = string | (() => string);

/**
 * The auth definition of the demo site: `create` fills the login form (the site's CSRF token travels in the
 * form by itself) and waits for the account page, `check` opens the account page and passes only when it
 * shows a signed-in user (the site redirects to `/login` otherwise).
 *
 * @param siteUrl The site's base URL, e.g. `site.url`, or a function returning it (read at every hook call).
 * @example
 * ```ts
 * const site = await startDemoSite();
 * const manager = new AuthSessionManager({ auths: [demoSiteAuth(site.url)] });
 * const session = await manager.create('demo-site', { credentials: DEMO_USER });
 * ```
 */
export function demoSiteAuth(
  siteUrl: SiteUrl,
  options: DemoSiteAuthOptions = {},
): CredentialsAuthDefinition<typeof demoCredentialsSchema> {
  const base = typeof siteUrl === 'function' ? siteUrl : () => siteUrl;
  const { name = 'demo-site', ...authOptions } = options;
  return defineAuth({
    name,
    type: 'credentials',
    credentials: demoCredentialsSchema,
    // A wrong password shows up fast on this site: retry after a short pause rather than the default 500 ms.
    retryDelay: 250,
    // The login lives in the `sid` cookie, which expires with it: health checks can refresh ahead of that.
    authCookies: ['sid'],
    ...authOptions,
    async create({ page, credentials }) {
      await page.goto(`${base()}/login?next=%2Faccount`);
      await page.fill('#username', credentials.username);
      await page.fill('#password', credentials.password);
      await page.click('#login');
      // Either the account page (logged in) or the form again with an error: no waiting out a timeout.
      await page.locator('#user, #error').first().waitFor({ timeout: 15_000 });
      if ((await page.locator('#user').count()) === 0) {
        throw new Error('The demo site refused the username or password');
      }
    },
    async check({ page }) {
      await page.goto(`${base()}/account`);
      return new URL(page.url()).pathname === '/account' && (await page.locator('#user').count()) === 1;
    },
  });
}

/**
 * A typical task: opens the account page and returns the signed-in user's name. If the site logged the
 * browser out in the meantime, it says so with `AuthSessionInvalidError`, and the manager checks, refreshes
 * and runs the task once more.
 *
 * @example
 * ```ts
 * const user = await manager.run(session.id, ({ page }) => readAccount(page, site.url));
 * ```
 */
export async function readAccount(page: Page, siteUrl: string): Promise<string> {
  await page.goto(`${siteUrl}/account`);
  const user = new URL(page.url()).pathname === '/account' ? await page.textContent('#user') : null;
  if (user === null) throw new AuthSessionInvalidError();
  return user;
}
