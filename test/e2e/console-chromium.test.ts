/**
 * The web console in real Chromium, Playwright playing the operator: sign in (form, and `?token=` dropped from
 * the address), list and filter, live state over SSE, validate and delete from the page; the CSP holds (uPlot
 * and the console's script run, nothing is reported as blocked) and a label holding markup stays text.
 */
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findChromium } from '../../src/browser/find-executable.js';
import { createConsole, type ListeningConsole, type WebConsole } from '../../src/server/index.js';
import { type Harness, harness } from '../unit/helpers.js';

const TOKEN = 'e2e-console-token-0123456789';
const ALICE = { username: 'alice', password: 'pw-alice-1' };
const EVIL = '<img src=x onerror=alert(1)><script>alert(2)</script>';

let browser: Browser;
let h: Harness;
let web: WebConsole;
let server: ListeningConsole;

beforeAll(async () => {
  h = harness();
  for (let i = 0; i < 3; i++) {
    await h.manager.create('site', { id: `acme-${i}`, credentials: ALICE, labels: { customer: 'acme' } });
    await h.manager.create('site', { id: `globex-${i}`, credentials: ALICE, labels: { customer: 'globex' } });
  }
  await h.manager.create('site', { id: 'evil', credentials: ALICE, labels: { note: EVIL } });
  web = createConsole(h.manager, { token: TOKEN });
  server = await web.listen({ port: 0, host: '127.0.0.1' });
  browser = await chromium.launch({
    executablePath: findChromium(),
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
  });
});

afterAll(async () => {
  await browser?.close();
  await web?.close();
  await h?.manager.close();
});

/** A page that records CSP reports, script errors and dialogs (none may happen). */
async function watchedPage(): Promise<{ page: Page; problems: string[] }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  return { page, problems };
}

const rows = (page: Page) => page.locator('#sessions tbody tr [data-session-state]');

describe('web console in Chromium', () => {
  it('signs in with the form, lists, filters, updates live, validates and deletes from the page', async () => {
    const { page, problems } = await watchedPage();
    const first = await page.goto(server.url);
    expect(first?.status()).toBe(401);
    expect(await page.content()).not.toContain('acme-0');
    // The sign-in page itself answered 401: the one expected failed load.
    expect(problems).toEqual([
      'console: Failed to load resource: the server responded with a status of 401 (Unauthorized)',
    ]);
    problems.length = 0;
    await page.fill('#token', TOKEN);
    await page.click('button[type=submit]');
    await expect.poll(() => rows(page).count()).toBe(7);
    const cookies = await page.context().cookies();
    expect(cookies).toHaveLength(1);
    expect(cookies[0]).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    expect(cookies[0]?.value).not.toContain(TOKEN);
    // uPlot ran under the CSP: the chart is drawn.
    await page.locator('#chart .uplot canvas').first().waitFor({ timeout: 10_000 });
    // The label with markup is text.
    expect(await page.locator('.label', { hasText: 'note=' }).textContent()).toBe(`note=${EVIL}`);
    expect(await page.locator('#sessions img').count()).toBe(0);

    // Filter by label, then by state.
    await page.fill('#f-labels', 'customer=acme');
    await page.click('form.filters button[type=submit]');
    await expect.poll(() => rows(page).allTextContents()).toEqual(['active', 'active', 'active']);
    expect(new URL(page.url()).searchParams.get('labels')).toBe('customer=acme');
    expect(await page.locator('#sessions').textContent()).not.toContain('globex');
    await page.selectOption('#f-state', 'expired');
    await page.click('form.filters button[type=submit]');
    await expect.poll(() => rows(page).count()).toBe(0);

    // A session's page; its state changes live when it expires elsewhere.
    await page.goto(`${server.url}sessions/acme-1`);
    const badge = page.locator('h1 [data-session-state]');
    expect(await badge.textContent()).toBe('active');
    await page.locator('body[data-live=on]').waitFor(); // the event stream is connected
    h.site.changePassword('alice', 'pw-alice-2');
    h.site.expireSessions();
    await h.manager.validate('acme-1').catch(() => undefined);
    await expect.poll(() => badge.textContent(), { timeout: 10_000 }).toBe('expired');

    // Validate from the page (with the password back, the refresh logs in again).
    h.site.changePassword('alice', 'pw-alice-1');
    await page.goto(`${server.url}sessions/acme-2`);
    await page.getByRole('button', { name: 'Validate' }).click();
    await page.locator('.notice', { hasText: 'Validated' }).waitFor();
    expect((await h.manager.get('acme-2'))?.lastCheckedAt).toBeDefined();

    // Delete, confirmed.
    await page.getByRole('button', { name: 'Delete…' }).click();
    await page.locator('h1', { hasText: 'Delete session' }).waitFor();
    expect(await h.manager.get('acme-2')).toBeDefined();
    await page.getByRole('button', { name: 'Delete for good' }).click();
    await page.locator('.notice', { hasText: 'Session deleted' }).waitFor();
    expect(await h.manager.get('acme-2')).toBeUndefined();
    expect(await page.locator('#sessions').textContent()).not.toContain('acme-2');

    expect(problems).toEqual([]);
    await page.context().close();
  });

  it('takes ?token= once and drops it from the address', async () => {
    const { page, problems } = await watchedPage();
    await page.goto(`${server.url}?state=active&token=${TOKEN}`);
    expect(page.url()).toBe(`${server.url}?state=active`);
    await expect.poll(() => rows(page).count()).toBeGreaterThan(0);
    expect(await page.content()).not.toContain(TOKEN);
    expect(problems).toEqual([]);
    await page.context().close();
  });
});
