/**
 * The live view without Chromium: the screencast's life (started while somebody watches, stopped when the
 * last watcher leaves, every frame acknowledged at a bounded rate) over a scripted CDP session, input mapped
 * onto the remote viewport; and the recorder flow of a connect link on the fake browser, whose context is
 * closed on every path: the person leaving, the recorder's timeout, and close().
 */
import { EventEmitter } from 'node:events';
import { Hono } from 'hono';
import type { Page } from 'playwright-core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuthSessionManager, createMemoryStore, defineAuth } from '../../src/index.js';
import { type Connect, createConnect } from '../../src/server/connect/index.js';
import { type LiveFrame, LiveView } from '../../src/server/connect/live-view.js';
import { credentialsPage, inputPage } from '../../src/server/connect/pages.js';
import { FakeBrowserProvider, FakeClock, FakeSite } from '../../src/testing/index.js';
import { TEST_KEY } from './helpers.js';

class ScriptedCdp extends EventEmitter {
  readonly sent: Array<[string, unknown]> = [];
  detached = false;
  async send(method: string, params?: unknown): Promise<void> {
    this.sent.push([method, params]);
  }
  async detach(): Promise<void> {
    this.detached = true;
  }
  calls(method: string): unknown[] {
    return this.sent.filter(([m]) => m === method).map(([, p]) => p);
  }
}

function scriptedPage(cdp: ScriptedCdp) {
  const mouse = { click: vi.fn(async () => {}) };
  const keyboard = {
    type: vi.fn(async () => {}),
    press: vi.fn(async () => {}),
    insertText: vi.fn(async () => {}),
  };
  const page = {
    context: () => ({ newCDPSession: async () => cdp }),
    isClosed: () => false,
    viewportSize: () => ({ width: 1000, height: 500 }),
    mouse,
    keyboard,
  } as unknown as Page;
  return { page, mouse, keyboard };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

function frame(cdp: ScriptedCdp, sessionId: number) {
  cdp.emit('Page.screencastFrame', {
    data: `JPEG${sessionId}`,
    sessionId,
    metadata: { deviceWidth: 1600, deviceHeight: 800 },
  });
}

describe('LiveView', () => {
  it('casts only while watched, acknowledges every frame at most maxFps per second, maps input', async () => {
    const clock = new FakeClock();
    const cdp = new ScriptedCdp();
    const { page, mouse, keyboard } = scriptedPage(cdp);
    const view = new LiveView(page, clock, { maxFps: 5, quality: 50, maxWidth: 640, maxHeight: 480 });
    await flush();
    expect(cdp.sent).toEqual([]); // nobody watches: no screencast

    const seen: LiveFrame[] = [];
    const stop = view.watch((f) => seen.push(f));
    await flush();
    expect(cdp.calls('Page.startScreencast')).toEqual([
      { format: 'jpeg', quality: 50, maxWidth: 640, maxHeight: 480, everyNthFrame: 1 },
    ]);

    frame(cdp, 1);
    clock.advance(0);
    expect(cdp.calls('Page.screencastFrameAck')).toEqual([{ sessionId: 1 }]);
    frame(cdp, 2);
    clock.advance(199);
    expect(cdp.calls('Page.screencastFrameAck')).toHaveLength(1); // held back: 5 frames per second
    clock.advance(1);
    expect(cdp.calls('Page.screencastFrameAck')).toEqual([{ sessionId: 1 }, { sessionId: 2 }]);
    expect(seen.map((f) => f.data)).toEqual(['JPEG1', 'JPEG2']);
    expect(seen[1]).toMatchObject({ width: 1600, height: 800 });

    // Clicks are fractions of the picture, mapped onto the remote viewport (CSS pixels of the frame).
    await view.click(0.25, 0.5);
    await view.click(2, -1);
    expect(mouse.click.mock.calls).toEqual([
      [400, 400],
      [1600, 0],
    ]);
    await view.key('a');
    await view.key('Enter');
    await view.key('a', { ctrl: true });
    await view.key('F12'); // not a key the live view sends
    await view.text('pasted text');
    expect(keyboard.type.mock.calls).toEqual([['a']]);
    expect(keyboard.press.mock.calls).toEqual([['Enter'], ['Control+a']]);
    expect(keyboard.insertText.mock.calls).toEqual([['pasted text']]);

    stop();
    await flush();
    expect(cdp.calls('Page.stopScreencast')).toHaveLength(1);

    // A new watcher gets the last picture at once, and the screencast starts again.
    const later: LiveFrame[] = [];
    view.watch((f) => later.push(f));
    await flush();
    expect(later.map((f) => f.data)).toEqual(['JPEG2']);
    expect(cdp.calls('Page.startScreencast')).toHaveLength(2);

    frame(cdp, 3);
    await view.close();
    expect(cdp.calls('Page.stopScreencast')).toHaveLength(2);
    expect(cdp.detached).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('pages', () => {
  it('escape what the auth and its login say', async () => {
    const hostile = '<img src=x onerror=alert(1)>';
    const link = { token: 'tok', csrf: 'c"sr<f' };
    const page = String(
      await inputPage(link, hostile, { id: 'r"1', kind: 'otp', message: hostile, choices: [hostile] }),
    );
    expect(page).not.toContain(hostile);
    expect(page).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(page).not.toContain('c"sr<f');
    const form = String(
      await credentialsPage(link, hostile, [{ name: hostile, optional: false, secret: true }]),
    );
    expect(form).not.toContain(hostile);
  });
});

describe('recorder links on the fake browser', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  });

  function setup(times: { recordTimeoutMs?: number; leaveTimeoutMs?: number }) {
    const clock = new FakeClock();
    const site = new FakeSite({ clock, sessionTtlMs: 60 * 60_000 });
    const browser = new FakeBrowserProvider({ sites: [site], maxContexts: 4 });
    const manager = new AuthSessionManager({
      auths: [
        defineAuth({
          name: 'portal',
          type: 'recorder',
          startUrl: `${site.origin}/login`,
          finishUrl: `${site.origin}/account`,
          async check() {
            return true;
          },
        }),
      ],
      store: createMemoryStore(),
      key: TEST_KEY,
      browser,
      clock,
    });
    const connect: Connect = createConnect(manager, {
      mountPath: '/connect',
      publicUrl: () => 'http://console.test',
      clock,
      ...times,
    });
    const root = new Hono();
    root.route('/connect', connect.app);
    cleanups.push(
      () => manager.close(),
      () => browser.close(),
      () => connect.close(),
    );
    let cookie = '';
    const fetch = async (url: string, init: RequestInit = {}) => {
      const res = await root.fetch(
        new Request(url, { ...init, headers: { ...(cookie ? { cookie } : {}), ...(init.headers ?? {}) } }),
      );
      const set = res.headers.get('set-cookie');
      if (set) cookie = set.split(';')[0]!;
      return res;
    };
    /** Opens the link and presses "Start": the recording browser opens. */
    const start = async () => {
      const { url } = await connect.connectLink({ auth: 'portal' });
      const page = await (await fetch(url)).text();
      const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
      const res = await fetch(`${url}/start`, { method: 'POST', body: new URLSearchParams({ csrf }) });
      expect(res.status).toBe(303);
      await vi.waitFor(() => expect(browser.stats().openContexts).toBe(1));
      return url;
    };
    return { clock, browser, manager, connect, fetch, start };
  }

  it('the person leaves (no page watches): after leaveTimeoutMs the recording is given up and its context closed', async () => {
    const h = setup({ leaveTimeoutMs: 30_000 });
    const url = await h.start();
    await h.clock.advanceAsync(29_000);
    expect(h.browser.stats().openContexts).toBe(1);
    await h.clock.advanceAsync(1_000);
    await vi.waitFor(() => expect(h.browser.stats().openContexts).toBe(0));
    expect(await h.manager.list()).toEqual([]);
    // The page tells the person, through the stream's status event (which ends the stream).
    const stream = await (await h.fetch(`${url}/frames`)).text();
    expect(stream).toContain('event: status');
    expect(stream).toContain('"step":"idle"');
    expect(stream).toContain('stopped');
  });

  it('a watcher keeps the recording going; the recorder timeout ends it and closes the context', async () => {
    const h = setup({ leaveTimeoutMs: 30_000, recordTimeoutMs: 120_000 });
    const url = await h.start();
    const res = await h.fetch(`${url}/frames`);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const body = res.text();
    await h.clock.advanceAsync(60_000); // past leaveTimeoutMs, but somebody watches
    expect(h.browser.stats().openContexts).toBe(1);
    await h.clock.advanceAsync(60_000);
    const stream = await body;
    expect(stream).toContain('"step":"live"');
    expect(stream).toContain('time to log in ran out');
    await vi.waitFor(() => expect(h.browser.stats().openContexts).toBe(0));
  });

  it('close() ends live recordings and closes their contexts; links then refuse', async () => {
    const h = setup({});
    const url = await h.start();
    await h.connect.close();
    expect(h.browser.stats().openContexts).toBe(0);
    expect((await h.fetch(url)).status).toBe(403);
    await expect(h.connect.connectLink({ auth: 'portal' })).rejects.toMatchObject({ code: 'CLOSED' });
  });
});
