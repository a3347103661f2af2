import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DemoSite, startDemoSite } from '../../examples/demo-site/server.js';
import {
  AuthSessionManager,
  ChromiumProvider,
  createMemoryStore,
  createSqliteStore,
  defineAuth,
} from '../../src/index.js';
import { expectCode } from '../shared.js';

// Real Chromium against the demo site; the person is scripted through onPage in headless mode. One provider
// with two context slots and one demo site serve every test.

const PASSWORD = 'wonderland-42';
const KEY = randomBytes(32).toString('base64');
/** Where each login keeps its proof: a cookie, or a token in one web storage. */
const PLACES = { cookie: '', ls: '/ls', ss: '/ss', idb: '/idb' } as const;
type Place = keyof typeof PLACES;
const NAMES = Object.keys(PLACES) as Place[];

let site: DemoSite;
let dir: string;
let storeFile: string;
const provider = new ChromiumProvider({ maxContexts: 2 });
let manager: AuthSessionManager;
const expiredEvents: string[] = [];
const ids: Partial<Record<Place, string>> = {};

/** Logged in when the account page shows `#user`; the token pages fill it in (or `#login-required`) by script. */
function demoAuth(name: Place) {
  const base = `${site.url}${PLACES[name]}`;
  return defineAuth({
    name,
    type: 'recorder',
    startUrl: `${base}/login`,
    finishUrl: `${base}/account`,
    retryDelay: 100,
    async check({ page }) {
      await page.goto(`${base}/account`);
      await page.waitForSelector('#user, #login-required, #username', { timeout: 10_000 });
      return (await page.locator('#user').count()) > 0;
    },
  });
}

/** What a person does on the login page: type the user name and password, press "Log in". */
const person =
  (password = PASSWORD) =>
  async (page: Page) => {
    await page.fill('#username', 'alice');
    await page.fill('#password', password);
    await page.click('#login');
  };

/** A task: the user name the account page shows, or null when it asks for a login. */
async function accountUser(page: Page, place: Place): Promise<string | null> {
  await page.goto(`${site.url}${PLACES[place]}/account`);
  await page.waitForSelector('#user, #login-required, #username', { timeout: 10_000 });
  return (await page.locator('#user').count()) > 0 ? page.textContent('#user') : null;
}

/**
 * The same auths and task in a new Node process (tsx) with its own manager, provider and SQLite connection:
 * only the store file and the key are shared.
 */
const CHILD = `
import { AuthSessionManager, ChromiumProvider, createSqliteStore, defineAuth } from ${JSON.stringify(
  pathToFileURL(resolve('src/index.ts')).href,
)};
const { base, storeFile, ids, places } = JSON.parse(process.env.RECORDER_E2E);
const seen = '#user, #login-required, #username';
const auths = Object.keys(places).map((name) =>
  defineAuth({
    name,
    type: 'recorder',
    startUrl: base + places[name] + '/login',
    finishUrl: base + places[name] + '/account',
    async check({ page }) {
      await page.goto(base + places[name] + '/account');
      await page.waitForSelector(seen, { timeout: 10000 });
      return (await page.locator('#user').count()) > 0;
    },
  }),
);
const browser = new ChromiumProvider({ maxContexts: 2 });
const manager = new AuthSessionManager({ auths, store: createSqliteStore(storeFile), key: process.env.AUTH_SESSIONS_KEY, browser });
try {
  const users = {};
  await Promise.all(Object.entries(ids).map(async ([name, id]) => {
    users[name] = await manager.run(id, async ({ page }) => {
      await page.goto(base + places[name] + '/account');
      await page.waitForSelector(seen, { timeout: 10000 });
      return (await page.locator('#user').count()) > 0 ? await page.textContent('#user') : null;
    });
  }));
  console.log(JSON.stringify({ users }));
} finally {
  await manager.close();
  await browser.close();
}
`;

function runChild(): Promise<{ users: Record<string, string | null> }> {
  const script = join(dir, 'child.mts');
  writeFileSync(script, CHILD);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: process.cwd(),
      env: {
        ...process.env,
        AUTH_SESSIONS_KEY: KEY,
        RECORDER_E2E: JSON.stringify({ base: site.url, storeFile, ids, places: PLACES }),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').at(-1) ?? '';
      if (code === 0 && line.startsWith('{')) resolvePromise(JSON.parse(line));
      else reject(new Error(`child exited with ${code}: ${err.slice(-2000)}`));
    });
  });
}

beforeAll(async () => {
  site = await startDemoSite();
  dir = mkdtempSync(join(tmpdir(), 'auth-sessions-recorder-'));
  storeFile = join(dir, 'sessions.sqlite');
  manager = new AuthSessionManager({
    auths: NAMES.map(demoAuth),
    store: createSqliteStore(storeFile),
    key: KEY,
    browser: provider,
  });
  manager.on('expired', (e) => expiredEvents.push(e.session.id));
});

afterAll(async () => {
  await manager?.close();
  await provider.close();
  await site?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('recorder on the demo site (real Chromium)', () => {
  it('records a cookie, localStorage, sessionStorage-only and IndexedDB-only login; a new process is logged in with each', async () => {
    const sessions = await Promise.all(
      NAMES.map((name) => manager.record(name, { headless: true, onPage: person(), timeoutMs: 60_000 })),
    );
    for (const [i, name] of NAMES.entries()) {
      expect(sessions[i]).toMatchObject({ auth: name, type: 'recorder', state: 'active' });
      ids[name] = sessions[i]!.id;
    }
    expect(site.stats().logins).toBe(4);
    expect(provider.stats().openContexts).toBe(0);
    // Each login lives only where it says: the sessionStorage and IndexedDB ones have no cookie and no
    // localStorage token, so only the full state (with the sessionStorage extension) can carry them.
    const ss = await manager.exportState(ids.ss!);
    expect(ss.sessionStorage?.some((e) => e.items.some((i) => i.name === 'token'))).toBe(true);
    const idb = await manager.exportState(ids.idb!);
    expect(idb.origins.some((o) => (o.indexedDB?.length ?? 0) > 0)).toBe(true);
    expect(idb.origins.flatMap((o) => o.localStorage).some((i) => i.name === 'token')).toBe(false);

    const { users } = await runChild();
    expect(users).toEqual({ cookie: 'alice', ls: 'alice', ss: 'alice', idb: 'alice' });
    expect(site.stats().logins).toBe(4);
  });

  it('export then import into another manager gives a working session; a malformed import is refused', async () => {
    const other = new AuthSessionManager({
      auths: NAMES.map(demoAuth),
      store: createMemoryStore(),
      key: randomBytes(32).toString('base64'),
      browser: provider,
    });
    try {
      for (const name of ['ss', 'idb'] as const) {
        const state = await manager.exportState(ids[name]!);
        const imported = await other.importState(name, JSON.stringify(state), { labels: { from: 'export' } });
        expect(imported).toMatchObject({ auth: name, state: 'active', labels: { from: 'export' } });
        expect(await other.run(imported.id, ({ page }) => accountUser(page, name))).toBe('alice');
      }
      const opened = provider.stats().contextsOpened;
      const err = await expectCode(
        other.importState('cookie', '{"cookies": [{"name": "sid"'),
        'INVALID_OPTIONS',
      );
      expect(err.message).toMatch(/not valid JSON/);
      await expectCode(
        other.importState('cookie', { cookies: [{ name: 'sid' }], origins: [] } as never),
        'INVALID_OPTIONS',
      );
      expect(provider.stats().contextsOpened).toBe(opened);
      expect(await other.list({ auth: 'cookie' })).toEqual([]);
      expect(site.stats().logins).toBe(4);
    } finally {
      await other.close();
    }
  });

  it('when the site logs the user out, the next run rejects with SESSION_EXPIRED, one expired event, no login', async () => {
    site.logoutAll();
    const before = site.stats();
    await Promise.all(
      NAMES.map(async (name) => {
        const err = await expectCode(
          manager.run(ids[name]!, () => 'never'),
          'SESSION_EXPIRED',
        );
        expect(err.message).toMatch(/record/);
        expect((await manager.get(ids[name]!))?.state).toBe('expired');
      }),
    );
    for (const name of NAMES) expect(expiredEvents.filter((id) => id === ids[name])).toHaveLength(1);
    expect(site.stats().loginAttempts).toBe(before.loginAttempts);
    expect(site.stats().logins).toBe(before.logins);
    expect(provider.stats().openContexts).toBe(0);
  });

  it('the person closes the browser early: RECORDER_CLOSED, nothing stored, no browser left open', async () => {
    await expectCode(
      manager.record('cookie', { id: 'closed-page', headless: true, onPage: (page) => page.close() }),
      'RECORDER_CLOSED',
    );
    await expectCode(
      manager.record('ss', {
        id: 'closed-context',
        headless: true,
        onPage: (page) => page.context().close(),
      }),
      'RECORDER_CLOSED',
    );
    expect(await manager.get('closed-page')).toBeUndefined();
    expect(await manager.get('closed-context')).toBeUndefined();
    expect(provider.stats()).toMatchObject({ openContexts: 0, openPages: 0 });
  });

  it('the person never reaches the finish URL: RECORDER_TIMEOUT, nothing stored, no browser left open', async () => {
    const err = await expectCode(
      manager.record('idb', {
        id: 'too-slow',
        headless: true,
        timeoutMs: 6_000,
        onPage: person('not-the-password'),
      }),
      'RECORDER_TIMEOUT',
    );
    expect(err.message).not.toContain('not-the-password');
    expect(await manager.get('too-slow')).toBeUndefined();
    expect(site.stats().failedLogins).toBeGreaterThan(0);
    expect(provider.stats()).toMatchObject({ openContexts: 0, openPages: 0 });
  });

  it.skipIf(Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY))(
    'asks for a visible browser by default and says what to do when there is no display',
    async () => {
      const err = await expectCode(manager.record('cookie', { id: 'headed' }), 'BROWSER_UNAVAILABLE');
      expect(err.message).toMatch(/headless: true|xvfb/);
      expect(await manager.get('headed')).toBeUndefined();
    },
  );
});
