import type { Page } from 'playwright-core';
import type { FakeSite } from './fake-site.js';

/**
 * Options of {@link fakeSiteAuth}.
 *
 * @example
 * ```ts
 * const hooks = fakeSiteAuth(site, { otp: 'requestInput', timeout: 1_000 });
 * ```
 */
export interface FakeSiteAuthOptions {
  /**
   * Where the one-time code comes from when the site asks for one: `'site'` reads
   * {@link FakeSite.lastCode} (an authenticator app that always has the code), `'requestInput'` asks through
   * the hook context's `requestInput({ kind: 'otp', message })`, to exercise the challenge flow.
   * @default 'site'
   */
  readonly otp?: 'site' | 'requestInput';
  /**
   * Timeout (ms) of the hooks' waits. With the fake browser's fail-fast waits a wrong password fails at once
   * whatever this is.
   * @default 5_000
   */
  readonly timeout?: number;
}

/**
 * The credentials the {@link fakeSiteAuth} hooks log in with.
 *
 * @example
 * ```ts
 * await hooks.create({ page, credentials: { username: 'alice', password: 's3cret' } });
 * ```
 */
export interface FakeSiteCredentials {
  readonly username: string;
  readonly password: string;
}

/**
 * The part of the library's `create` hook context the {@link fakeSiteAuth} hooks use.
 *
 * @example
 * ```ts
 * await hooks.create({ page, credentials, requestInput: async () => site.lastCode('alice') });
 * ```
 */
export interface FakeSiteCreateContext {
  readonly page: Page;
  readonly credentials: FakeSiteCredentials;
  readonly requestInput?: (request: { kind: 'otp'; message: string }) => Promise<unknown>;
  readonly signal?: AbortSignal;
}

/**
 * The part of the library's `check` hook context the {@link fakeSiteAuth} hooks use.
 *
 * @example
 * ```ts
 * const ok = await hooks.check({ page });
 * ```
 */
export interface FakeSiteCheckContext {
  readonly page: Page;
  readonly signal?: AbortSignal;
}

/**
 * The hooks {@link fakeSiteAuth} returns.
 *
 * @example
 * ```ts
 * const { create, check } = fakeSiteAuth(site);
 * ```
 */
export interface FakeSiteAuthHooks {
  /** Logs in through the site's form (and one-time-code step), ending on `/account`; throws when rejected. */
  create(context: FakeSiteCreateContext): Promise<void>;
  /** Opens `/account`; true only when it shows the logged-in user. */
  check(context: FakeSiteCheckContext): Promise<boolean>;
}

/**
 * Plain `create` and `check` hooks for a {@link FakeSite}, written exactly as a user writes them against
 * Playwright, so they also serve as a template. Spread them into an auth definition.
 *
 * @example
 * ```ts
 * const site = new FakeSite();
 * site.addUser('alice', 's3cret');
 * const auth = defineAuth({
 *   name: 'fake',
 *   type: 'credentials',
 *   credentials: z.object({ username: z.string(), password: z.string() }),
 *   ...fakeSiteAuth(site),
 * });
 * ```
 */
export function fakeSiteAuth(site: FakeSite, options: FakeSiteAuthOptions = {}): FakeSiteAuthHooks {
  const timeout = options.timeout ?? 5_000;
  const loginUrl = new URL('/login', site.origin).href;
  const accountUrl = new URL('/account', site.origin).href;
  return {
    async create({ page, credentials, requestInput }) {
      await page.goto(loginUrl);
      await page.fill('#username', credentials.username, { timeout });
      await page.fill('#password', credentials.password, { timeout });
      await page.click('#login', { timeout });
      await page.waitForURL((url) => url.pathname === '/account' || url.pathname === '/otp', { timeout });
      if (new URL(page.url()).pathname === '/otp') {
        const code =
          options.otp === 'requestInput' && requestInput
            ? String(await requestInput({ kind: 'otp', message: 'Enter the code sent to you' }))
            : site.lastCode(credentials.username);
        if (code === undefined)
          throw new Error('fakeSiteAuth: the site asked for a code but none was issued');
        await page.fill('#otp', code, { timeout });
        await page.click('#verify', { timeout });
      }
      await page.waitForURL('**/account', { timeout });
    },
    async check({ page }) {
      await page.goto(accountUrl);
      return (await page.textContent('#user', { timeout })) !== null;
    },
  };
}
