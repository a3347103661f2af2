/**
 * Connect links in real Chromium: the connect routes mounted by the console on 127.0.0.1, a person's browser
 * driven by Playwright, the demo site as the remote site. A credentials auth with an e-mailed one-time code
 * answered in the page; a recorder auth logged in through the live view only (clicks, typing and a paste on
 * the streamed picture); a used link refused; a live view left alone gives up and closes its browser.
 */

import { randomBytes } from 'node:crypto';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type DemoSite, startDemoSite } from '../../examples/demo-site/server.js';
import { findChromium } from '../../src/browser/find-executable.js';
import { AuthSessionManager, ChromiumProvider, createMemoryStore, defineAuth } from '../../src/index.js';
import { createConsole, type ListeningConsole, type WebConsole } from '../../src/server/index.js';

const KEY = randomBytes(32).toString('base64');
const ALICE = { username: 'alice', password: 'wonderland-42' };
const EVE = { username: 'eve', password: 'pw-eve-connect-9' };

let site: DemoSite;
const provider = new ChromiumProvider({ maxContexts: 2 });
let manager: AuthSessionManager;
let web: WebConsole;
let listening: ListeningConsole;
/** The person's own browser. */
let person: Browser;

function auths() {
  return [
    defineAuth({
      name: 'mail',
      type: 'credentials',
      credentials: z.object({ username: z.string(), password: z.string() }),
      retryDelay: 250,
      createAttempts: 1,
      async create({ page, credentials, requestInput }) {
        await page.goto(`${site.url}/login`);
        await page.fill('#username', credentials.username);
        await page.fill('#password', credentials.password);
        await page.click('#login');
        await page.locator('#user, #code, #error').first().waitFor({ timeout: 15_000 });
        if ((await page.locator('#code').count()) > 0) {
          const code = await requestInput({ kind: 'otp', message: 'Enter the 6-digit code we e-mailed you' });
          await page.fill('#code', code);
          await page.click('#verify');
        }
        await page.locator('#user, #error').first().waitFor({ timeout: 15_000 });
        if ((await page.locator('#user').count()) === 0) throw new Error('The demo site refused the login');
      },
      async check({ page }) {
        await page.goto(`${site.url}/account`);
        return new URL(page.url()).pathname === '/account' && (await page.locator('#user').count()) === 1;
      },
    }),
    defineAuth({
      name: 'portal',
      type: 'recorder',
      startUrl: `${site.url}/login`,
      finishUrl: `${site.url}/account`,
      async check({ page }) {
        await page.goto(`${site.url}/account`);
        await page.waitForSelector('#user, #login-required, #username', { timeout: 10_000 });
        return (await page.locator('#user').count()) > 0;
      },
    }),
  ];
}

beforeAll(async () => {
  site = await startDemoSite({ users: [ALICE, { ...EVE, emailCode: true }] });
  manager = new AuthSessionManager({
    auths: auths(),
    store: createMemoryStore(),
    key: KEY,
    browser: provider,
    // These tests count the browser contexts the live view opens and closes: no warm contexts kept by runs.
    warmContexts: false,
  });
  // The connect pages as users get them: mounted by the console, links made by the console.
  web = createConsole(manager, { connect: { leaveTimeoutMs: 3_000 } });
  listening = await web.listen();
  person = await chromium.launch({
    executablePath: findChromium(),
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
});

afterAll(async () => {
  await person?.close();
  await listening?.close();
  await web?.close();
  await manager?.close();
  await provider.close();
  await site?.close();
});

async function personPage(): Promise<{ page: Page; close: () => Promise<void> }> {
  const context = await person.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  return { page, close: () => context.close() };
}

async function inbox(user: string): Promise<string> {
  const body = (await (await fetch(`${site.url}/__admin/inbox?user=${user}`)).json()) as {
    code: string | null;
  };
  if (!body.code) throw new Error('no e-mail code yet');
  return body.code;
}

describe('connect links in real Chromium', () => {
  it('credentials: the form, then the e-mailed code in the same page, then connected; the used link is refused', async () => {
    const { url } = await web.connectLink({ auth: 'mail', labels: { customer: 'acme' } }, { ttlMs: 120_000 });
    const { page, close } = await personPage();
    try {
      const first = await page.goto(url);
      expect(first?.status()).toBe(200);
      await page.fill('#f-username', EVE.username);
      await page.fill('#f-password', EVE.password);
      expect(await page.getAttribute('#f-password', 'type')).toBe('password');
      await page.click('#connect');
      await page.getByText('Enter the 6-digit code we e-mailed you').waitFor({ timeout: 30_000 });
      expect(new URL(page.url()).pathname).toBe(new URL(url).pathname);
      await page.fill('#f-input', await inbox(EVE.username));
      await page.click('#send');
      await page
        .locator('#connected')
        .waitFor({ timeout: 30_000 })
        .catch(async (err) => {
          throw new Error(`${err}\n${await page.content()}`);
        });
      expect(await page.content()).not.toContain(EVE.password);
    } finally {
      await close();
    }
    const sessions = await manager.list({ auth: 'mail' });
    expect(sessions).toEqual([expect.objectContaining({ state: 'active', labels: { customer: 'acme' } })]);

    const stranger = await personPage();
    try {
      const again = await stranger.page.goto(url);
      expect(again?.status()).toBe(403);
      expect(await stranger.page.textContent('#refused')).toContain('used already');
    } finally {
      await stranger.close();
    }
  }, 120_000);

  it('recorder: the person logs in through the live view only (clicks and typing on the picture) and the session becomes active', async () => {
    const { url } = await web.connectLink({ auth: 'portal', labels: { team: 'ops' } });
    const { page, close } = await personPage();
    let reference: BrowserContext | undefined;
    try {
      await page.goto(url);
      await page.click('#start');
      const screen = page.locator('#screen');
      await expect
        .poll(() => screen.evaluate((img: HTMLImageElement) => img.naturalWidth), { timeout: 30_000 })
        .toBeGreaterThan(0);
      const width = Number(await screen.getAttribute('data-width'));
      const height = Number(await screen.getAttribute('data-height'));
      expect(width).toBeGreaterThan(0);

      // Where the fields are on the remote page, from the same login page at the same viewport size: what a
      // person sees on the picture. Nothing reaches the remote page but the live view's own input.
      reference = await person.newContext({ viewport: { width, height } });
      const ref = await reference.newPage();
      await ref.goto(`${site.url}/login`);
      const spot = async (selector: string) => {
        const box = (await ref.locator(selector).boundingBox())!;
        return { fx: (box.x + box.width / 2) / width, fy: (box.y + box.height / 2) / height };
      };
      const clickOnPicture = async (selector: string) => {
        const { fx, fy } = await spot(selector);
        const img = (await screen.boundingBox())!;
        await page.mouse.click(img.x + fx * img.width, img.y + fy * img.height);
      };

      await clickOnPicture('#username');
      await page.keyboard.type(ALICE.username.slice(0, 3));
      // The rest is pasted: a paste event on the focused live view, as Ctrl+V with text on the clipboard makes.
      await page.evaluate((text) => {
        const data = new DataTransfer();
        data.setData('text/plain', text);
        document.activeElement!.dispatchEvent(
          new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }),
        );
      }, ALICE.username.slice(3));
      await clickOnPicture('#password');
      await page.keyboard.type(ALICE.password);
      await clickOnPicture('#login');

      await page
        .locator('#live[data-step="connected"]')
        .waitFor({ timeout: 60_000 })
        .catch(async (err) => {
          throw new Error(`${err}\n${await page.content()}`);
        });
      expect(await page.textContent('#status')).toContain('Connected');
    } finally {
      await reference?.close();
      await close();
    }
    const sessions = await manager.list({ auth: 'portal' });
    expect(sessions).toEqual([expect.objectContaining({ state: 'active', labels: { team: 'ops' } })]);
    const title = await manager.run(sessions[0]!.id, async ({ page: p }) => {
      await p.goto(`${site.url}/account`);
      return p.textContent('#user');
    });
    expect(title).toBe(ALICE.username);
    await expect.poll(() => provider.stats().openContexts, { timeout: 10_000 }).toBe(0);

    const stranger = await personPage();
    try {
      expect((await stranger.page.goto(url))?.status()).toBe(403);
    } finally {
      await stranger.close();
    }
  }, 180_000);

  it('recorder: a live view nobody watches any more gives up and closes its browser', async () => {
    const { url } = await web.connectLink({ auth: 'portal' });
    const { page, close } = await personPage();
    await page.goto(url);
    await page.click('#start');
    await expect
      .poll(() => page.locator('#screen').evaluate((img: HTMLImageElement) => img.naturalWidth), {
        timeout: 30_000,
      })
      .toBeGreaterThan(0);
    expect(provider.stats().openContexts).toBe(1);
    await close(); // the person leaves
    await expect.poll(() => provider.stats().openContexts, { timeout: 20_000 }).toBe(0);
    expect(await manager.list({ auth: 'portal', state: 'active' })).toHaveLength(1); // only the earlier one
  }, 120_000);
});
