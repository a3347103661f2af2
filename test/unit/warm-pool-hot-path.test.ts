/**
 * The performance levers around the warm pool: reused pages, the SQLite store used directly (keyset listing,
 * atomic compare-and-set, no re-read before a write), the decoded-record cache, and runs yielding their place
 * in the browser queue to a refresh in progress. Behaviour only: timings are measured by `npm run bench`.
 */
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Keyv from 'keyv';
import type { BrowserContext, Page } from 'playwright-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AuthSessionError,
  AuthSessionInvalidError,
  AuthSessionManager,
  type BrowserProvider,
  type BrowserProviderStats,
  type ContextLease,
  createMemoryStore,
  createSqliteStore,
  defineAuth,
} from '../../src/index.js';
import { SessionStore } from '../../src/store/session-store.js';
import { FakeBrowserProvider } from '../../src/testing/index.js';
import { deferred } from '../shared.js';
import { credentialsSchema, type Harness, harness, managerOver, TEST_KEY } from './helpers.js';

const alice = { username: 'alice', password: 'pw-alice-1' };
let h: Harness | undefined;
let dir: string;
const cleanup: Array<() => Promise<unknown> | unknown> = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'auth-sessions-hot-path-'));
});

afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
  await h?.manager.close();
  await h?.browser.close();
  h = undefined;
  rmSync(dir, { recursive: true, force: true });
});

function sqlite(options: { iterationLimit?: number } = {}): Keyv {
  const store = createSqliteStore(join(dir, 'sessions.sqlite'), options);
  cleanup.push(() => store.disconnect());
  return store;
}

/** Counts the SQL statements a SQLite Keyv store runs. */
function countQueries(store: Keyv): string[] {
  const adapter = store.store as { query: (sql: string, ...params: unknown[]) => Promise<unknown[]> };
  const original = adapter.query;
  const log: string[] = [];
  adapter.query = (sql, ...params) => {
    log.push(sql.trim().split(/\s+/)[0]!.toUpperCase());
    return original.call(adapter, sql, ...params);
  };
  return log;
}

describe('reused pages (warmContexts.reusePages)', () => {
  it('hands the same page to the next run of the session and closes it with the context', async () => {
    h = harness({ warmContexts: { reusePages: true } });
    const s = await h.manager.create('site', { credentials: alice });
    const pages: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      await h.manager.run(s.id, async ({ page }) => {
        pages.push(page);
        await page.goto(`${h!.site.origin}/account`);
      });
      expect(h.browser.stats()).toMatchObject({ openContexts: 1, openPages: 1 });
    }
    expect(new Set(pages).size).toBe(1);
    await h.manager.close();
    expect(h.browser.stats()).toMatchObject({ openContexts: 0, openPages: 0 });
  });

  it("a run's capture leaves the pages of the session's other runs to their own captures", async () => {
    h = harness();
    const s = await h.manager.create('site', { credentials: alice });
    // What each capture is told about pages in use, by the run (task label) that asked for it.
    const told: { label: string; inUse: unknown[] }[] = [];
    const newContext = h.browser.newContext.bind(h.browser);
    let label = '';
    h.browser.newContext = async (request) => {
      const lease = await newContext(request);
      const capture = lease.captureState.bind(lease);
      lease.captureState = (options) => {
        told.push({ label, inUse: [...(options?.inUse ?? [])] });
        return capture(options);
      };
      return lease;
    };
    const site = h.site.origin;
    const bHolds = deferred();
    const bRunning = deferred();
    let bPage: unknown;
    const b = h.manager.run(s.id, async ({ page }) => {
      bPage = page;
      await page.goto(`${site}/account`);
      bRunning.resolve();
      await bHolds.promise;
      label = 'b';
    });
    await bRunning.promise;
    let aPage: unknown;
    await h.manager.run(s.id, async ({ page }) => {
      aPage = page;
      await page.goto(`${site}/account`);
      label = 'a';
    });
    bHolds.resolve();
    await b;
    expect(aPage).not.toBe(bPage);
    expect(told.map((t) => t.label)).toEqual(['a', 'b']);
    // A's capture left B's page alone (B was still going on); B's, with A done, had nothing to leave.
    expect(told[0]!.inUse).toEqual([bPage]);
    expect(told[1]!.inUse).toEqual([]);
  });

  it('never keeps the page of a run that found itself logged out', async () => {
    h = harness({ warmContexts: { reusePages: true } });
    const s = await h.manager.create('site', { credentials: alice });
    const pages: unknown[] = [];
    let calls = 0;
    await h.manager.run(s.id, ({ page }) => {
      pages.push(page);
    });
    await h.manager.run(s.id, ({ page }) => {
      pages.push(page);
      if (++calls === 1) throw new AuthSessionInvalidError();
    });
    expect(pages[1]).toBe(pages[0]);
    expect(pages[2]).not.toBe(pages[0]);
    expect((pages[0] as Page).isClosed()).toBe(true);
  });

  it('removes the listeners a task added before the next run gets the page', async () => {
    const browser = new StubProvider();
    const manager = stubManager(browser, { reusePages: true });
    cleanup.push(() => manager.close());
    await manager.create('stub', { id: 's', credentials: alice });
    const own = () => {};
    let page: EventEmitter | undefined;
    await manager.run('s', ({ page: p }) => {
      page = p as unknown as EventEmitter;
      page.on('console', own);
      page.once('response', own);
      page.on('close', own);
    });
    await manager.run('s', ({ page: p }) => {
      expect(p).toBe(page);
      expect(page!.listenerCount('console')).toBe(0);
      expect(page!.listenerCount('response')).toBe(0);
      // The provider's own tracking listener stays; the task's is gone.
      expect(page!.listenerCount('close')).toBe(1);
    });
  });

  it('closes a page that got a dialog handler instead of handing it to the next run', async () => {
    const browser = new StubProvider();
    const manager = stubManager(browser, { reusePages: true });
    cleanup.push(() => manager.close());
    await manager.create('stub', { id: 's', credentials: alice });
    let first: StubPage | undefined;
    await manager.run('s', ({ page }) => {
      first = page as unknown as StubPage;
      page.on('dialog', () => {});
    });
    await manager.run('s', ({ page }) => {
      expect(page).not.toBe(first);
      expect((page as unknown as StubPage).listenerCount('dialog')).toBe(0);
    });
    expect(first!.isClosed()).toBe(true);
  });

  it('a new page per run with reusePages: false', async () => {
    h = harness({ warmContexts: { reusePages: false } });
    const s = await h.manager.create('site', { credentials: alice });
    const pages: Page[] = [];
    await h.manager.run(s.id, ({ page }) => {
      pages.push(page);
    });
    await h.manager.run(s.id, ({ page }) => {
      pages.push(page);
    });
    expect(pages[0]).not.toBe(pages[1]);
    expect(pages[0]!.isClosed()).toBe(true);
    expect(h.browser.stats()).toMatchObject({ openContexts: 1, openPages: 0 });
  });
});

describe('SQLite store used directly', () => {
  it('lists every session across many keyset pages, in id order, and nothing else', async () => {
    const store = sqlite({ iterationLimit: 3 });
    h = harness({ store });
    for (let i = 0; i < 10; i++) {
      await h.manager.create('site', {
        id: `s${i}`,
        credentials: alice,
        labels: { even: String(i % 2 === 0) },
      });
    }
    // Keys of another namespace in the same table, and the library's meta keys, are not sessions.
    const other = createSqliteStore(join(dir, 'sessions.sqlite'), { namespace: 'someone-else' });
    cleanup.push(() => other.disconnect());
    await other.set('session/intruder', 'x');
    const all = await h.manager.list();
    expect(all.map((s) => s.id)).toEqual(['s0', 's1', 's2', 's3', 's4', 's5', 's6', 's7', 's8', 's9']);
    const even = await h.manager.list({ labels: { even: 'true' } });
    expect(even.map((s) => s.id)).toEqual(['s0', 's2', 's4', 's6', 's8']);
    expect((await h.manager.list({ limit: 4 })).length).toBe(4);
  });

  it('skips a damaged record while listing (with a warning) and lists the rest', async () => {
    const store = sqlite({ iterationLimit: 2 });
    h = harness({ store });
    for (const id of ['a', 'b', 'c']) await h.manager.create('site', { id, credentials: alice });
    await store.set('session/b', '{"v":1,"id":"b"}');
    expect((await h.manager.list()).map((s) => s.id)).toEqual(['a', 'c']);
    expect(h.count('warning')).toBe(1);
  });

  it('a run with a check reads its record once and writes it with one atomic statement', async () => {
    const store = sqlite();
    h = harness({ store });
    const s = await h.manager.create('site', { credentials: alice });
    await h.manager.run(s.id, () => 1);
    const queries = countQueries(store);
    await h.manager.run(s.id, () => 1);
    expect(queries).toEqual(['SELECT', 'UPDATE']);
  });

  it('a conditional write still loses to a write made elsewhere in between (STALE_WRITE)', async () => {
    const store = sqlite();
    h = harness({ store });
    const s = await h.manager.create('site', { credentials: alice });
    const mine = new SessionStore(store);
    const theirs = new SessionStore(sqlite());
    const seen = await mine.require(s.id);
    await theirs.write({ ...seen, revision: seen.revision + 1 }, { revision: seen.revision });
    const err = await mine.write({ ...seen, revision: seen.revision + 1 }, { revision: seen.revision }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AuthSessionError);
    expect((err as AuthSessionError).code).toBe('STALE_WRITE');
    // And a write against the current revision goes through.
    const current = await mine.require(s.id);
    await mine.write({ ...current, revision: current.revision + 1 }, { revision: current.revision });
    expect((await theirs.require(s.id)).revision).toBe(current.revision + 1);
    mine.detach();
    theirs.detach();
  });

  it('a write conditioned on "no record yet" (revision -1) inserts once', async () => {
    const store = sqlite();
    h = harness({ store });
    const s = await h.manager.create('site', { credentials: alice });
    const sessions = new SessionStore(store);
    const record = await sessions.require(s.id);
    const copy = { ...record, id: 'copy', revision: 0 };
    await sessions.write(copy, { revision: -1 });
    const again = await sessions.write(copy, { revision: -1 }).catch((e: unknown) => e);
    expect((again as AuthSessionError).code).toBe('STALE_WRITE');
    sessions.detach();
  });
});

describe('decoded-record cache', () => {
  it('hands out copies: changing a record read does not change the next read', async () => {
    const keyv = createMemoryStore();
    h = harness({ store: keyv });
    const s = await h.manager.create('site', { credentials: alice });
    const sessions = new SessionStore(keyv);
    const first = await sessions.require(s.id);
    first.labels.changed = 'yes';
    (first as { revision: number }).revision = 999;
    const second = await sessions.require(s.id);
    expect(second.labels.changed).toBeUndefined();
    expect(second.revision).not.toBe(999);
    sessions.detach();
  });

  it('never hides a record changed in the store behind the cache (tampering is still caught)', async () => {
    const keyv = createMemoryStore();
    h = harness({ store: keyv });
    const s = await h.manager.create('site', { credentials: alice });
    await h.manager.get(s.id);
    const raw = String(await keyv.get(`session/${s.id}`));
    await keyv.set(`session/${s.id}`, raw.replace('"state":"active"', '"state":"hacked"'));
    const err = await h.manager.run(s.id, () => 1).catch((e: unknown) => e);
    expect((err as AuthSessionError).code).toBe('CORRUPT_RECORD');
  });
});

describe('runs yield their place in the browser queue to a refresh', () => {
  it('1,000 runs on an expired session behind 4 browser slots: few checks, one login, all succeed', async () => {
    h = harness();
    const browser = new FakeBrowserProvider({ sites: [h.site], maxContexts: 4 });
    const manager = managerOver(h, {
      browser,
      // Fresh contexts queued behind the slots (the warm-context variant is in warm-pool.test.ts).
      warmContexts: false,
    });
    cleanup.push(() => manager.close());
    let checks = 0;
    manager.on('checked', () => checks++);
    const s = await manager.create('site', { credentials: alice });
    h.site.expireSessions();
    const logins = h.site.counters.logins;
    const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => manager.run(s.id, () => i)));
    expect(results).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(h.site.counters.logins - logins).toBe(1);
    // Without yielding, every run would check the old state before joining the refresh, and the refresh's
    // own login would wait behind all of them.
    expect(checks).toBeLessThan(50);
    expect(browser.stats()).toMatchObject({ openContexts: 0, waiting: 0 });
  });
});

// ——— helpers ———

/** A page made of a plain EventEmitter, as Playwright's (which has eventNames/rawListeners). */
class StubPage extends EventEmitter {
  #closed = false;
  isClosed(): boolean {
    return this.#closed;
  }
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.emit('close');
  }
}

class StubContext extends EventEmitter {
  readonly stubPages: StubPage[] = [];
  pages(): StubPage[] {
    return this.stubPages.filter((p) => !p.isClosed());
  }
}

/** A browser provider of stub contexts and pages, tracking pages with a `close` listener as Chromium's does. */
class StubProvider implements BrowserProvider {
  open = 0;
  opened = 0;
  async newContext(): Promise<ContextLease> {
    const context = new StubContext();
    this.open++;
    this.opened++;
    let closed = false;
    return {
      context: context as unknown as BrowserContext,
      newPage: async () => {
        const page = new StubPage();
        page.once('close', () => {});
        context.stubPages.push(page);
        return page as unknown as Page;
      },
      captureState: async () => ({ cookies: [], origins: [] }),
      close: async () => {
        if (closed) return;
        closed = true;
        this.open--;
        for (const page of context.stubPages) await page.close();
        context.emit('close');
      },
    };
  }
  stats(): BrowserProviderStats {
    return { openContexts: this.open, openPages: 0, waiting: 0, contextsOpened: this.opened };
  }
  async close(): Promise<void> {}
}

function stubManager(browser: BrowserProvider, warm: { reusePages: boolean }): AuthSessionManager {
  return new AuthSessionManager({
    auths: [
      defineAuth({
        name: 'stub',
        type: 'credentials',
        credentials: credentialsSchema,
        create: () => {},
        check: () => true,
      }),
    ],
    store: sqlite(),
    key: TEST_KEY,
    browser,
    warmContexts: warm,
  });
}
