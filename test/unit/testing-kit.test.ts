import type { Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import type { BrowserState } from '../../src/browser/state.js';
import { AuthSessionError } from '../../src/errors.js';
import {
  FakeBrowserProvider,
  FakeClock,
  type FakePage,
  FakeSite,
  type FakeSiteOptions,
  fakeSiteAuth,
} from '../../src/testing/index.js';

const HOUR = 60 * 60_000;

let providers: FakeBrowserProvider[] = [];

afterEach(async () => {
  for (const p of providers) await p.close();
  providers = [];
});

function setup(options: FakeSiteOptions & { maxContexts?: number } = {}) {
  const clock = new FakeClock();
  const site = new FakeSite({ clock, ...options });
  site.addUser('alice', 'pw-alice');
  site.addUser('bob', 'pw-bob');
  const browser = new FakeBrowserProvider({ site, maxContexts: options.maxContexts ?? 8 });
  providers.push(browser);
  return { clock, site, browser };
}

async function login(
  page: Page | FakePage,
  site: FakeSite,
  username: string,
  password: string,
): Promise<void> {
  await page.goto(`${site.origin}/login`);
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('#login');
}

async function loggedInAs(page: Page | FakePage, site: FakeSite): Promise<string | null> {
  await page.goto(`${site.origin}/account`);
  return page.textContent('#user');
}

describe('FakeSite through the fake page', () => {
  it('logs in with the right credentials and shows the account', async () => {
    const { site, browser } = setup();
    const lease = await browser.newContext({});
    const page = await lease.newPage();
    await login(page, site, 'alice', 'pw-alice');
    await page.waitForURL('**/account');
    expect(page.url()).toBe('https://fake-site.test/account');
    expect(await page.textContent('#user')).toBe('alice');
    expect(await page.textContent('h1')).toBe('Account');
    expect(await page.title()).toBe('Account');
    expect(site.counters).toMatchObject({ logins: 1, loginAttempts: 1, failedLogins: 0 });
    expect(site.activeSessions('alice')).toBe(1);
    const cookies = await lease.context.cookies();
    const sid = cookies.find((c) => c.name === 'sid');
    expect(sid).toMatchObject({
      domain: 'fake-site.test',
      path: '/',
      httpOnly: true,
      secure: true,
      sameSite: 'Lax',
    });
    // Playwright's format: seconds since the epoch.
    expect(sid?.expires).toBe(Math.floor((site.clock.now() + HOUR) / 1000));
    await lease.close();
  });

  it('rejects a wrong password, stays on /login and fails waitForURL at once', async () => {
    const { site, browser } = setup();
    const lease = await browser.newContext({});
    const page = await lease.newPage();
    await login(page, site, 'alice', 'wrong');
    expect(new URL(page.url()).pathname).toBe('/login');
    expect(await page.textContent('#error')).toBe('Invalid username or password');
    const started = performance.now();
    const err = await page.waitForURL('**/account', { timeout: 30_000 }).catch((e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(200);
    expect(err).toMatchObject({ name: 'TimeoutError' });
    expect((err as Error).message).toMatch(/^page\.waitForURL: Timeout 30000ms exceeded\./);
    expect(site.counters).toMatchObject({ logins: 0, loginAttempts: 1, failedLogins: 1 });
    expect(await page.textContent('#user')).toBeNull();
    await lease.close();
  });

  it('expires sessions when the clock passes their lifetime', async () => {
    const { clock, site, browser } = setup({ sessionTtlMs: HOUR });
    const lease = await browser.newContext({});
    const page = await lease.newPage();
    await login(page, site, 'alice', 'pw-alice');
    clock.advance(HOUR - 1);
    expect(await loggedInAs(page, site)).toBe('alice');
    clock.advance(1);
    expect(await loggedInAs(page, site)).toBeNull();
    expect(page.url()).toMatch(/\/login$/);
    expect(site.activeSessions()).toBe(0);
    await lease.close();
  });

  it('expires a session on the server even when the browser still sends the cookie', async () => {
    const siteClock = new FakeClock();
    const site = new FakeSite({ clock: siteClock, sessionTtlMs: HOUR });
    site.addUser('alice', 'pw-alice');
    // The browser's cookie clock stands still: only the server decides.
    const browser = new FakeBrowserProvider({ site, clock: new FakeClock() });
    providers.push(browser);
    const lease = await browser.newContext({});
    const page = await lease.newPage();
    await login(page, site, 'alice', 'pw-alice');
    siteClock.advance(HOUR + 1);
    expect((await lease.context.cookies()).some((c) => c.name === 'sid')).toBe(true);
    expect(await loggedInAs(page, site)).toBeNull();
  });

  it('kills sessions on password change, logoutAll, logout(user) and expireSessions', async () => {
    const { site, browser } = setup();
    const lease = await browser.newContext({});
    const alice = await lease.newPage();
    const bobLease = await browser.newContext({});
    const bob = await bobLease.newPage();

    await login(alice, site, 'alice', 'pw-alice');
    site.changePassword('alice', 'pw-alice-2');
    expect(await loggedInAs(alice, site)).toBeNull();
    await login(alice, site, 'alice', 'pw-alice');
    expect(await alice.textContent('#error')).toBe('Invalid username or password');
    await login(alice, site, 'alice', 'pw-alice-2');
    expect(await loggedInAs(alice, site)).toBe('alice');

    await login(bob, site, 'bob', 'pw-bob');
    site.logout('bob');
    expect(await loggedInAs(bob, site)).toBeNull();
    expect(await loggedInAs(alice, site)).toBe('alice');

    await login(bob, site, 'bob', 'pw-bob');
    site.logoutAll();
    expect(await loggedInAs(alice, site)).toBeNull();
    expect(await loggedInAs(bob, site)).toBeNull();

    await login(alice, site, 'alice', 'pw-alice-2');
    site.expireSessions();
    expect(await loggedInAs(alice, site)).toBeNull();
  });

  it('ends the session on /logout and clears the cookie', async () => {
    const { site, browser } = setup();
    const lease = await browser.newContext({});
    const page = await lease.newPage();
    await login(page, site, 'alice', 'pw-alice');
    await page.click('#logout');
    expect(page.url()).toMatch(/\/login$/);
    expect((await lease.context.cookies()).some((c) => c.name === 'sid')).toBe(false);
    expect(site.activeSessions()).toBe(0);
  });

  it('counts logins once per login, attempts, failures and page views, and resets them', async () => {
    const { site, browser } = setup();
    const lease = await browser.newContext({});
    const page = await lease.newPage();
    await login(page, site, 'alice', 'nope'); // login page + error page
    await login(page, site, 'alice', 'pw-alice'); // login page + account
    await loggedInAs(page, site); // account
    expect(site.counters).toEqual({ logins: 1, loginAttempts: 2, failedLogins: 1, pageViews: 5 });
    site.resetCounters();
    expect(site.counters).toEqual({ logins: 0, loginAttempts: 0, failedLogins: 0, pageViews: 0 });
  });

  it('asks for a one-time code when the user has otp, and accepts only the issued one', async () => {
    const { site, browser } = setup();
    site.addUser('carol', 'pw-carol', { otp: 'code' });
    const lease = await browser.newContext({});
    const page = await lease.newPage();
    await login(page, site, 'carol', 'pw-carol');
    expect(page.url()).toMatch(/\/otp$/);
    expect(site.counters.logins).toBe(0);
    const code = site.lastCode('carol');
    expect(code).toMatch(/^\d{6}$/);
    await page.fill('#otp', code === '000000' ? '111111' : '000000');
    await page.click('#verify');
    expect(await page.textContent('#error')).toBe('Invalid code');
    await page.fill('#otp', code as string);
    await page.press('#otp', 'Enter');
    expect(page.url()).toMatch(/\/account$/);
    expect(await page.textContent('#user')).toBe('carol');
    expect(site.counters).toMatchObject({ logins: 1, loginAttempts: 1, failedLogins: 1 });
  });

  it('changes the rolling cookie on every page view, and not when rollingCookie is off', async () => {
    const { site, browser } = setup();
    const lease = await browser.newContext({});
    const page = await lease.newPage();
    await login(page, site, 'alice', 'pw-alice');
    const roll1 = (await lease.captureState()).cookies.find((c) => c.name === 'roll')?.value;
    await page.reload();
    const roll2 = (await lease.captureState()).cookies.find((c) => c.name === 'roll')?.value;
    expect(roll1).toBeDefined();
    expect(roll2).toBeDefined();
    expect(roll2).not.toBe(roll1);

    const quiet = setup({ rollingCookie: false });
    const lease2 = await quiet.browser.newContext({});
    const page2 = await lease2.newPage();
    await login(page2, quiet.site, 'alice', 'pw-alice');
    expect((await lease2.captureState()).cookies.map((c) => c.name)).toEqual(['sid']);
  });

  it('fails navigation like Playwright when the site is down or the host is unknown', async () => {
    const { site, browser } = setup();
    const lease = await browser.newContext({});
    const page = await lease.newPage();
    site.down = true;
    await expect(page.goto(`${site.origin}/account`)).rejects.toThrow(
      new Error('page.goto: net::ERR_CONNECTION_REFUSED at https://fake-site.test/account'),
    );
    expect(page.url()).toBe('chrome-error://chromewebdata/');
    expect(site.counters.pageViews).toBe(0);
    site.down = false;
    await expect(page.goto('https://nowhere.test/')).rejects.toThrow(
      'page.goto: net::ERR_NAME_NOT_RESOLVED at https://nowhere.test/',
    );
    const res = await page.goto(`${site.origin}/missing`);
    expect(res?.status()).toBe(404);
    expect(res?.ok()).toBe(false);
    expect((await page.goto(`${site.origin}/login`))?.ok()).toBe(true);
    // Relative to the current page.
    await page.goto('/account');
    expect(page.url()).toBe('https://fake-site.test/login');
  });
});

describe('FakeBrowserProvider', () => {
  it('captures the full state; a context seeded with it is logged in', async () => {
    const { site, browser } = setup();
    const lease = await browser.newContext({});
    const page = await lease.newPage();
    await login(page, site, 'alice', 'pw-alice');
    await page.evaluate(() => {
      localStorage.setItem('token', 'tok-1');
      sessionStorage.setItem('tab', 'tab-1');
    });
    const state = await lease.captureState();
    await lease.close();
    expect(state.origins).toEqual([
      { origin: site.origin, localStorage: [{ name: 'token', value: 'tok-1' }] },
    ]);
    expect(state.sessionStorage).toEqual([{ origin: site.origin, items: [{ name: 'tab', value: 'tab-1' }] }]);

    const again = await browser.newContext({ state });
    const page2 = await again.newPage();
    expect(await loggedInAs(page2, site)).toBe('alice');
    expect(
      await page2.evaluate(() => [localStorage.getItem('token'), sessionStorage.getItem('tab')]),
    ).toEqual(['tok-1', 'tab-1']);
    expect(site.counters.logins).toBe(1);

    const fresh = await browser.newContext({});
    const page3 = await fresh.newPage();
    expect(await loggedInAs(page3, site)).toBeNull();
  });

  it('matches Playwright storageState: cookies and localStorage, no sessionStorage', async () => {
    const { site, browser } = setup();
    const lease = await browser.newContext({});
    const page = await lease.newPage();
    await login(page, site, 'alice', 'pw-alice');
    await page.evaluate(() => {
      localStorage.token = 'x';
      sessionStorage.setItem('s', 'y');
    });
    const state = await lease.context.storageState();
    expect(Object.keys(state).sort()).toEqual(['cookies', 'origins']);
    expect(state.origins[0]?.localStorage).toEqual([{ name: 'token', value: 'x' }]);
  });

  it('bounds open contexts: a third waits until one closes, and an abort rejects the wait', async () => {
    const { browser } = setup({ maxContexts: 2 });
    const a = await browser.newContext({});
    const b = await browser.newContext({});
    let opened = false;
    const third = browser.newContext({}).then((lease) => {
      opened = true;
      return lease;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(opened).toBe(false);
    expect(browser.stats()).toEqual({ openContexts: 2, openPages: 0, waiting: 1, contextsOpened: 2 });

    const controller = new AbortController();
    const fourth = browser.newContext({ signal: controller.signal });
    expect(browser.stats().waiting).toBe(2);
    const reason = new AuthSessionError('ABORTED', 'caller gave up');
    controller.abort(reason);
    await expect(fourth).rejects.toBe(reason);
    expect(browser.stats().waiting).toBe(1);

    await a.close();
    await a.close(); // idempotent: frees one slot only
    const c = await third;
    expect(opened).toBe(true);
    expect(browser.stats()).toEqual({ openContexts: 2, openPages: 0, waiting: 0, contextsOpened: 3 });

    await (await b.newPage()).goto('about:blank');
    await c.newPage();
    expect(browser.stats().openPages).toBe(2);
    await b.close();
    await c.close();
    expect(browser.stats()).toEqual({ openContexts: 0, openPages: 0, waiting: 0, contextsOpened: 3 });
  });

  it('rejects at once when the signal is already aborted', async () => {
    const { browser } = setup({ maxContexts: 1 });
    const err = await browser.newContext({ signal: AbortSignal.abort() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthSessionError);
    expect((err as AuthSessionError).code).toBe('ABORTED');
    expect(browser.stats().openContexts).toBe(0);
  });

  it('frees the slot when a page closes with its context, and reports closed targets', async () => {
    const { site, browser } = setup({ maxContexts: 1 });
    const lease = await browser.newContext({});
    const page = await lease.newPage();
    const closed: string[] = [];
    page.on('close', () => closed.push('page'));
    lease.context.on('close', () => closed.push('context'));
    await lease.close();
    expect(closed).toEqual(['page', 'context']);
    expect(page.isClosed()).toBe(true);
    await expect(page.goto(`${site.origin}/login`)).rejects.toThrow(
      'page.goto: Target page, context or browser has been closed',
    );
    await expect(lease.newPage()).rejects.toThrow('Target page, context or browser has been closed');
    await expect(lease.captureState()).rejects.toThrow('Target page, context or browser has been closed');
    expect(browser.stats()).toMatchObject({ openContexts: 0, openPages: 0 });
    const next = await browser.newContext({});
    await next.close();
  });

  it('records proxy, device and state of each request', async () => {
    const { browser } = setup();
    const proxy = { server: 'http://proxy.test:8080', username: 'u', password: 'p' };
    const device = { userAgent: 'UA/1', viewport: { width: 800, height: 600 }, locale: 'fr-FR' };
    const lease = await browser.newContext({ proxy, device, headless: true });
    expect(browser.lastRequest).toMatchObject({ proxy, device, headless: true });
    expect(browser.lastContext?.proxy).toEqual(proxy);
    expect(browser.lastContext?.device).toEqual(device);
    const page = await lease.newPage();
    expect(page.viewportSize()).toEqual({ width: 800, height: 600 });
    await page.goto('https://fake-site.test/');
    expect(await page.evaluate(() => navigator.userAgent)).toBe('UA/1');
    expect(browser.requests).toHaveLength(1);
  });

  it('fails the next context on demand and keeps the slot free', async () => {
    const { browser } = setup({ maxContexts: 1 });
    const boom = new Error('browserType.launch: failed');
    browser.failNextContext(boom);
    await expect(browser.newContext({})).rejects.toBe(boom);
    const lease = await browser.newContext({});
    expect(browser.stats()).toMatchObject({ openContexts: 1, contextsOpened: 1 });
    await lease.close();
  });

  it('rejects a malformed state naming the path, not the value', async () => {
    const { browser } = setup();
    const bad = { cookies: [{ name: 'sid', value: 'SECRET-VALUE' }], origins: [] } as unknown as BrowserState;
    const err = (await browser.newContext({ state: bad }).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/invalid storageState at cookies\.0/);
    expect(err.message).not.toContain('SECRET-VALUE');
    expect(browser.stats().openContexts).toBe(0);
  });

  it('close() closes every context, rejects waiters and refuses new contexts', async () => {
    const { browser } = setup({ maxContexts: 1 });
    const lease = await browser.newContext({});
    const page = await lease.newPage();
    const waiting = browser.newContext({});
    await browser.close();
    await expect(waiting).rejects.toMatchObject({ code: 'CLOSED' });
    expect(page.isClosed()).toBe(true);
    expect(browser.stats()).toMatchObject({ openContexts: 0, openPages: 0, waiting: 0 });
    await expect(browser.newContext({})).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('expires cookies by the clock, and honours addCookies/clearCookies/cookies(urls)', async () => {
    const { clock, browser } = setup();
    const lease = await browser.newContext({});
    const ctx = lease.context;
    const in10s = Math.floor(clock.now() / 1000) + 10;
    await ctx.addCookies([
      { name: 'a', value: '1', url: 'https://fake-site.test/app/page' },
      { name: 'b', value: '2', domain: '.fake-site.test', path: '/', expires: in10s },
      { name: 'c', value: '3', domain: 'other.test', path: '/' },
    ]);
    expect((await ctx.cookies('https://fake-site.test/app/x')).map((c) => c.name).sort()).toEqual(['a', 'b']);
    expect((await ctx.cookies('https://sub.fake-site.test/')).map((c) => c.name)).toEqual(['b']);
    expect((await ctx.cookies()).find((c) => c.name === 'a')).toMatchObject({
      path: '/app/',
      secure: true,
      expires: -1,
    });
    clock.advance(10_000);
    expect((await ctx.cookies()).map((c) => c.name).sort()).toEqual(['a', 'c']);
    await ctx.clearCookies({ name: 'a' });
    expect((await ctx.cookies()).map((c) => c.name)).toEqual(['c']);
    await expect(ctx.addCookies([{ name: 'x', value: 'y' }])).rejects.toThrow(
      'Cookie should have a url or a domain/path pair',
    );
  });
});

describe('fakeSiteAuth', () => {
  it('creates and checks like user-written Playwright hooks', async () => {
    const { site, browser, clock } = setup();
    const hooks = fakeSiteAuth(site);
    const lease = await browser.newContext({});
    const page = await lease.newPage();
    await hooks.create({ page, credentials: { username: 'alice', password: 'pw-alice' } });
    expect(await hooks.check({ page })).toBe(true);
    clock.advance(HOUR);
    expect(await hooks.check({ page })).toBe(false);
    await expect(
      hooks.create({ page, credentials: { username: 'alice', password: 'bad' } }),
    ).rejects.toMatchObject({
      name: 'TimeoutError',
    });
    expect(site.counters).toMatchObject({ logins: 1, failedLogins: 1 });
  });

  it('passes the one-time-code step, from the site or through requestInput', async () => {
    const { site, browser } = setup();
    site.addUser('carol', 'pw-carol', { otp: 'code' });
    const lease = await browser.newContext({});
    const page = await lease.newPage();
    await fakeSiteAuth(site).create({ page, credentials: { username: 'carol', password: 'pw-carol' } });
    expect(await fakeSiteAuth(site).check({ page })).toBe(true);

    const asked: unknown[] = [];
    const lease2 = await browser.newContext({});
    const page2 = await lease2.newPage();
    await fakeSiteAuth(site, { otp: 'requestInput' }).create({
      page: page2,
      credentials: { username: 'carol', password: 'pw-carol' },
      requestInput: async (request) => {
        asked.push(request.kind);
        return site.lastCode('carol');
      },
    });
    expect(asked).toEqual(['otp']);
    expect(await fakeSiteAuth(site).check({ page: page2 })).toBe(true);
    expect(site.counters.logins).toBe(2);
  });
});
