/**
 * The quick capture (one small script per frame plus the cookies) must give exactly what Playwright's own
 * `storageState({ indexedDB: true })` gives, and must fall back to it whenever it cannot know: IndexedDB in
 * use, an origin visited but no longer shown (navigated away, an iframe, a popup that closed).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { toBrowserState } from '../../src/browser/capture.js';
import { ChromiumProvider } from '../../src/browser/chromium.js';
import type { ContextLease } from '../../src/browser/provider.js';
import { type BrowserState, stateFingerprint } from '../../src/browser/state.js';

// `/ls?v=…` writes localStorage and sessionStorage; `/idb?v=…` an IndexedDB record; `/frame?src=…` embeds
// another page; `/blank` does nothing. Each sets `window.__ready` once its writes are done.
const page = (body: string) => `<!doctype html><title>t</title><body>${body}</body>`;
function handler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  const v = JSON.stringify(url.searchParams.get('v') ?? 'x');
  res.setHeader('content-type', 'text/html; charset=utf-8');
  if (url.pathname === '/ls') {
    res.setHeader('set-cookie', `c${url.searchParams.get('v') ?? 'x'}=1; Path=/; Max-Age=3600`);
    res.end(
      page(
        `<script>localStorage.setItem('ls', ${v}); sessionStorage.setItem('ss', ${v}); window.__ready = true;</script>`,
      ),
    );
  } else if (url.pathname === '/idb') {
    res.end(
      page(`<script>
const open = indexedDB.open('db', 1);
open.onupgradeneeded = () => open.result.createObjectStore('kv');
open.onsuccess = () => {
  const tx = open.result.transaction('kv', 'readwrite');
  tx.objectStore('kv').put(${v}, 'token');
  tx.oncomplete = () => { open.result.close(); window.__ready = true; };
};
</script>`),
    );
  } else if (url.pathname === '/frame') {
    res.end(page(`<iframe src="${url.searchParams.get('src') ?? ''}"></iframe>`));
  } else {
    res.end(page('<script>window.__ready = true;</script>'));
  }
}

const servers = [http.createServer(handler), http.createServer(handler)];
let a = '';
let b = '';
const provider = new ChromiumProvider({ maxContexts: 2 });

beforeAll(async () => {
  const urls = await Promise.all(
    servers.map(
      (server) =>
        new Promise<string>((resolve) =>
          server.listen(0, '127.0.0.1', () =>
            resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
          ),
        ),
    ),
  );
  [a, b] = urls as [string, string];
});

afterAll(async () => {
  await provider.close();
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

async function visit(target: Page, url: string): Promise<void> {
  await target.goto(url);
  await target.waitForFunction('window.__ready === true');
}

/**
 * Captures with the lease, then asks Playwright for its own capture of the same context. Returns both and
 * whether the lease's capture had to fall back to Playwright's.
 */
async function captureBoth(
  lease: ContextLease,
): Promise<{ quick: BrowserState; playwright: BrowserState; fellBack: boolean }> {
  const spy = vi.spyOn(lease.context, 'storageState');
  try {
    const quick = await lease.captureState();
    const fellBack = spy.mock.calls.length > 0;
    spy.mockRestore();
    const playwright = toBrowserState(await lease.context.storageState({ indexedDB: true }), []);
    return { quick, playwright, fellBack };
  } finally {
    spy.mockRestore();
  }
}

/** Runs `fn` with a fresh context (opened with `state`) and a page in it; closes the context after. */
async function inContext<T>(
  state: BrowserState | undefined,
  fn: (lease: ContextLease, tab: Page) => Promise<T>,
): Promise<T> {
  const lease = await provider.newContext(state ? { state } : {});
  try {
    return await fn(lease, await lease.newPage());
  } finally {
    await lease.close();
  }
}

function withoutSessionStorage(state: BrowserState): BrowserState {
  return { cookies: state.cookies, origins: state.origins };
}

describe.runIf(process.platform === 'linux')('capturing the state of a context', () => {
  it('reads the page itself when it shows every visited origin and no IndexedDB is in use', async () => {
    const { quick, playwright, fellBack } = await inContext(undefined, async (lease, tab) => {
      await visit(tab, `${a}/ls?v=1`);
      return captureBoth(lease);
    });
    expect(fellBack).toBe(false);
    expect(stateFingerprint(withoutSessionStorage(quick))).toBe(stateFingerprint(playwright));
    expect(quick.origins).toEqual([{ origin: a, localStorage: [{ name: 'ls', value: '1' }] }]);
    expect(quick.cookies.map((c) => c.name)).toEqual(['c1']);
    expect(quick.sessionStorage).toEqual([{ origin: a, items: [{ name: 'ss', value: '1' }] }]);
  });

  it("reads a page's main frame over the page's CDP session, and the Playwright way when it has none", async () => {
    // Over CDP: Playwright's frame.evaluate is not used for the main frame.
    const overCdp = await inContext(undefined, async (lease, tab) => {
      await visit(tab, `${a}/ls?v=cdp`);
      const evaluate = vi.spyOn(tab.mainFrame(), 'evaluate');
      try {
        return { state: await lease.captureState(), evaluated: evaluate.mock.calls.length };
      } finally {
        evaluate.mockRestore();
      }
    });
    expect(overCdp.evaluated).toBe(0);
    expect(overCdp.state.origins).toEqual([{ origin: a, localStorage: [{ name: 'ls', value: 'cdp' }] }]);
    expect(overCdp.state.sessionStorage).toEqual([{ origin: a, items: [{ name: 'ss', value: 'cdp' }] }]);

    // No CDP session for the page (the browser refused it): the same answer through frame.evaluate.
    const lease = await provider.newContext({});
    const refuse = vi
      .spyOn(
        Object.getPrototypeOf(lease.context) as { newCDPSession: () => Promise<unknown> },
        'newCDPSession',
      )
      .mockRejectedValue(new Error('no CDP here'));
    try {
      const tab = await lease.newPage();
      refuse.mockRestore();
      await visit(tab, `${a}/ls?v=pw`);
      const evaluate = vi.spyOn(tab.mainFrame(), 'evaluate');
      const state = await lease.captureState();
      expect(evaluate).toHaveBeenCalled();
      expect(state.origins).toEqual([{ origin: a, localStorage: [{ name: 'ls', value: 'pw' }] }]);
      expect(state.sessionStorage).toEqual([{ origin: a, items: [{ name: 'ss', value: 'pw' }] }]);
    } finally {
      refuse.mockRestore();
      await lease.close();
    }
  });

  it('a page with nothing stored gives an empty state without asking Playwright', async () => {
    const { quick, playwright, fellBack } = await inContext(undefined, async (lease, tab) => {
      await visit(tab, `${a}/blank`);
      return captureBoth(lease);
    });
    expect(fellBack).toBe(false);
    expect(quick).toEqual({ cookies: [], origins: [] });
    expect(stateFingerprint(quick)).toBe(stateFingerprint(playwright));
  });

  it('falls back to Playwright when the site keeps IndexedDB, and gets it', async () => {
    const { quick, playwright, fellBack } = await inContext(undefined, async (lease, tab) => {
      await visit(tab, `${a}/idb?v=secret-in-idb`);
      return captureBoth(lease);
    });
    expect(fellBack).toBe(true);
    expect(JSON.stringify(quick.origins)).toContain('secret-in-idb');
    expect(stateFingerprint(quick)).toBe(stateFingerprint(playwright));
  });

  it('carries over, unchanged, the stored origins no page went to (IndexedDB included)', async () => {
    const state = await inContext(undefined, async (lease, tab) => {
      await visit(tab, `${b}/idb?v=kept`);
      await visit(tab, `${b}/ls?v=kept`);
      return lease.captureState();
    });
    expect(JSON.stringify(state.origins)).toContain('kept');

    const { quick, playwright, fellBack } = await inContext(state, async (lease, tab) => {
      await visit(tab, `${a}/ls?v=2`);
      return captureBoth(lease);
    });
    expect(fellBack).toBe(false);
    expect(stateFingerprint(withoutSessionStorage(quick))).toBe(stateFingerprint(playwright));
    expect(quick.origins.map((o) => o.origin).sort()).toEqual([a, b].sort());
  });

  it('keeps what a page knew when it left an origin: navigated away, an iframe, a closed popup (no slow path)', async () => {
    const scenarios: [string, (tab: Page) => Promise<void>][] = [
      [
        'navigated away',
        async (tab) => {
          await visit(tab, `${b}/ls?v=3`);
          await visit(tab, `${a}/ls?v=4`);
        },
      ],
      [
        'iframe',
        async (tab) => {
          await tab.goto(`${a}/frame?src=${encodeURIComponent(`${b}/ls?v=5`)}`);
          await expect.poll(() => tab.frames().length).toBe(2);
          await tab.frames()[1]?.waitForFunction('window.__ready === true');
        },
      ],
      [
        'closed popup',
        async (tab) => {
          await visit(tab, `${a}/ls?v=6`);
          const [popup] = await Promise.all([
            tab.waitForEvent('popup'),
            tab.evaluate(`window.open(${JSON.stringify(`${b}/ls?v=7`)})`),
          ]);
          await popup.waitForFunction('window.__ready === true');
          await popup.close();
        },
      ],
    ];
    for (const [name, act] of scenarios) {
      const { quick, playwright, fellBack } = await inContext(undefined, async (lease, tab) => {
        await act(tab);
        return captureBoth(lease);
      });
      expect(fellBack, name).toBe(false);
      expect(stateFingerprint(withoutSessionStorage(quick)), name).toBe(stateFingerprint(playwright));
      expect(
        quick.origins.some((o) => o.origin === b),
        name,
      ).toBe(true);
      // The sessionStorage the left document had is kept too.
      expect(
        quick.sessionStorage?.some((s) => s.origin === b && s.items.some((i) => i.name === 'ss')),
        name,
      ).toBe(true);
    }
  });

  it('leaves a page other runs are using unread when what it shows is known, and reads it when not', async () => {
    // Their page is on another site than mine (localhost, not 127.0.0.1), so in another renderer process: a
    // script stuck in theirs cannot hold mine up.
    const theirOrigin = b.replace('127.0.0.1', 'localhost');
    const lease = await provider.newContext({});
    try {
      const mine = await lease.newPage();
      const theirs = await lease.newPage();
      // Their page shows an origin no capture has read yet: it is read (no slow path).
      await visit(theirs, `${theirOrigin}/ls?v=10`);
      await visit(mine, `${a}/ls?v=11`);
      const inUse = new Set([theirs]);
      const spy = vi.spyOn(lease.context, 'storageState');
      const first = await lease.captureState({ inUse });
      expect(spy).not.toHaveBeenCalled();
      expect(first.origins.find((o) => o.origin === theirOrigin)?.localStorage).toEqual([
        { name: 'ls', value: '10' },
      ]);

      // Now it is known, and their page is busy (its main thread stuck in a script for 4 s, less than a read
      // waits for an answer): the capture answers before that script ends, with their origin as last read
      // and mine read live.
      await visit(mine, `${a}/ls?v=12`);
      // The loop starts as soon as the evaluation returns; anything sent to the page after that (this probe,
      // a read) is answered when the loop ends.
      await theirs.evaluate(
        'setTimeout(() => { const end = Date.now() + 4000; while (Date.now() < end); }, 0)',
      );
      const busy = theirs.evaluate('"done"').catch(() => 'closed');
      const second = await Promise.race([
        lease.captureState({ inUse }),
        busy.then(() => 'their script ended first' as const),
      ]);
      expect(second).not.toBe('their script ended first');
      const state = second as BrowserState;
      expect(spy).not.toHaveBeenCalled();
      spy.mockRestore();
      expect(state.origins.find((o) => o.origin === theirOrigin)?.localStorage).toEqual([
        { name: 'ls', value: '10' },
      ]);
      expect(state.origins.find((o) => o.origin === a)?.localStorage).toEqual([{ name: 'ls', value: '12' }]);
      expect(state.sessionStorage?.find((s) => s.origin === a)?.items).toEqual([{ name: 'ss', value: '12' }]);
      expect(state.cookies.map((c) => c.name).sort()).toEqual(['c10', 'c11', 'c12']);
    } finally {
      await lease.close();
    }
  });

  it('still falls back when a page that left an origin had used IndexedDB there', async () => {
    const { quick, playwright, fellBack } = await inContext(undefined, async (lease, tab) => {
      await visit(tab, `${b}/idb?v=8`);
      await visit(tab, `${a}/ls?v=9`);
      return captureBoth(lease);
    });
    expect(fellBack).toBe(true);
    expect(stateFingerprint(withoutSessionStorage(quick))).toBe(stateFingerprint(playwright));
    expect(quick.origins.find((o) => o.origin === b)?.indexedDB?.length).toBeGreaterThan(0);
  });
});
