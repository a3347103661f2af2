import { afterEach, describe, expect, it } from 'vitest';
import { FakeBrowserProvider, FakeClock, type FakePage, FakeSite } from '../../src/testing/index.js';

let providers: FakeBrowserProvider[] = [];

afterEach(async () => {
  for (const p of providers) await p.close();
  providers = [];
});

async function openPage(options: { failFastWaits?: boolean } = {}) {
  const site = new FakeSite({ clock: new FakeClock() });
  site.addUser('alice', 'pw-alice');
  const browser = new FakeBrowserProvider({ site, ...options });
  providers.push(browser);
  const lease = await browser.newContext({});
  const context = browser.lastContext;
  if (!context) throw new Error('no context');
  const page: FakePage = await context.newPage();
  await page.goto(`${site.origin}/login`);
  return { site, browser, lease, context, page };
}

function timers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

describe('FakeClock', () => {
  it('fires due timers in time order, including timers scheduled by timers in the window', () => {
    const clock = new FakeClock(1_000);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('b@300'), 300);
    clock.setTimeout(() => {
      fired.push('a@100');
      clock.setTimeout(() => fired.push('c@150'), 50);
      clock.setTimeout(() => fired.push('late@700'), 600);
    }, 100);
    const cancelled = clock.setTimeout(() => fired.push('never'), 200);
    clock.clearTimeout(cancelled);
    expect(clock.pendingTimers).toBe(2);
    clock.advance(500);
    expect(fired).toEqual(['a@100', 'c@150', 'b@300']);
    expect(clock.now()).toBe(1_500);
    expect(clock.pendingTimers).toBe(1);
    clock.advance(200);
    expect(fired.at(-1)).toBe('late@700');
    expect(clock.pendingTimers).toBe(0);
  });

  it('sees the time of each timer while it fires, and set() jumps without firing', () => {
    const clock = new FakeClock(0);
    const seen: number[] = [];
    clock.setTimeout(() => seen.push(clock.now()), 40);
    clock.set(1_000);
    expect(seen).toEqual([]);
    clock.advance(0);
    expect(seen).toEqual([1_000]);
    expect(new FakeClock().now()).toBe(Date.parse('2026-01-01T00:00:00Z'));
    expect(() => clock.advance(-1)).toThrow(RangeError);
  });

  it('advanceAsync lets promise chains started by a timer progress before the next timer', async () => {
    const clock = new FakeClock(0);
    const log: string[] = [];
    clock.setTimeout(() => {
      void Promise.resolve()
        .then(() => Promise.resolve())
        .then(() => {
          log.push('chain');
          clock.setTimeout(() => log.push('second'), 10);
        });
    }, 10);
    clock.setTimeout(() => log.push('other'), 15);
    await clock.advanceAsync(20);
    expect(log).toEqual(['chain', 'other', 'second']);
  });
});

describe('FakePage', () => {
  it('matches the selector subset hooks use', async () => {
    const { page } = await openPage();
    expect(await page.locator('button[type=submit]').count()).toBe(1);
    expect(await page.locator('button[type="submit"]').textContent()).toBe('Log in');
    expect(await page.locator('text=log in').count()).toBe(1);
    expect(await page.locator('button:has-text("Log in")').count()).toBe(1);
    expect(await page.locator('form#login-form >> input').count()).toBe(2);
    expect(await page.locator('form > input[name=password]').count()).toBe(1);
    expect(await page.locator('form').locator('#username').count()).toBe(1);
    expect(await page.locator('input:not([type=password])').count()).toBe(1);
    expect(await page.locator('input, button').count()).toBe(3);
    expect(await page.locator('input').first().getAttribute('id')).toBe('username');
    expect(await page.locator('input').last().getAttribute('id')).toBe('password');
    expect(await page.locator('input').nth(1).getAttribute('id')).toBe('password');
    expect(await page.isVisible('#username')).toBe(true);
    expect(await page.isVisible('#nope')).toBe(false);
    expect(() => page.locator('a + b')).toThrow(/does not support selector/);
  });

  it('fails at once on a missing element, with Playwright-like messages', async () => {
    const { page } = await openPage();
    const started = performance.now();
    const err = (await page
      .locator('#x')
      .click()
      .catch((e: unknown) => e)) as Error;
    expect(err.name).toBe('TimeoutError');
    expect(err.message).toMatch(
      /^locator\.click: Timeout 30000ms exceeded\.\nCall log:\n {2}- waiting for locator\('#x'\)/,
    );
    await expect(page.fill('#x', 'v', { timeout: 1234 })).rejects.toThrow(
      /^page\.fill: Timeout 1234ms exceeded/,
    );
    // biome-ignore lint/performance/useDomNodeTextContent: Playwright's page.innerText, not the DOM property
    await expect(page.innerText('#x')).rejects.toMatchObject({ name: 'TimeoutError' });
    await expect(page.waitForSelector('#x', { timeout: 5_000 })).rejects.toMatchObject({
      name: 'TimeoutError',
    });
    expect(performance.now() - started).toBeLessThan(200);
    expect(await page.textContent('#x')).toBeNull();
    expect(await page.locator('#x').textContent()).toBeNull();
    await expect(page.locator('input').fill('v')).rejects.toThrow(
      /strict mode violation: locator\('input'\) resolved to 2/,
    );
    await expect(page.fill('button', 'v')).rejects.toThrow(/Element is not an <input>/);
  });

  it('waits resolve when a concurrent action changes the page', async () => {
    const { page, site } = await openPage();
    await page.fill('#username', 'alice');
    await page.fill('#password', 'pw-alice');
    await Promise.all([page.waitForURL(/\/account$/), page.click('#login')]);
    // biome-ignore lint/performance/useDomNodeTextContent: Playwright's locator.innerText, not the DOM property
    expect(await page.locator('#user').innerText()).toBe('alice');
    const [nav] = await Promise.all([page.waitForNavigation(), page.goto(`${site.origin}/`)]);
    expect(nav?.url()).toBe(`${site.origin}/`);
    expect(await page.waitForSelector('h1')).not.toBeNull();
    expect(await page.waitForSelector('#user', { state: 'detached' })).toBeNull();
    await page.locator('#nope').waitFor({ state: 'hidden' });
    await page.waitForURL((url) => url.pathname === '/');
  });

  it('honours real timeouts when fail-fast waits are off, leaving no timer behind', async () => {
    const { page } = await openPage({ failFastWaits: false });
    const before = timers();
    const started = performance.now();
    await expect(page.waitForURL('**/account', { timeout: 30 })).rejects.toThrow(/Timeout 30ms exceeded/);
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
    const pending = page.waitForURL('**/account', { timeout: 10_000 });
    // Something outside the page's own calls (a scripted person) acts later.
    setTimeout(() => {
      void (async () => {
        await page.fill('#username', 'alice');
        await page.fill('#password', 'pw-alice');
        await page.press('#password', 'Enter');
      })();
    }, 5);
    await pending;
    expect(page.url()).toMatch(/\/account$/);
    await new Promise((resolve) => setImmediate(resolve));
    // Process-wide count: timers of the runner may end meanwhile, so "not more than before" is the claim.
    expect(timers()).toBeLessThanOrEqual(before);
  });

  it('rejects pending waits when the page closes', async () => {
    const { page } = await openPage({ failFastWaits: false });
    const pending = page.waitForURL('**/never', { timeout: 10_000 });
    await page.close();
    await expect(pending).rejects.toThrow('page.waitForURL: Target page, context or browser has been closed');
    await page.close();
    expect(page.isClosed()).toBe(true);
  });

  it('evaluates functions with the page origin storages, location and document', async () => {
    const { page, context, site } = await openPage();
    const result = await page.evaluate(
      ({ key, value }) => {
        localStorage.setItem(key, value);
        sessionStorage.s = 'session';
        // biome-ignore lint/suspicious/noDocumentCookie: the fake page's document.cookie is what is tested
        document.cookie = 'pref=dark; path=/';
        return {
          local: localStorage.getItem(key),
          keys: Object.keys(sessionStorage),
          origin: location.origin,
          path: window.location.pathname,
          cookie: document.cookie,
          title: document.title,
          username: document.querySelector('#username')?.getAttribute('name'),
        };
      },
      { key: 'token', value: 'abc' },
    );
    expect(result.local).toBe('abc');
    expect(result.keys).toEqual(['s']);
    expect(result.origin).toBe(site.origin);
    expect(result.path).toBe('/login');
    expect(result.title).toBe('Sign in');
    expect(result.username).toBe('username');
    // httpOnly `sid` is absent (not logged in anyway); the rolling cookie and the page's own cookie show.
    expect(result.cookie).toMatch(/roll=/);
    expect(result.cookie).toMatch(/pref=dark/);
    expect(await page.evaluate('localStorage.getItem("token")')).toBe('abc');
    expect(await page.evaluate(async () => sessionStorage.length)).toBe(1);
    await expect(
      page.evaluate(() => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('page.evaluate: Error: boom');
    const state = context.captureState();
    expect(state.origins).toEqual([{ origin: site.origin, localStorage: [{ name: 'token', value: 'abc' }] }]);
    expect(state.sessionStorage).toEqual([{ origin: site.origin, items: [{ name: 's', value: 'session' }] }]);
    expect(state.cookies.find((c) => c.name === 'pref')).toMatchObject({ httpOnly: false, expires: -1 });

    await page.goto('about:blank');
    await expect(page.evaluate(() => localStorage.length)).rejects.toThrow(/SecurityError/);
  });

  it('hides httpOnly cookies from document.cookie and submits forms with the keyboard', async () => {
    const { page } = await openPage();
    await page.fill('#username', 'alice');
    await page.type('#password', 'pw-');
    await page.locator('#password').pressSequentially('alice');
    expect(await page.inputValue('#password')).toBe('pw-alice');
    await page.keyboard.press('Enter');
    expect(page.url()).toMatch(/\/account$/);
    const cookie = await page.evaluate(() => document.cookie);
    expect(cookie).not.toMatch(/sid=/);
    expect((await page.context().cookies()).some((c) => c.name === 'sid' && c.httpOnly)).toBe(true);
    expect(await page.content()).toContain('<span id="user">alice</span>');
  });

  it('emits navigation and close events', async () => {
    const { page, context, site } = await openPage();
    const urls: string[] = [];
    page.on('framenavigated', (frame: { url(): string }) => urls.push(frame.url()));
    const pages: unknown[] = [];
    context.on('page', (p: unknown) => pages.push(p));
    await page.goto(`${site.origin}/account`);
    expect(urls).toEqual([`${site.origin}/login`]);
    const second = await context.newPage();
    expect(pages).toEqual([second]);
    expect(context.pages()).toHaveLength(2);
    let closes = 0;
    second.once('close', () => closes++);
    await second.close();
    await second.close();
    expect(closes).toBe(1);
    expect(context.pages()).toEqual([page]);
    await context.addInitScript(() => {}, 1);
    expect(context.initScripts).toHaveLength(1);
  });
});
