import type { Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveWarmContexts } from '../../src/browser/warm-pool.js';
import { FakeBrowserProvider } from '../../src/testing/index.js';
import { deferred } from '../shared.js';
import { type Harness, harness, managerOver } from './helpers.js';

const alice = { username: 'alice', password: 'pw-alice-1' };
let h: Harness | undefined;
const extra: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const close of extra.splice(0)) await close();
  await h?.manager.close();
  await h?.browser.close();
  h = undefined;
});

describe('warm contexts by default (fake browser)', () => {
  it('resolves an absent option to the pool with page reuse, and false or 0 to no pool', () => {
    expect(resolveWarmContexts(undefined)).toEqual({
      max: 4,
      idleMs: 30_000,
      pagesPerContext: 4,
      reusePages: true,
    });
    expect(resolveWarmContexts(true)).toEqual(resolveWarmContexts(undefined));
    expect(resolveWarmContexts(false)).toBeUndefined();
    expect(resolveWarmContexts(0)).toBeUndefined();
    expect(resolveWarmContexts({ reusePages: false })?.reusePages).toBe(false);
  });

  it('a manager without options keeps the context and the page between runs', async () => {
    h = harness();
    const s = await h.manager.create('site', { credentials: alice });
    const opened = h.browser.stats().contextsOpened;
    const pages = new Set<Page>();
    for (let i = 0; i < 3; i++) {
      const user = await h.manager.run(s.id, async ({ page }) => {
        pages.add(page);
        await page.goto(`${h!.site.origin}/account`);
        return page.textContent('#user');
      });
      expect(user).toBe('alice');
    }
    expect(h.browser.stats().contextsOpened - opened).toBe(1);
    expect(pages.size).toBe(1);
    // The kept page was navigated away between runs: the next run does not start on the last document.
    expect([...pages][0]!.url()).toBe('about:blank');
  });

  it('a run takes a kept page already cleaned rather than wait for the clean-up of a later one', async () => {
    h = harness();
    const s = await h.manager.create('site', { credentials: alice });
    // Two runs at once: two pages, both kept.
    const both = deferred();
    const pages = await Promise.all(
      [0, 1]
        .map(() =>
          h!.manager.run(s.id, async ({ page }) => {
            await page.goto(`${h!.site.origin}/account`);
            await both.promise;
            return page;
          }),
        )
        .concat([both.resolve() as never]),
    );
    const [first, second] = pages as [Page, Page];
    expect(first).not.toBe(second);
    // The next run's page is kept, but its reset to about:blank is held.
    const held = deferred();
    const slow = await h.manager.run(s.id, async ({ page }) => {
      const goto = page.goto.bind(page);
      page.goto = (async (url: string, options?: Parameters<Page['goto']>[1]) => {
        if (url === 'about:blank') await held.promise;
        return goto(url, options);
      }) as Page['goto'];
      await page.goto(`${h!.site.origin}/account`);
      return page;
    });
    // Another run does not wait for that reset: it gets the other page, clean.
    // (No check before the task: the check would navigate first.)
    const next = await h.manager.run(s.id, async ({ page }) => ({ page, url: page.url() }), {
      checkInterval: 3_600_000,
    });
    expect(next.page).not.toBe(slow);
    expect([first, second]).toContain(next.page);
    expect(next.url).toBe('about:blank');
    held.resolve();
  });

  it('warmContexts: false opens a fresh context for every run', async () => {
    h = harness({ warmContexts: false });
    const s = await h.manager.create('site', { credentials: alice });
    const opened = h.browser.stats().contextsOpened;
    for (let i = 0; i < 3; i++) await h.manager.run(s.id, () => 1);
    expect(h.browser.stats().contextsOpened - opened).toBe(3);
    expect(h.browser.stats()).toMatchObject({ openContexts: 0, openPages: 0 });
  });

  it('a task that adds an init script to the context gets the session a fresh context next time', async () => {
    h = harness();
    const s = await h.manager.create('site', { credentials: alice });
    const contexts: unknown[] = [];
    await h.manager.run(s.id, ({ context }) => {
      contexts.push(context);
    });
    await h.manager.run(s.id, async ({ context }) => {
      contexts.push(context);
      await context.addInitScript('window.leak = 1');
    });
    await h.manager.run(s.id, ({ context }) => {
      contexts.push(context);
    });
    await h.manager.run(s.id, ({ context }) => {
      contexts.push(context);
    });
    expect(contexts[1]).toBe(contexts[0]);
    expect(contexts[2]).not.toBe(contexts[1]);
    expect(contexts[3]).toBe(contexts[2]);
    // The dirty context was closed, not kept beside the new one; no login was needed for the new one.
    expect(h.browser.stats().openContexts).toBe(1);
    expect(h.site.counters.logins).toBe(1);
    const newest = h.browser.lastContext!;
    expect(newest.initScripts.some((s) => String(s.script).includes('leak'))).toBe(false);
  });

  it('a task that changes a page setting gets a new page (same context) next time', async () => {
    h = harness();
    const s = await h.manager.create('site', { credentials: alice });
    const seen: Array<{ page: Page; context: unknown }> = [];
    await h.manager.run(s.id, ({ page, context }) => {
      seen.push({ page, context });
      page.setDefaultTimeout(1);
    });
    await h.manager.run(s.id, ({ page, context }) => {
      seen.push({ page, context });
    });
    expect(seen[1]!.page).not.toBe(seen[0]!.page);
    expect(seen[0]!.page.isClosed()).toBe(true);
    expect(seen[1]!.context).toBe(seen[0]!.context);
  });

  it('warm contexts and their pages never exceed the browser slots, and every run succeeds', async () => {
    h = harness();
    const browser = new FakeBrowserProvider({ sites: [h.site], maxContexts: 2 });
    const manager = managerOver(h, { browser });
    extra.push(async () => {
      await manager.close();
      await browser.close();
    });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await manager.create('site', { credentials: alice })).id);
    let peakContexts = 0;
    let peakPages = 0;
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        manager.run(ids[i % ids.length]!, async ({ page }) => {
          await page.goto(`${h!.site.origin}/account`);
          const stats = browser.stats();
          peakContexts = Math.max(peakContexts, stats.openContexts);
          peakPages = Math.max(peakPages, stats.openPages);
          return page.textContent('#user');
        }),
      ),
    );
    expect(results.every((user) => user === 'alice')).toBe(true);
    expect(peakContexts).toBeLessThanOrEqual(2);
    // pagesPerContext (4) per context at most.
    expect(peakPages).toBeLessThanOrEqual(8);
    expect(browser.stats().openContexts).toBeLessThanOrEqual(2);
    expect(browser.stats().waiting).toBe(0);
  });
});
