import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ChromiumProvider } from '../../src/browser/chromium.js';
import { findChromium } from '../../src/browser/find-executable.js';
import { classifyNetworkError, toInfrastructureError } from '../../src/browser/network-errors.js';
import type { ContextLease } from '../../src/browser/provider.js';
import type { BrowserState } from '../../src/browser/state.js';
import { AuthSessionError } from '../../src/errors.js';

// One page writes every kind of storage; the other reports, from its own inline script at load time, what it
// found before any other script ran. The server echoes the Cookie header so the cookie is seen on the wire.
const SET_PAGE = `<!doctype html><title>set</title><script>
localStorage.setItem('ls', 'local-value');
sessionStorage.setItem('ss', 'session-value');
const open = indexedDB.open('db', 1);
open.onupgradeneeded = () => open.result.createObjectStore('kv');
open.onsuccess = () => {
  const tx = open.result.transaction('kv', 'readwrite');
  tx.objectStore('kv').put('idb-value', 'token');
  tx.oncomplete = () => { window.__ready = true; };
};
</script>`;

const readPage = (cookie: string) => `<!doctype html><title>read</title><script>
window.__cookie = ${JSON.stringify(cookie)};
window.__seenAtLoad = sessionStorage.getItem('ss');
window.__keysAtLoad = sessionStorage.length;
</script>`;

const server = http.createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  res.setHeader('content-type', 'text/html; charset=utf-8');
  if (path === '/set') {
    res.setHeader('set-cookie', 'sid=cookie-secret; Path=/; HttpOnly; Max-Age=3600');
    res.end(SET_PAGE);
  } else if (path === '/read') {
    res.end(readPage(req.headers.cookie ?? ''));
  } else {
    res.statusCode = 404;
    res.end('<!doctype html><title>404</title>');
  }
});

let port = 0;
let site = '';
const provider = new ChromiumProvider({ maxContexts: 2 });

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  site = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await provider.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Chromium processes started by this test process (direct children; their own helpers hang below them). */
function chromiumChildren(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
      if (/chrom/i.test(cmdline) && state !== 'Z') pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

async function pageValue<T>(lease: ContextLease, url: string, expression: string): Promise<T> {
  const page = await lease.newPage();
  await page.goto(url);
  return (await page.evaluate(expression)) as T;
}

const readIndexedDb = `new Promise((resolve, reject) => {
  const open = indexedDB.open('db', 1);
  open.onupgradeneeded = () => open.result.createObjectStore('kv');
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const get = open.result.transaction('kv').objectStore('kv').get('token');
    get.onsuccess = () => resolve(get.result ?? null);
    get.onerror = () => reject(get.error);
  };
})`;

describe.runIf(process.platform === 'linux')('ChromiumProvider against a local site', () => {
  let state: BrowserState;

  it('captures cookies, localStorage, IndexedDB and sessionStorage from a context', async () => {
    const lease = await provider.newContext({});
    try {
      const page = await lease.newPage();
      expect(provider.stats()).toMatchObject({ openContexts: 1, openPages: 1, waiting: 0 });
      await page.goto(`${site}/set`);
      await page.waitForFunction('window.__ready === true');
      state = await lease.captureState();
    } finally {
      await lease.close();
    }
    expect(provider.stats()).toMatchObject({ openContexts: 0, openPages: 0, waiting: 0, contextsOpened: 1 });

    expect(state.cookies).toEqual([
      expect.objectContaining({ name: 'sid', value: 'cookie-secret', httpOnly: true }),
    ]);
    const origin = state.origins.find((o) => o.origin === site);
    expect(origin?.localStorage).toEqual([{ name: 'ls', value: 'local-value' }]);
    expect(JSON.stringify(origin?.indexedDB)).toContain('idb-value');
    expect(state.sessionStorage).toEqual([{ origin: site, items: [{ name: 'ss', value: 'session-value' }] }]);
  });

  it('restores all of it into a new context, sessionStorage before the page scripts run, once per tab', async () => {
    const lease = await provider.newContext({ state });
    try {
      const page = await lease.newPage();
      await page.goto(`${site}/read`);
      expect(await page.evaluate('window.__seenAtLoad')).toBe('session-value');
      expect(await page.evaluate('window.__cookie')).toContain('sid=cookie-secret');
      expect(await page.evaluate(`localStorage.getItem('ls')`)).toBe('local-value');
      expect(await page.evaluate(readIndexedDb)).toBe('idb-value');

      // What the page changes in its tab survives a reload: the restore happens once per tab.
      await page.evaluate(`sessionStorage.setItem('ss', 'changed by the page')`);
      await page.reload();
      expect(await page.evaluate('window.__seenAtLoad')).toBe('changed by the page');
      await page.evaluate(`sessionStorage.removeItem('ss')`);
      await page.reload();
      expect(await page.evaluate('window.__seenAtLoad')).toBeNull();

      // A new tab starts from the saved state again; the marker never shows up in a capture.
      const second = await lease.newPage();
      await second.goto(`${site}/read`);
      expect(await second.evaluate('window.__seenAtLoad')).toBe('session-value');
      await page.close();
      const again = await lease.captureState();
      expect(again.sessionStorage).toEqual(state.sessionStorage);
    } finally {
      await lease.close();
    }
  });

  it('never restores sessionStorage into another origin', async () => {
    const lease = await provider.newContext({ state });
    try {
      const other = `http://localhost:${port}/read`;
      expect(await pageValue(lease, other, '[window.__seenAtLoad, window.__keysAtLoad]')).toEqual([null, 0]);
    } finally {
      await lease.close();
    }
  });

  it('bounds open contexts: the third waits, an aborted wait rejects with ABORTED', async () => {
    const a = await provider.newContext({});
    const b = await provider.newContext({});
    const controller = new AbortController();
    let cSettled = false;
    const c = provider.newContext({}).finally(() => {
      cSettled = true;
    });
    const d = provider.newContext({ signal: controller.signal });
    expect(provider.stats()).toMatchObject({ openContexts: 2, waiting: 2 });

    controller.abort();
    await expect(d).rejects.toMatchObject({ code: 'ABORTED' });
    expect(provider.stats().waiting).toBe(1);
    expect(cSettled).toBe(false);

    await a.close();
    const cLease = await c;
    expect(provider.stats()).toMatchObject({ openContexts: 2, waiting: 0 });
    await Promise.all([b.close(), cLease.close(), cLease.close()]);
    expect(provider.stats()).toMatchObject({ openContexts: 0, openPages: 0, waiting: 0 });
  });

  it('classifies a refused connection as a network failure (TARGET_UNREACHABLE)', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    const lease = await provider.newContext({});
    try {
      const page = await lease.newPage();
      const failure = await page.goto(`http://127.0.0.1:${deadPort}/`).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(classifyNetworkError(failure)).toBe('network');
      const typed = toInfrastructureError(failure, 'sess-1');
      expect(typed).toMatchObject({ code: 'TARGET_UNREACHABLE', status: 503, sessionId: 'sess-1' });
      expect(typed?.message).toContain('net::ERR_CONNECTION_REFUSED');
      expect(typed?.message).not.toContain(String(deadPort));
    } finally {
      await lease.close();
    }
  });

  it('relaunches after the browser crashes, freeing the crashed context', async () => {
    const lease = await provider.newContext({});
    await lease.newPage();
    const [pid] = chromiumChildren();
    expect(pid).toBeTypeOf('number');
    const gone = new Promise<void>((resolve) => lease.context.once('close', () => resolve()));
    process.kill(pid as number, 'SIGKILL');
    await gone;
    expect(provider.stats()).toMatchObject({ openContexts: 0, openPages: 0 });
    await lease.close();
    await expect(lease.newPage()).rejects.toMatchObject({ code: 'CLOSED' });

    const fresh = await provider.newContext({});
    try {
      const page = await fresh.newPage();
      await page.goto(`${site}/read`);
      expect(await page.title()).toBe('read');
    } finally {
      await fresh.close();
    }
  });

  it.runIf(!process.env.DISPLAY && !process.env.WAYLAND_DISPLAY)(
    'refuses a headed browser without a display, naming xvfb-run',
    async () => {
      const err = await provider.newContext({ headless: false }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AuthSessionError);
      expect(err).toMatchObject({ code: 'BROWSER_UNAVAILABLE' });
      expect((err as Error).message).toContain('xvfb-run');
      expect((err as Error).message).toContain('headless: true');
      expect(provider.stats()).toMatchObject({ openContexts: 0, waiting: 0 });
    },
  );

  it('turns a browser that will not start into BROWSER_UNAVAILABLE naming the path', async () => {
    const broken = new ChromiumProvider({ executablePath: '/bin/false', launchTimeoutMs: 10_000 });
    try {
      const err = await broken.newContext({}).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'BROWSER_UNAVAILABLE' });
      expect((err as Error).message).toContain('/bin/false');
      expect((err as Error).message).toContain('AUTH_SESSIONS_CHROMIUM');
      expect(broken.stats()).toMatchObject({ openContexts: 0, waiting: 0 });
    } finally {
      await broken.close();
    }
  });

  it('over a browser the caller launched: contexts open in it, close() leaves it running, no relaunch once it is gone', async () => {
    const browser = await chromium.launch({
      executablePath: findChromium(),
      args: ['--no-sandbox', '--disable-gpu'],
    });
    const borrowed = new ChromiumProvider({ browser, maxContexts: 1 });
    try {
      const lease = await borrowed.newContext({ state });
      expect(lease.context.browser()).toBe(browser);
      expect(await pageValue<string>(lease, `${site}/read`, 'window.__cookie')).toContain(
        'sid=cookie-secret',
      );
      await lease.close();
      await borrowed.close();
      expect(browser.isConnected()).toBe(true);
      expect(browser.contexts()).toEqual([]);

      const after = new ChromiumProvider({ browser });
      await browser.close();
      await expect(after.newContext({})).rejects.toMatchObject({ code: 'BROWSER_UNAVAILABLE' });
      expect(after.stats()).toMatchObject({ openContexts: 0, waiting: 0, contextsOpened: 0 });
      await after.close();
    } finally {
      await borrowed.close();
      await browser.close();
    }
  });

  it('close() rejects waiters, closes contexts and leaves no Chromium process behind', async () => {
    const a = await provider.newContext({});
    await a.newPage();
    const b = await provider.newContext({});
    const waiter = provider.newContext({}).catch((err: unknown) => err);
    expect(chromiumChildren().length).toBeGreaterThan(0);

    await Promise.all([provider.close(), provider.close()]);
    expect(await waiter).toMatchObject({ code: 'CLOSED' });
    expect(provider.stats()).toMatchObject({ openContexts: 0, openPages: 0, waiting: 0 });
    await a.close();
    await b.close();
    await expect(provider.newContext({})).rejects.toMatchObject({ code: 'CLOSED' });
    await vi.waitFor(() => expect(chromiumChildren()).toEqual([]), { timeout: 5_000, interval: 50 });
  });
});
