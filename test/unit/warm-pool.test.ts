import { afterEach, describe, expect, it } from 'vitest';
import {
  AuthSessionError,
  AuthSessionInvalidError,
  type AuthSessionManager,
  createMemoryStore,
} from '../../src/index.js';
import { FakeBrowserProvider } from '../../src/testing/index.js';
import { codeOf, deferred } from '../shared.js';
import { type Harness, harness, managerOver } from './helpers.js';

const alice = { username: 'alice', password: 'pw-alice-1' };
let h: Harness;
const extra: AuthSessionManager[] = [];

afterEach(async () => {
  for (const m of extra.splice(0)) await m.close();
  await h?.manager.close();
  await h?.browser.close();
});

/** A task that reads the logged-in user on the session's page. */
const whoAmI =
  (origin: string) =>
  async ({ page }: { page: import('playwright-core').Page }) => {
    await page.goto(`${origin}/account`);
    return page.textContent('#user');
  };

describe('warm contexts (fake browser)', () => {
  it('reuses one warm context across runs, one fresh page per run, without logging in again', async () => {
    h = harness({ warmContexts: { max: 2, reusePages: false } });
    const s = await h.manager.create('site', { credentials: alice });
    const opened = h.browser.stats().contextsOpened; // the login's context
    const pages = new Set<unknown>();
    for (let i = 0; i < 5; i++) {
      const user = await h.manager.run(s.id, async (ctx) => {
        pages.add(ctx.page);
        return whoAmI(h.site.origin)(ctx);
      });
      expect(user).toBe('alice');
      expect(h.browser.stats()).toMatchObject({ openContexts: 1, openPages: 0 });
    }
    expect(h.browser.stats().contextsOpened - opened).toBe(1);
    expect(pages.size).toBe(5);
    expect(h.site.counters.logins).toBe(1);
    // The check ran every time (checkInterval 0), in the warm context.
    expect(h.count('checked')).toBe(5);
  });

  it('saves the rolled cookies after each warm run, and a new manager can use them', async () => {
    h = harness({ warmContexts: true });
    const store = createMemoryStore();
    const first = managerOver(h, { store, warmContexts: true });
    extra.push(first);
    const s = await first.create('site', { credentials: alice });
    const revisions: number[] = [];
    for (let i = 0; i < 3; i++) {
      await first.run(s.id, whoAmI(h.site.origin));
      revisions.push((await first.get(s.id))!.revision);
    }
    expect(revisions[1]).toBeGreaterThan(revisions[0]!);
    expect(revisions[2]).toBeGreaterThan(revisions[1]!);
    await first.close();
    const second = managerOver(h, { store });
    extra.push(second);
    expect(await second.run(s.id, whoAmI(h.site.origin))).toBe('alice');
    expect(h.site.counters.logins).toBe(1);
  });

  it('keeps at most `max` warm contexts, evicting the least recently used idle one', async () => {
    h = harness({ warmContexts: { max: 2 } });
    const ids: string[] = [];
    for (const id of ['s1', 's2', 's3'])
      ids.push((await h.manager.create('site', { id, credentials: alice })).id);
    let peak = 0;
    const task = async () => {
      peak = Math.max(peak, h.browser.stats().openContexts);
    };
    await h.manager.run('s1', task);
    await h.manager.run('s2', task);
    expect(h.browser.stats().openContexts).toBe(2);
    const before = h.browser.stats().contextsOpened;
    await h.manager.run('s3', task); // evicts s1
    expect(h.browser.stats().openContexts).toBe(2);
    await h.manager.run('s2', task); // still warm
    expect(h.browser.stats().contextsOpened - before).toBe(1);
    await h.manager.run('s1', task); // evicted: opens again, evicting s3
    expect(h.browser.stats().contextsOpened - before).toBe(2);
    expect(h.browser.stats().openContexts).toBe(2);
    expect(peak).toBeLessThanOrEqual(2);
  });

  it('closes a warm context after idleMs without a run (fake clock)', async () => {
    h = harness({ warmContexts: { idleMs: 10_000 } });
    const s = await h.manager.create('site', { credentials: alice });
    await h.manager.run(s.id, () => 1);
    expect(h.browser.stats().openContexts).toBe(1);
    await h.clock.advanceAsync(9_999);
    expect(h.browser.stats().openContexts).toBe(1);
    // A run restarts the idle clock.
    await h.manager.run(s.id, () => 1);
    await h.clock.advanceAsync(9_999);
    expect(h.browser.stats().openContexts).toBe(1);
    await h.clock.advanceAsync(1);
    expect(h.browser.stats().openContexts).toBe(0);
    // And the next run simply opens a new one.
    expect(await h.manager.run(s.id, whoAmI(h.site.origin))).toBe('alice');
    expect(h.browser.stats().openContexts).toBe(1);
  });

  it('a refresh retires the logged-out warm context and the run continues in a new one', async () => {
    h = harness({ warmContexts: { reusePages: false } });
    const s = await h.manager.create('site', { credentials: alice });
    await h.manager.run(s.id, () => 1);
    const warm = h.browser.contexts[0]!;
    h.site.expireSessions();
    expect(await h.manager.run(s.id, whoAmI(h.site.origin))).toBe('alice');
    expect(h.count('refreshed')).toBe(1);
    expect(warm.isClosed()).toBe(true);
    expect(h.browser.stats()).toMatchObject({ openContexts: 1, openPages: 0 });
    expect(h.browser.contexts[0]).not.toBe(warm);
  });

  it('an expired session has its warm context closed at once', async () => {
    h = harness({ warmContexts: true, auth: { createAttempts: 1 } });
    const s = await h.manager.create('site', { credentials: alice });
    await h.manager.run(s.id, () => 1);
    h.site.changePassword('alice', 'changed');
    h.site.expireSessions();
    expect(await codeOf(h.manager.run(s.id, () => 1))).toBe('SESSION_EXPIRED');
    expect(h.count('expired')).toBe(1);
    expect(h.browser.stats()).toMatchObject({ openContexts: 0, openPages: 0 });
  });

  it('delete and update retire the warm context', async () => {
    h = harness({ warmContexts: true });
    const a = await h.manager.create('site', { id: 'a', credentials: alice });
    const b = await h.manager.create('site', { id: 'b', credentials: alice });
    await h.manager.run(a.id, () => 1);
    await h.manager.run(b.id, () => 1);
    expect(h.browser.stats().openContexts).toBe(2);
    await h.manager.update(a.id, { labels: { team: 'x' } });
    expect(h.browser.stats().openContexts).toBe(1);
    await h.manager.delete(b.id);
    expect(h.browser.stats().openContexts).toBe(0);
    // The updated session works and warms up again.
    expect(await h.manager.run(a.id, whoAmI(h.site.origin))).toBe('alice');
    expect(h.browser.stats().openContexts).toBe(1);
  });

  it('a state written by another manager (another process) retires the warm context', async () => {
    h = harness({ warmContexts: true });
    const store = createMemoryStore();
    const mk = (warmContexts: boolean) => {
      const m = managerOver(h, { store, warmContexts });
      extra.push(m);
      return m;
    };
    const one = mk(true);
    const other = mk(false);
    const s = await one.create('site', { credentials: alice });
    await one.run(s.id, whoAmI(h.site.origin));
    const warm = h.browser.contexts[0]!;
    await one.run(s.id, whoAmI(h.site.origin));
    expect(h.browser.contexts[0]).toBe(warm);
    // The other process rolls the cookies and saves them: our warm context now holds older ones.
    await other.run(s.id, whoAmI(h.site.origin));
    await one.run(s.id, whoAmI(h.site.origin));
    expect(warm.isClosed()).toBe(true);
    expect(h.browser.stats().openContexts).toBe(1);
  });

  it('a task that finds itself logged out discards the warm context and retries once', async () => {
    h = harness({ warmContexts: { reusePages: false } });
    const s = await h.manager.create('site', { credentials: alice });
    await h.manager.run(s.id, () => 1);
    const warm = h.browser.contexts[0]!;
    let calls = 0;
    const result = await h.manager.run(s.id, async (ctx) => {
      calls++;
      if (calls === 1) throw new AuthSessionInvalidError();
      return whoAmI(h.site.origin)(ctx);
    });
    expect(result).toBe('alice');
    expect(warm.isClosed()).toBe(true);
    expect(h.browser.stats()).toMatchObject({ openContexts: 1, openPages: 0 });
  });

  it('manager.close() closes every warm context, even one in use', async () => {
    h = harness({ warmContexts: { max: 4, reusePages: false } });
    for (const id of ['a', 'b', 'c']) {
      await h.manager.create('site', { id, credentials: alice });
      await h.manager.run(id, () => 1);
    }
    const hold = deferred();
    const running = h.manager.run('a', () => hold.promise).catch((e: unknown) => e);
    await h.clock.advanceAsync(0);
    expect(h.browser.stats()).toMatchObject({ openContexts: 3, openPages: 1 });
    await h.manager.close();
    expect(h.browser.stats()).toMatchObject({ openContexts: 0, openPages: 0 });
    hold.resolve();
    const err = await running;
    expect(err).toBeInstanceOf(AuthSessionError);
    expect((err as AuthSessionError).code).toBe('CLOSED');
  });

  it('concurrent runs of one session share one context, one page each, bounded by pagesPerContext', async () => {
    h = harness({ warmContexts: { pagesPerContext: 3, reusePages: false } });
    const s = await h.manager.create('site', { credentials: alice });
    const before = h.browser.stats().contextsOpened;
    let peakPages = 0;
    let running = 0;
    let peakRunning = 0;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        h.manager.run(s.id, async ({ page }) => {
          running++;
          peakRunning = Math.max(peakRunning, running);
          peakPages = Math.max(peakPages, h.browser.stats().openPages);
          await page.goto(`${h.site.origin}/account`);
          await new Promise((r) => setImmediate(r));
          running--;
          return (await page.textContent('#user')) === 'alice' ? i : -1;
        }),
      ),
    );
    expect(results).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(h.browser.stats().contextsOpened - before).toBe(1);
    expect(peakRunning).toBe(3);
    expect(peakPages).toBeLessThanOrEqual(3);
    expect(h.browser.stats()).toMatchObject({ openContexts: 1, openPages: 0, waiting: 0 });
    expect(h.site.counters.logins).toBe(1);
  });

  it('1,000 concurrent runs on a lapsed session with warm contexts: one refresh, all succeed', async () => {
    h = harness({ warmContexts: { reusePages: false } });
    const s = await h.manager.create('site', { credentials: alice });
    await h.manager.run(s.id, () => 1);
    h.site.expireSessions();
    const logins = h.site.counters.logins;
    const results = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => h.manager.run(s.id, async () => i)),
    );
    expect(results).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(h.site.counters.logins - logins).toBe(1);
    expect(h.count('refreshed')).toBe(1);
    expect(h.browser.stats()).toMatchObject({ openContexts: 1, openPages: 0, waiting: 0 });
  });

  it('when every warm context is busy and the pool is full, a run gets a one-off context', async () => {
    h = harness({ warmContexts: { max: 1, reusePages: false } });
    await h.manager.create('site', { id: 'a', credentials: alice });
    await h.manager.create('site', { id: 'b', credentials: alice });
    const hold = deferred();
    const a = h.manager.run('a', () => hold.promise);
    await h.clock.advanceAsync(0);
    expect(await h.manager.run('b', whoAmI(h.site.origin))).toBe('alice');
    expect(h.browser.stats().openContexts).toBe(1); // b's one-off context is closed
    hold.resolve();
    await a;
    expect(h.browser.stats()).toMatchObject({ openContexts: 1, openPages: 0 });
  });

  it('idle warm contexts give their slot up when the browser provider is full (no deadlock)', async () => {
    h = harness();
    const browser = new FakeBrowserProvider({ sites: [h.site], maxContexts: 1 });
    const manager = managerOver(h, { browser, warmContexts: { max: 4 } });
    extra.push(manager);
    await manager.create('site', { id: 'a', credentials: alice });
    await manager.create('site', { id: 'b', credentials: alice });
    await manager.run('a', () => 1);
    expect(browser.stats().openContexts).toBe(1);
    // b needs the only slot, which a's idle warm context holds.
    expect(await manager.run('b', whoAmI(h.site.origin))).toBe('alice');
    // A refresh's login context too.
    h.site.expireSessions();
    expect(await manager.run('b', whoAmI(h.site.origin))).toBe('alice');
    expect(browser.stats()).toMatchObject({ openContexts: 1, waiting: 0 });
    await manager.close();
    await browser.close();
  });

  it('a run waiting for a page of its warm context can be aborted', async () => {
    h = harness({ warmContexts: { pagesPerContext: 1, reusePages: false } });
    const s = await h.manager.create('site', { credentials: alice });
    const hold = deferred();
    const first = h.manager.run(s.id, () => hold.promise);
    await h.clock.advanceAsync(0);
    const controller = new AbortController();
    const second = h.manager.run(s.id, () => 2, { signal: controller.signal });
    await h.clock.advanceAsync(0);
    controller.abort();
    expect(await codeOf(second)).toBe('ABORTED');
    hold.resolve();
    await first;
    expect(h.browser.stats()).toMatchObject({ openContexts: 1, openPages: 0, waiting: 0 });
  });

  it('rejects bad warmContexts options with INVALID_OPTIONS', async () => {
    for (const warmContexts of [-1, 1.5, { max: 0 }, { idleMs: 0 }, { pagesPerContext: -2 }, 'x']) {
      expect(() => harness({ warmContexts: warmContexts as never })).toThrow(
        expect.objectContaining({ code: 'INVALID_OPTIONS' }),
      );
    }
    // Off: no pool, contexts closed after each run as before.
    h = harness({ warmContexts: false });
    const s = await h.manager.create('site', { credentials: alice });
    await h.manager.run(s.id, () => 1);
    expect(h.browser.stats().openContexts).toBe(0);
  });
});
