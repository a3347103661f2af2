/**
 * Proxy and device binding against real Chromium, the demo site and two real forward proxies (the npm `proxy`
 * package) on 127.0.0.1. Playwright 1.65 sends loopback traffic through a context's proxy unless `bypass`
 * names a loopback host, so the local demo site is reached through the proxies like any remote site.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type Keyv from 'keyv';
import type { Page } from 'playwright-core';
import { createProxy } from 'proxy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type DemoSite, startDemoSite } from '../../examples/demo-site/server.js';
import { detectChromeMajor } from '../../src/device.js';
import {
  AuthSessionError,
  type AuthSessionEventName,
  AuthSessionManager,
  ChromiumProvider,
  createSqliteStore,
  defineAuth,
  stickyToken,
} from '../../src/index.js';

const ROOT = resolve(import.meta.dirname, '../..');
const KEY = randomBytes(32).toString('base64');
const PROXY_PASSWORD = 'proxy-PASS-e2e-canary';
const USERS = [
  { username: 'alice', password: 'wonderland-42' },
  { username: 'bob', password: 'builder-7' },
];

interface ProxyHit {
  readonly method: string;
  readonly url: string;
  readonly user: string | undefined;
  readonly authorized: boolean;
}

interface TestProxy {
  readonly server: string;
  readonly hits: ProxyHit[];
  close(): Promise<void>;
}

/** A forward proxy requiring `user-<16 hex>` / PROXY_PASSWORD, recording every request it is asked for. */
async function startProxy(): Promise<TestProxy> {
  const server = createProxy(http.createServer());
  const hits: ProxyHit[] = [];
  server.authenticate = (req) => {
    const header = req.headers['proxy-authorization'] ?? '';
    const [user, ...rest] = Buffer.from(header.replace(/^Basic /, ''), 'base64')
      .toString()
      .split(':');
    const authorized = /^user-[0-9a-f]{16}$/.test(user ?? '') && rest.join(':') === PROXY_PASSWORD;
    hits.push({ method: req.method ?? '', url: req.url ?? '', user: header ? user : undefined, authorized });
    return authorized;
  };
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return {
    server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

/** Visits the demo site's device page and waits until it has reported itself. */
async function reportDevice(page: Page, url: string): Promise<void> {
  await page.goto(`${url}/device`);
  await page.waitForSelector('#reported', { timeout: 15_000 });
}

function demoAuth(url: string) {
  return defineAuth({
    name: 'demo',
    type: 'credentials',
    credentials: z.object({ username: z.string(), password: z.string() }),
    createAttempts: 1,
    checkAttempts: 1,
    retryDelay: 0,
    checkTimeout: 30_000,
    createTimeout: 45_000,
    async create({ page, credentials }) {
      await page.goto(`${url}/login`);
      await page.fill('#username', credentials.username);
      await page.fill('#password', credentials.password);
      await page.click('button#login');
      await page.waitForURL(/\/account$/, { timeout: 15_000 });
      await reportDevice(page, url);
    },
    async check({ page }) {
      const response = await page.goto(`${url}/account`);
      if (!response?.ok() || !/\/account$/.test(page.url())) return false;
      await page.locator('#user').waitFor({ timeout: 10_000 });
      await reportDevice(page, url);
      return true;
    },
  });
}

let site: DemoSite;
let proxies: [TestProxy, TestProxy];
let provider: ChromiumProvider;
let store: Keyv;
let manager: AuthSessionManager;
let dir: string;
const events: Array<{ name: string; payload: unknown }> = [];
const ids = { alice: 'alice-session', bob: 'bob-session' } as const;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'as-proxy-e2e-'));
  site = await startDemoSite({ users: USERS });
  proxies = [await startProxy(), await startProxy()];
  provider = new ChromiumProvider({ maxContexts: 2 });
  store = createSqliteStore(join(dir, 'sessions.sqlite'));
  manager = new AuthSessionManager({ auths: [demoAuth(site.url)], store, key: KEY, browser: provider });
  const names: AuthSessionEventName[] = ['created', 'failed', 'checked', 'refreshed', 'expired', 'updated'];
  for (const name of names) manager.on(name, (payload: unknown) => events.push({ name, payload }));
}, 60_000);

afterAll(async () => {
  await manager?.close();
  await provider?.close();
  await store?.disconnect();
  await Promise.all((proxies ?? []).map((p) => p.close()));
  await site?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

const siteHost = () => new URL(site.url).host;

/** What reached the site through a proxy: authorised requests for the site's host, as `METHOD /path`. */
function forwarded(proxy: TestProxy): string[] {
  return proxy.hits
    .filter((h) => h.authorized && (h.url.startsWith(site.url) || h.url === siteHost()))
    .map((h) => `${h.method} ${h.url.startsWith(site.url) ? new URL(h.url).pathname : h.url}`)
    .sort();
}

/**
 * Runs one step of one session and proves every request the site received in it came through that session's
 * proxy (and only that one), none bypassing it.
 */
async function throughOwnProxy<T>(who: 'alice' | 'bob', step: () => Promise<T>): Promise<T> {
  const [own, other] = who === 'alice' ? proxies : [proxies[1], proxies[0]];
  site.clearRequests();
  own.hits.length = 0;
  other.hits.length = 0;
  const result = await step();
  const received = site.requests;
  expect(received.length).toBeGreaterThan(0);
  for (const request of received) expect(request.via, `${request.method} ${request.path}`).toMatch(/proxy\//);
  expect(forwarded(own)).toEqual(received.map((r) => `${r.method} ${r.path}`).sort());
  expect(forwarded(other)).toEqual([]);
  const token = stickyToken(ids[who]);
  for (const hit of own.hits.filter((h) => h.authorized)) expect(hit.user).toBe(`user-${token}`);
  return result;
}

function reportsOf(user: string) {
  return site.deviceReports
    .filter((r) => r.user === user)
    .map(({ userAgent, headerUserAgent, width, height, timezone, language }) => ({
      userAgent,
      headerUserAgent,
      width,
      height,
      timezone,
      language,
    }));
}

async function storedDevice(id: string) {
  const raw = JSON.parse((await store.get<string>(`session/${id}`)) as string);
  return raw.device as {
    userAgent: string;
    viewport: { width: number; height: number };
    timezoneId: string;
    locale: string;
  };
}

async function failureOf(promise: Promise<unknown>): Promise<AuthSessionError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AuthSessionError);
  return err as AuthSessionError;
}

describe('two sessions, two proxies, one device each', () => {
  it('create, check, run and refresh of each session all go through its own proxy', async () => {
    const proxyOf = (i: 0 | 1) => ({
      server: proxies[i].server,
      username: 'user-{session}',
      password: PROXY_PASSWORD,
    });
    const a = await throughOwnProxy('alice', () =>
      manager.create('demo', { id: ids.alice, credentials: USERS[0], proxy: proxyOf(0) }),
    );
    const b = await throughOwnProxy('bob', () =>
      manager.create('demo', {
        id: ids.bob,
        credentials: USERS[1],
        proxy: `http://user-{session}:${PROXY_PASSWORD}@${new URL(proxies[1].server).host}`,
      }),
    );
    expect([a.state, b.state]).toEqual(['active', 'active']);
    expect(a.proxy).toEqual({ server: proxies[0].server });

    for (const who of ['alice', 'bob'] as const) {
      await throughOwnProxy(who, () => manager.validate(ids[who])); // check
      await throughOwnProxy(who, () =>
        manager.run(ids[who], async ({ page }) => reportDevice(page, site.url), { checkInterval: 60_000 }),
      );
    }
    expect(site.stats().logins).toBe(2);

    site.expireAllSessions();
    for (const who of ['alice', 'bob'] as const) {
      await throughOwnProxy(who, () => manager.validate(ids[who])); // check fails → refresh → check
    }
    expect(events.filter((e) => e.name === 'refreshed')).toHaveLength(2);
    expect(site.stats().byUser).toEqual({ alice: 2, bob: 2 });
  }, 180_000);

  it('the site sees one device per session in create, check, run and refresh', async () => {
    const major = await detectChromeMajor(provider);
    expect(major).toBeGreaterThan(100);
    for (const who of ['alice', 'bob'] as const) {
      const reports = reportsOf(who);
      // create, check, run, refresh (the create hook and the check after it)
      expect(reports.length).toBeGreaterThanOrEqual(5);
      const device = await storedDevice(ids[who]);
      const expected = {
        userAgent: device.userAgent,
        headerUserAgent: device.userAgent,
        width: device.viewport.width,
        height: device.viewport.height,
        timezone: device.timezoneId,
        language: device.locale,
      };
      for (const report of reports) expect(report).toEqual(expected);
      expect(device.userAgent).toContain(`Chrome/${major}.0.0.0`);
      expect(device.userAgent).not.toContain('Headless');
    }
    // Two sessions, two devices (seeded by their ids).
    expect(await storedDevice(ids.alice)).not.toEqual(await storedDevice(ids.bob));
  });

  it('another process over the same store uses the same proxy and device', async () => {
    const before = reportsOf('alice').length;
    const script = join(dir, 'child.mts');
    writeFileSync(
      script,
      `import { AuthSessionManager, ChromiumProvider, createSqliteStore, defineAuth } from ${JSON.stringify(join(ROOT, 'src/index.ts'))};
import { z } from ${JSON.stringify(pathToFileURL(createRequire(import.meta.url).resolve('zod')).href)};
const [url, file, key, id] = process.argv.slice(2);
const auth = defineAuth({
  name: 'demo', type: 'credentials', credentials: z.object({ username: z.string(), password: z.string() }),
  async create() { throw new Error('no login expected'); },
  async check({ page }) { await page.goto(url + '/account'); return /\\/account$/.test(page.url()); },
});
const browser = new ChromiumProvider({ maxContexts: 1 });
const store = createSqliteStore(file);
const manager = new AuthSessionManager({ auths: [auth], store, key, browser });
try {
  await manager.run(id, async ({ page }) => {
    await page.goto(url + '/device');
    await page.waitForSelector('#reported', { timeout: 15000 });
  }, { forceCheck: true });
  console.log(JSON.stringify({ ok: true }));
} finally {
  await manager.close(); await browser.close(); await store.disconnect();
}
`,
    );
    await throughOwnProxy('alice', async () => {
      const out = await new Promise<string>((done, fail) => {
        execFile(
          join(ROOT, 'node_modules/.bin/tsx'),
          [script, site.url, join(dir, 'sessions.sqlite'), KEY, ids.alice],
          { cwd: ROOT, timeout: 90_000 },
          (err, stdout, stderr) => (err ? fail(new Error(`child failed: ${stderr}`)) : done(stdout)),
        );
      });
      expect(JSON.parse(out.trim().split('\n').at(-1) ?? '{}')).toEqual({ ok: true });
    });
    const reports = reportsOf('alice');
    expect(reports.length).toBe(before + 1);
    expect(reports.at(-1)).toEqual(reports[0]);
  }, 120_000);
});

describe('proxy failures are infrastructure failures', () => {
  it('a bad proxy URL is refused with INVALID_OPTIONS, never echoing the password', async () => {
    const err = await failureOf(
      manager.create('demo', {
        credentials: USERS[0],
        proxy: `http://user:${PROXY_PASSWORD}@127.0.0.1:99999`,
      }),
    );
    expect(err.code).toBe('INVALID_OPTIONS');
    expect(err.message).not.toContain(PROXY_PASSWORD);
  });

  it('a proxy that is down gives PROXY_ERROR and the session stays active', async () => {
    const port = await closedPort();
    await manager.update(ids.bob, { proxy: `http://127.0.0.1:${port}` });
    const logins = site.stats().logins;
    const err = await failureOf(manager.validate(ids.bob));
    expect(err.code).toBe('PROXY_ERROR');
    expect(err.status).toBe(503);
    expect((await manager.get(ids.bob))?.state).toBe('active');
    expect(site.stats().logins).toBe(logins);
  });

  it('a wrong proxy password (HTTP 407) or none gives PROXY_ERROR and the session stays active', async () => {
    const logins = site.stats().logins;
    const expiredBefore = events.filter((e) => e.name === 'expired').length;
    await manager.update(ids.alice, {
      proxy: { server: proxies[0].server, username: 'user-{session}', password: 'wrong-password' },
    });
    const wrong = await failureOf(manager.validate(ids.alice));
    expect(wrong.code).toBe('PROXY_ERROR');
    expect((await manager.get(ids.alice))?.state).toBe('active');

    await manager.update(ids.alice, { proxy: proxies[0].server });
    const missing = await failureOf(manager.run(ids.alice, () => 1, { forceCheck: true }));
    expect(missing.code).toBe('PROXY_ERROR');
    expect((await manager.get(ids.alice))?.state).toBe('active');

    expect(site.stats().logins).toBe(logins);
    expect(events.filter((e) => e.name === 'expired').length).toBe(expiredBefore);
    // And the right proxy again: the session works without logging in again.
    await manager.update(ids.alice, {
      proxy: { server: proxies[0].server, username: 'user-{session}', password: PROXY_PASSWORD },
    });
    await throughOwnProxy('alice', () => manager.validate(ids.alice));
    expect(site.stats().logins).toBe(logins);
  });

  it('never shows the proxy password in output, events or errors', async () => {
    const errors = await Promise.all([
      failureOf(
        manager.create('demo', {
          credentials: USERS[0],
          proxy: {
            server: `http://127.0.0.1:${await closedPort()}`,
            username: 'u',
            password: PROXY_PASSWORD,
          },
        }),
      ),
    ]);
    expect(errors[0]?.code).toBe('PROXY_ERROR');
    const visible = JSON.stringify([
      await manager.list(),
      events,
      errors.map((e) => [e.message, String(e.cause), (e.cause as Error | undefined)?.stack]),
    ]);
    expect(visible).not.toContain(PROXY_PASSWORD);
  });
});
