import type Keyv from 'keyv';
import type { Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type AuthSessionEventName,
  AuthSessionManager,
  type BrowserState,
  createMemoryStore,
  defineAuth,
  type FinishUrl,
  parseBrowserState,
  type RecordOptions,
} from '../../src/index.js';
import { FakeBrowserProvider, FakeClock, FakeSite } from '../../src/testing/index.js';
import { expectCode } from '../shared.js';
import { siteAuth, TEST_KEY } from './helpers.js';

const PASSWORD = 'pw-alice-1';

interface RecorderHarness {
  site: FakeSite;
  clock: FakeClock;
  browser: FakeBrowserProvider;
  store: Keyv;
  manager: AuthSessionManager;
  events: Array<{ name: AuthSessionEventName; payload: unknown }>;
  count(name: AuthSessionEventName): number;
}

let current: RecorderHarness[] = [];

afterEach(async () => {
  for (const h of current) {
    await h.manager.close();
    await h.browser.close();
  }
  current = [];
});

function portalAuth(site: FakeSite, finishUrl: FinishUrl = `${site.origin}/account`) {
  return defineAuth({
    name: 'portal',
    type: 'recorder',
    startUrl: `${site.origin}/login`,
    finishUrl,
    retryDelay: 0,
    async check({ page }) {
      await page.goto(`${site.origin}/account`);
      return (await page.locator('#user').count()) > 0;
    },
  });
}

function harness(
  options: { finishUrl?: FinishUrl; site?: FakeSite; clock?: FakeClock; store?: Keyv } = {},
): RecorderHarness {
  const clock = options.clock ?? new FakeClock();
  const site = options.site ?? new FakeSite({ clock, sessionTtlMs: 60 * 60_000 });
  if (!options.site) site.addUser('alice', PASSWORD);
  const browser = new FakeBrowserProvider({ sites: [site], maxContexts: 8 });
  const store = options.store ?? createMemoryStore();
  const manager = new AuthSessionManager({
    auths: [portalAuth(site, options.finishUrl), siteAuth(site)],
    store,
    key: TEST_KEY,
    browser,
    clock,
  });
  const events: RecorderHarness['events'] = [];
  for (const name of [
    'created',
    'updated',
    'expired',
    'refreshed',
    'checked',
    'transition',
    'warning',
    'failed',
  ] as const) {
    manager.on(name, (payload: unknown) => events.push({ name, payload }));
  }
  const h: RecorderHarness = {
    site,
    clock,
    browser,
    store,
    manager,
    events,
    count: (name) => events.filter((e) => e.name === name).length,
  };
  current.push(h);
  return h;
}

/** The scripted person: logs in through the login form of the page it is given. */
const person =
  (password = PASSWORD) =>
  async (page: Page) => {
    await page.fill('#username', 'alice');
    await page.fill('#password', password);
    await page.click('#login');
  };

async function rawRecord(store: Keyv, id: string): Promise<Record<string, unknown> | undefined> {
  const raw = await store.get<string>(`session/${id}`);
  return raw === undefined ? undefined : (JSON.parse(raw) as Record<string, unknown>);
}

async function loggedInAs(h: RecorderHarness, id: string): Promise<string | null> {
  return h.manager.run(id, async ({ page }) => {
    await page.goto(`${h.site.origin}/account`);
    return (await page.locator('#user').count()) > 0 ? page.textContent('#user') : null;
  });
}

/** Resolves once the recorder has handed the page over (its wait, and its timer, are armed by then). */
function armed(): { onPage: RecordOptions['onPage']; ready: Promise<Page> } {
  let resolve: (page: Page) => void = () => {};
  const ready = new Promise<Page>((r) => {
    resolve = r;
  });
  return { onPage: (page) => resolve(page), ready };
}

async function noSessionLeft(h: RecorderHarness): Promise<void> {
  expect(await h.manager.list()).toEqual([]);
  expect(h.browser.stats()).toMatchObject({ openContexts: 0, openPages: 0 });
}

describe('record: finish detection', () => {
  it('stores an active recorder session without credentials once the person reaches the finish URL prefix', async () => {
    const h = harness();
    const s = await h.manager.record('portal', { onPage: person(), labels: { customer: 'acme' } });
    expect(s).toMatchObject({
      auth: 'portal',
      type: 'recorder',
      state: 'active',
      labels: { customer: 'acme' },
    });
    expect(s.lastCheckedAt).toBeDefined();
    expect(h.count('created')).toBe(1);
    // A person needs a window: the recorder asks for a headed context unless told otherwise.
    expect(h.browser.requests[0]?.headless).toBe(false);
    const raw = await rawRecord(h.store, s.id);
    expect(raw).toMatchObject({ type: 'recorder', state: 'active', generation: 1 });
    expect(Object.keys(raw?.sealed as object).sort()).toEqual(['state']);
    expect(JSON.stringify(raw)).not.toContain(PASSWORD);
    expect(h.browser.stats()).toMatchObject({ openContexts: 0, openPages: 0 });
    expect(await loggedInAs(h, s.id)).toBe('alice');
    expect(h.site.counters.logins).toBe(1);
  });

  it.each<[string, (origin: string) => FinishUrl]>([
    ['a RegExp', () => /\/account$/],
    ['a predicate on the URL', () => (url: URL) => url.pathname === '/account'],
    ['a prefix relative to startUrl', () => '/account'],
  ])('detects the finish with %s', async (_name, finish) => {
    const h = harness({ finishUrl: finish('https://fake-site.test') });
    const s = await h.manager.record('portal', { onPage: person(), headless: true });
    expect(s.state).toBe('active');
    expect(h.browser.requests[0]?.headless).toBe(true);
    expect(await loggedInAs(h, s.id)).toBe('alice');
  });

  it('detects the finish in a popup or new tab, and keeps waiting while any page is open', async () => {
    const h = harness();
    const s = await h.manager.record('portal', {
      onPage: async (page) => {
        const popup = await page.context().newPage();
        // Closing the first page is not the end of the recording: the popup is still open.
        await page.close();
        await popup.goto(`${h.site.origin}/login`);
        await person()(popup);
      },
    });
    expect(s.state).toBe('active');
    expect(await loggedInAs(h, s.id)).toBe('alice');
  });

  it('refuses a finish predicate that throws with INVALID_OPTIONS, storing nothing', async () => {
    const h = harness({
      finishUrl: () => {
        throw new Error('bug');
      },
    });
    await expectCode(h.manager.record('portal', { onPage: person() }), 'INVALID_OPTIONS');
    await noSessionLeft(h);
  });

  it('fails with CREATE_FAILED when the finish URL is reached but the check fails', async () => {
    const h = harness({ finishUrl: (url) => url.pathname === '/' });
    const err = await expectCode(
      h.manager.record('portal', { onPage: (page) => page.goto(`${h.site.origin}/`) }),
      'CREATE_FAILED',
    );
    expect(err.message).toMatch(/did not pass the check/);
    expect(h.count('checked')).toBe(1);
    await noSessionLeft(h);
  });
});

describe('record: the person does not finish', () => {
  it('times out on the manager clock with RECORDER_TIMEOUT and stores nothing', async () => {
    const h = harness();
    const { onPage, ready } = armed();
    const recording = h.manager.record('portal', { onPage, timeoutMs: 60_000 });
    await ready;
    await h.clock.advanceAsync(59_000);
    expect(h.browser.stats().openContexts).toBe(1);
    const outcome = expectCode(recording, 'RECORDER_TIMEOUT');
    await h.clock.advanceAsync(1_000);
    const err = await outcome;
    expect(err.message).toMatch(/60000 ms/);
    await noSessionLeft(h);
  });

  it('defaults to ten minutes', async () => {
    const h = harness();
    const { onPage, ready } = armed();
    const recording = h.manager.record('portal', { onPage });
    await ready;
    await h.clock.advanceAsync(10 * 60_000 - 1);
    expect(h.browser.stats().openContexts).toBe(1);
    const outcome = expectCode(recording, 'RECORDER_TIMEOUT');
    await h.clock.advanceAsync(1);
    await outcome;
    await noSessionLeft(h);
  });

  it('fails with RECORDER_CLOSED when the person closes the last page', async () => {
    const h = harness();
    await expectCode(h.manager.record('portal', { onPage: (page) => page.close() }), 'RECORDER_CLOSED');
    await noSessionLeft(h);
  });

  it('fails with RECORDER_CLOSED when the browser context closes', async () => {
    const h = harness();
    await expectCode(
      h.manager.record('portal', { onPage: (page) => page.context().close() }),
      'RECORDER_CLOSED',
    );
    await noSessionLeft(h);
  });

  it('fails fast with CREATE_FAILED (cause kept) when onPage throws before the finish', async () => {
    const h = harness();
    const boom = new Error('the scripted person tripped');
    const err = await expectCode(
      h.manager.record('portal', {
        onPage: () => {
          throw boom;
        },
      }),
      'CREATE_FAILED',
    );
    expect(err.cause).toBe(boom);
    expect(err.message).toMatch(/onPage/);
    await noSessionLeft(h);
  });

  it('aborts with the caller signal, storing nothing', async () => {
    const h = harness();
    const controller = new AbortController();
    const recording = h.manager.record('portal', {
      onPage: () => controller.abort(),
      signal: controller.signal,
    });
    await expectCode(recording, 'ABORTED');
    await noSessionLeft(h);
  });

  it('reports an unreachable start URL as TARGET_UNREACHABLE', async () => {
    const clock = new FakeClock();
    const site = new FakeSite({ clock });
    const browser = new FakeBrowserProvider({ sites: [site] });
    const manager = new AuthSessionManager({
      auths: [
        defineAuth({
          name: 'elsewhere',
          type: 'recorder',
          startUrl: 'https://unknown.test/login',
          finishUrl: 'https://unknown.test/home',
          check: () => true,
        }),
      ],
      store: createMemoryStore(),
      key: TEST_KEY,
      browser,
      clock,
    });
    try {
      await expectCode(manager.record('elsewhere'), 'TARGET_UNREACHABLE');
      expect(await manager.list()).toEqual([]);
      expect(browser.stats().openContexts).toBe(0);
    } finally {
      await manager.close();
      await browser.close();
    }
  });
});

describe('record: options and ids', () => {
  it('validates its options and the auth', async () => {
    const h = harness();
    await expectCode(h.manager.record('nope'), 'UNKNOWN_AUTH');
    await expectCode(h.manager.record('site'), 'INVALID_OPTIONS');
    await expectCode(h.manager.record('portal', { timeoutMs: 0 }), 'INVALID_OPTIONS');
    await expectCode(h.manager.record('portal', { timeoutMs: 2 ** 31 }), 'INVALID_OPTIONS');
    await expectCode(h.manager.record('portal', { id: '../x' }), 'INVALID_OPTIONS');
    await expectCode(
      h.manager.record('portal', { onPage: 'person' as unknown as RecordOptions['onPage'] }),
      'INVALID_OPTIONS',
    );
    await expectCode(
      h.manager.record('portal', { labels: { n: 1 } as unknown as Record<string, string> }),
      'INVALID_OPTIONS',
    );
    expect(h.browser.requests).toHaveLength(0);
  });

  it('refuses an id that belongs to another auth, and a second recording of the same id at once', async () => {
    const h = harness();
    await h.manager.create('site', { id: 'taken', credentials: { username: 'alice', password: PASSWORD } });
    await expectCode(h.manager.record('portal', { id: 'taken', onPage: person() }), 'SESSION_EXISTS');
    const { onPage, ready } = armed();
    const first = h.manager.record('portal', { id: 'p1', onPage, timeoutMs: 1000 });
    await ready;
    await expectCode(h.manager.record('portal', { id: 'p1', onPage: person() }), 'INVALID_STATE');
    const outcome = expectCode(first, 'RECORDER_TIMEOUT');
    await h.clock.advanceAsync(1000);
    await outcome;
  });

  it('records through the session proxy and device', async () => {
    const h = harness();
    const s = await h.manager.record('portal', {
      onPage: person(),
      proxy: 'http://user:proxy-secret@proxy.test:8080',
      device: { locale: 'de-DE' },
    });
    expect(h.browser.requests[0]?.proxy).toMatchObject({
      server: 'http://proxy.test:8080',
      username: 'user',
    });
    // One device for the session's life, chosen at creation (generated, with the caller's fields on top).
    expect(h.browser.requests[0]?.device).toMatchObject({ locale: 'de-DE' });
    expect(h.browser.requests[0]?.device?.userAgent).toMatch(/Chrome\//);
    await h.manager.run(s.id, () => undefined);
    expect(h.browser.requests[1]?.device).toEqual(h.browser.requests[0]?.device);
    expect(s.proxy).toEqual({ server: 'http://proxy.test:8080' });
    expect(JSON.stringify(await rawRecord(h.store, s.id))).not.toContain('proxy-secret');
  });
});

describe('recorder sessions expire and are recorded again', () => {
  it('a failed check expires the session at once: SESSION_EXPIRED says to record again, no refresh', async () => {
    const h = harness();
    const s = await h.manager.record('portal', { id: 'p1', onPage: person() });
    h.site.logoutAll();
    const err = await expectCode(
      h.manager.run(s.id, () => 'never'),
      'SESSION_EXPIRED',
    );
    expect(err.status).toBe(401);
    expect(err.message).toMatch(/record/);
    expect((await h.manager.get(s.id))?.state).toBe('expired');
    expect(h.count('expired')).toBe(1);
    expect(h.count('refreshed')).toBe(0);
    expect(h.site.counters.logins).toBe(1);
    // Expired: the next run says so without opening a browser.
    const opened = h.browser.stats().contextsOpened;
    await expectCode(
      h.manager.run(s.id, () => 'never'),
      'SESSION_EXPIRED',
    );
    expect(h.browser.stats().contextsOpened).toBe(opened);
  });

  it('recording an existing id again keeps its id, createdAt and labels, and makes it active', async () => {
    const h = harness();
    const first = await h.manager.record('portal', {
      id: 'p1',
      onPage: person(),
      labels: { customer: 'acme' },
    });
    h.site.logoutAll();
    await expectCode(
      h.manager.run('p1', () => 1),
      'SESSION_EXPIRED',
    );
    h.events.length = 0;
    const again = await h.manager.record('portal', { id: 'p1', onPage: person() });
    expect(again).toMatchObject({
      id: 'p1',
      state: 'active',
      labels: { customer: 'acme' },
      createdAt: first.createdAt,
    });
    expect(again.expiredAt).toBeUndefined();
    expect(again.failure).toBeUndefined();
    expect(h.count('updated')).toBe(1);
    expect(h.count('created')).toBe(0);
    const transitions = h.events
      .filter((e) => e.name === 'transition')
      .map((e) => `${(e.payload as { from: string }).from}>${(e.payload as { to: string }).to}`);
    expect(transitions).toEqual(['expired>pending', 'pending>active']);
    expect((await rawRecord(h.store, 'p1'))?.generation).toBe(2);
    expect(await loggedInAs(h, 'p1')).toBe('alice');
    // New labels replace the old ones.
    const relabelled = await h.manager.record('portal', {
      id: 'p1',
      onPage: person(),
      labels: { customer: 'beta' },
    });
    expect(relabelled.labels).toEqual({ customer: 'beta' });
  });

  it('starts a re-recording from the previous state unless reuseState is false', async () => {
    const h = harness();
    await h.manager.record('portal', { id: 'p1', onPage: person() });
    await h.manager.record('portal', { id: 'p1', onPage: person() });
    expect(h.browser.requests[1]?.state?.cookies.length).toBeGreaterThan(0);
    await h.manager.record('portal', { id: 'p1', onPage: person(), reuseState: false });
    expect(h.browser.requests[2]?.state).toBeUndefined();
  });

  it('a failed re-recording restores the previous record exactly', async () => {
    const h = harness();
    await h.manager.record('portal', { id: 'p1', onPage: person(), labels: { customer: 'acme' } });
    h.site.logoutAll();
    await expectCode(
      h.manager.run('p1', () => 1),
      'SESSION_EXPIRED',
    );
    const before = await rawRecord(h.store, 'p1');
    await expectCode(
      h.manager.record('portal', { id: 'p1', onPage: (page) => page.close(), labels: { other: 'x' } }),
      'RECORDER_CLOSED',
    );
    const after = await rawRecord(h.store, 'p1');
    // The same record, written again: a newer revision, time and authentication tag.
    const { revision: r1, updatedAt: u1, mac: m1, ...restBefore } = before ?? {};
    const { revision: r2, updatedAt: u2, mac: m2, ...restAfter } = after ?? {};
    expect(restAfter).toEqual(restBefore);
    expect(r2).toBeGreaterThan(r1 as number);
    expect(h.browser.stats().openContexts).toBe(0);
  });
});

describe('exportState / importState', () => {
  it('round-trips a recorded state into another manager, as an object and as JSON text', async () => {
    const h = harness();
    const s = await h.manager.record('portal', { onPage: person() });
    const state = await h.manager.exportState(s.id);
    expect(state.cookies.map((c) => c.name)).toContain('sid');
    // A copy: changing it changes nothing stored.
    state.cookies.length = 0;
    expect((await h.manager.exportState(s.id)).cookies.length).toBeGreaterThan(0);

    const other = harness({ site: h.site, clock: h.clock });
    const fromObject = await other.manager.importState('portal', await h.manager.exportState(s.id), {
      labels: { source: 'export' },
    });
    expect(fromObject).toMatchObject({ type: 'recorder', state: 'active', labels: { source: 'export' } });
    expect(fromObject.lastCheckedAt).toBeDefined();
    expect(other.count('created')).toBe(1);
    expect(await loggedInAs(other, fromObject.id)).toBe('alice');
    const fromText = await other.manager.importState(
      'portal',
      JSON.stringify(await h.manager.exportState(s.id)),
    );
    expect(await loggedInAs(other, fromText.id)).toBe('alice');
    expect(h.site.counters.logins).toBe(1);
    expect(Object.keys((await rawRecord(other.store, fromText.id))?.sealed as object)).toEqual(['state']);
  });

  it('keeps the sessionStorage extension through export and import', async () => {
    const h = harness();
    const s = await h.manager.record('portal', {
      onPage: async (page) => {
        await page.evaluate(() => sessionStorage.setItem('tab', 'token-in-session-storage'));
        await person()(page);
      },
    });
    const state = await h.manager.exportState(s.id);
    expect(state.sessionStorage).toEqual([
      { origin: h.site.origin, items: [{ name: 'tab', value: 'token-in-session-storage' }] },
    ]);
    const other = harness({ site: h.site, clock: h.clock });
    const imported = await other.manager.importState('portal', state);
    const seen = await other.manager.run(imported.id, ({ page }) =>
      page.evaluate(() => sessionStorage.getItem('tab')),
    );
    expect(seen).toBe('token-in-session-storage');
  });

  it('imports into an existing id, keeping id and labels', async () => {
    const h = harness();
    const s = await h.manager.record('portal', { id: 'p1', onPage: person(), labels: { customer: 'acme' } });
    const state = await h.manager.exportState(s.id);
    h.site.logoutAll();
    await expectCode(
      h.manager.run('p1', () => 1),
      'SESSION_EXPIRED',
    );
    // The old state is logged out now: importing it again is refused by the check.
    await expectCode(h.manager.importState('portal', state, { id: 'p1' }), 'CHECK_FAILED');
    expect((await h.manager.get('p1'))?.state).toBe('expired');
    // Unchecked, it is stored and the next run finds out.
    const imported = await h.manager.importState('portal', state, { id: 'p1', check: false });
    expect(imported).toMatchObject({ id: 'p1', state: 'active', labels: { customer: 'acme' } });
    expect(imported.lastCheckedAt).toBeUndefined();
    expect(h.count('updated')).toBe(1);
  });

  it('imports a state for a credentials auth with credentials, so it can refresh later', async () => {
    const h = harness();
    const recorded = await h.manager.record('portal', { onPage: person() });
    const state = await h.manager.exportState(recorded.id);
    await expectCode(h.manager.importState('site', state), 'INVALID_OPTIONS');
    await expectCode(
      h.manager.importState('site', state, { credentials: { username: 'alice' } }),
      'INVALID_CREDENTIALS',
    );
    await expectCode(
      h.manager.importState('portal', state, { credentials: { username: 'alice', password: PASSWORD } }),
      'INVALID_OPTIONS',
    );
    const s = await h.manager.importState('site', state, {
      credentials: { username: 'alice', password: PASSWORD },
    });
    expect(s).toMatchObject({ type: 'credentials', state: 'active' });
    expect(h.site.counters.logins).toBe(1);
    h.site.logoutAll();
    expect(await loggedInAs(h, s.id)).toBe('alice');
    expect(h.count('refreshed')).toBe(1);
    expect(h.site.counters.logins).toBe(2);
  });

  it('refuses malformed states with a clear message naming the place, never a value, storing nothing', async () => {
    const h = harness();
    const cookie = {
      name: 'sid',
      value: 'cookie-secret-value',
      domain: 'fake-site.test',
      path: '/',
      expires: -1,
      httpOnly: true,
      secure: true,
      sameSite: 'Lax',
    };
    const cases: Array<[unknown, RegExp]> = [
      ['{"cookies": [cookie-secret-value', /not valid JSON/],
      ['{"__proto__": {"polluted": true}, "cookies": [], "origins": []}', /not valid JSON/],
      [[], /must be an object/],
      [null, /must be an object/],
      [{ cookies: [{ ...cookie, sameSite: 'Sometimes' }], origins: [] }, /cookies\.0\.sameSite/],
      [{ cookies: [cookie] }, /origins/],
      [{ cookies: [cookie], origins: [{ origin: 'not a url', localStorage: [] }] }, /origins\.0\.origin/],
      [{ cookies: [cookie], origins: [], extra: 'cookie-secret-value' }, /\(root\)/],
    ];
    for (const [input, message] of cases) {
      const err = await expectCode(h.manager.importState('portal', input as BrowserState), 'INVALID_OPTIONS');
      expect(err.message).toMatch(message);
      expect(err.message).not.toContain('cookie-secret-value');
      expect(JSON.stringify(err)).not.toContain('cookie-secret-value');
      expect(err.cause).toBeUndefined();
    }
    await noSessionLeft(h);
    expect(h.browser.requests).toHaveLength(0);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('parseBrowserState accepts a Playwright storageState file as written by codegen', () => {
    const text = JSON.stringify({
      cookies: [
        {
          name: 'sid',
          value: 'v',
          domain: '127.0.0.1',
          path: '/',
          expires: 1_900_000_000.5,
          httpOnly: true,
          secure: false,
          sameSite: 'Lax',
        },
      ],
      origins: [{ origin: 'http://127.0.0.1:3000', localStorage: [{ name: 'token', value: 't' }] }],
    });
    expect(parseBrowserState(text).origins[0]?.localStorage).toEqual([{ name: 'token', value: 't' }]);
  });

  it('exportState: not found, and no state yet', async () => {
    const h = harness();
    await expectCode(h.manager.exportState('missing'), 'SESSION_NOT_FOUND');
    const { onPage, ready } = armed();
    const recording = h.manager.record('portal', { id: 'p1', onPage, timeoutMs: 1000 });
    await ready;
    await expectCode(h.manager.exportState('p1'), 'INVALID_STATE');
    const outcome = expectCode(recording, 'RECORDER_TIMEOUT');
    await h.clock.advanceAsync(1000);
    await outcome;
  });
});
