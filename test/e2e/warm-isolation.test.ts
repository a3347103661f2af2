/**
 * Runs on a reused page (the defaults: warm context, page kept between runs) in real Chromium: whatever a
 * task leaves behind — a dialog handler, a route, an open popup, a pending download, a `window` global, an
 * init script — does not reach the session's next run.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { AuthSessionManager, ChromiumProvider, createMemoryStore, defineAuth } from '../../src/index.js';

const KEY = Buffer.alloc(32, 7).toString('base64');

describe.runIf(process.platform === 'linux')('isolation of runs on a reused page (real Chromium)', () => {
  let server: http.Server;
  let origin = '';
  /** Download responses still streaming (a pending download), ended in afterAll. */
  const streaming = new Set<http.ServerResponse>();
  let provider: ChromiumProvider;
  let manager: AuthSessionManager;
  let id = '';

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const html = (body: string) => {
        res.setHeader('content-type', 'text/html');
        res.end(`<!doctype html><title>t</title>${body}`);
      };
      if (url.pathname === '/login') {
        res.setHeader('set-cookie', 'sid=ok; Path=/; HttpOnly');
        return html('<p id="user">alice</p>');
      }
      if (url.pathname === '/me') {
        const ok = /(?:^|; )sid=ok/.test(req.headers.cookie ?? '');
        return html(ok ? '<p id="user">alice</p>' : '<p id="out">logged out</p>');
      }
      if (url.pathname === '/download') {
        // Starts a download that never finishes on its own.
        res.setHeader('content-type', 'application/octet-stream');
        res.setHeader('content-disposition', 'attachment; filename="big.bin"');
        res.setHeader('content-length', String(1 << 30));
        res.write(Buffer.alloc(1024));
        streaming.add(res);
        res.on('close', () => streaming.delete(res));
        return;
      }
      if (url.pathname === '/data') {
        res.setHeader('content-type', 'text/plain');
        return res.end('from the server');
      }
      return html('<p id="page">plain</p><a id="dl" href="/download">get</a>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    provider = new ChromiumProvider({ maxContexts: 2 });
    manager = new AuthSessionManager({
      auths: [
        defineAuth({
          name: 'local',
          type: 'credentials',
          credentials: z.object({ user: z.string() }),
          async create({ page }) {
            await page.goto(`${origin}/login`);
          },
          async check({ page }) {
            await page.goto(`${origin}/me`);
            return (await page.locator('#user').count()) === 1;
          },
        }),
      ],
      store: createMemoryStore(),
      key: KEY,
      browser: provider,
    });
    id = (await manager.create('local', { credentials: { user: 'alice' } })).id;
  }, 60_000);

  afterAll(async () => {
    await manager?.close();
    await provider?.close();
    for (const res of streaming) res.destroy();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
  });

  /** Runs a task with a long check interval, as a user of the defaults would. */
  const run = <T>(
    task: (ctx: { page: Page; context: Page['context'] extends () => infer C ? C : never }) => Promise<T>,
  ) => manager.run(id, ({ page, context }) => task({ page, context }), { checkInterval: 3_600_000 });

  it('reuses the page, and a window global or a dialog handler left by a task is gone', async () => {
    let first: Page | undefined;
    let dialogs = 0;
    await run(async ({ page }) => {
      first = page;
      await page.goto(`${origin}/plain`);
      await page.evaluate(() => {
        (window as unknown as { leaked: string }).leaked = 'yes';
      });
    });
    await run(async ({ page }) => {
      expect(page).toBe(first);
      expect(await page.evaluate(() => (window as unknown as { leaked?: string }).leaked ?? null)).toBeNull();
      await page.goto(`${origin}/plain`);
      expect(await page.evaluate(() => (window as unknown as { leaked?: string }).leaked ?? null)).toBeNull();
      // Leave a handler that never answers the dialog.
      page.on('dialog', () => {
        dialogs++;
      });
    });
    const user = await run(async ({ page }) => {
      await page.goto(`${origin}/plain`);
      // Without a handler Playwright dismisses the dialog at once: the task is not blocked.
      const answer = await page.evaluate(() => confirm('still there?'));
      expect(answer).toBe(false);
      await page.goto(`${origin}/me`);
      return page.textContent('#user');
    });
    expect(user).toBe('alice');
    expect(dialogs).toBe(0);
  }, 60_000);

  it('a route or an init script left by a task does not reach the next run', async () => {
    await run(async ({ page, context }) => {
      await page.route('**/data', (route) => route.fulfill({ body: 'from the route' }));
      await context.addInitScript('window.injected = "init"');
      await page.goto(`${origin}/plain`);
      expect(await page.evaluate(() => fetch('/data').then((r) => r.text()))).toBe('from the route');
    });
    await run(async ({ page }) => {
      await page.goto(`${origin}/plain`);
      expect(await page.evaluate(() => fetch('/data').then((r) => r.text()))).toBe('from the server');
      expect(
        await page.evaluate(() => (window as unknown as { injected?: string }).injected ?? null),
      ).toBeNull();
    });
  }, 60_000);

  it('a route left on the reused page is removed before the next run (and a page without one is not unrouted)', async () => {
    let kept: Page | undefined;
    let unroutes: { mock: { calls: unknown[] } } | undefined;
    await run(async ({ page }) => {
      kept = page;
      unroutes = vi.spyOn(page, 'unrouteAll');
      await page.goto(`${origin}/plain`);
    });
    await run(async ({ page }) => {
      expect(page).toBe(kept);
      // The last run added no route: its clean-up did not pay for a round trip to unroute.
      expect(unroutes?.mock.calls.length).toBe(0);
      await page.route('**/data', (route) => route.fulfill({ body: 'from the route' }));
      await page.goto(`${origin}/plain`);
      expect(await page.evaluate(() => fetch('/data').then((r) => r.text()))).toBe('from the route');
    });
    await run(async ({ page }) => {
      expect(page).toBe(kept);
      expect(unroutes?.mock.calls.length).toBe(1);
      await page.goto(`${origin}/plain`);
      expect(await page.evaluate(() => fetch('/data').then((r) => r.text()))).toBe('from the server');
    });
  }, 60_000);

  it('a popup or a pending download left by a task is closed or cancelled before the next run', async () => {
    let popup: Page | undefined;
    let pageOfRun: Page | undefined;
    await run(async ({ page }) => {
      pageOfRun = page;
      await page.goto(`${origin}/plain`);
      const opening = page.waitForEvent('popup');
      await page.evaluate((url) => window.open(url), `${origin}/plain?popup`);
      popup = await opening;
      await popup.waitForLoadState('domcontentloaded');
      const downloading = page.waitForEvent('download');
      await page.click('#dl');
      await downloading;
    });
    expect(popup!.isClosed()).toBe(true);
    let downloads = 0;
    await run(async ({ page, context }) => {
      expect(page).toBe(pageOfRun);
      expect(context.pages()).toEqual([page]);
      page.on('download', () => downloads++);
      await page.goto(`${origin}/me`);
    });
    expect(downloads).toBe(0);
    // The server saw the download cancelled (its response closed).
    const deadline = Date.now() + 10_000;
    while (streaming.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(streaming.size).toBe(0);
  }, 60_000);
});
