import { EventEmitter } from 'node:events';
import type { BrowserContext } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import type { BrowserProvider, ContextLease, ContextRequest } from '../../src/index.js';
import {
  AuthSessionError,
  AuthSessionManager,
  createMemoryStore,
  parseProxy,
  stickyToken,
} from '../../src/index.js';
import { resolveProxy, watchProxyAuth } from '../../src/proxy.js';
import { FakeBrowserProvider, FakeClock, FakeSite } from '../../src/testing/index.js';
import { rejection } from '../shared.js';
import { type Harness, harness, siteAuth, TEST_KEY } from './helpers.js';

const alice = { username: 'alice', password: 'pw-alice-1' };
const PROXY_PASSWORD = 'proxy-PASS-canary-91c2';

let h: Harness | undefined;
afterEach(async () => {
  await h?.manager.close();
  await h?.browser.close();
  h = undefined;
});

function codeOf(fn: () => unknown): { code: string | undefined; message: string } {
  try {
    fn();
  } catch (err) {
    return {
      code: err instanceof AuthSessionError ? err.code : undefined,
      message: err instanceof Error ? err.message : String(err),
    };
  }
  return { code: undefined, message: '' };
}

/** The whole memory store as text (every key and serialised value). */
function dump(store: ReturnType<typeof createMemoryStore>): string {
  return JSON.stringify([...(store.store as Map<string, unknown>).entries()]);
}

describe('parseProxy', () => {
  it('reads URLs with credentials, percent-decoding them and keeping {session}', () => {
    expect(parseProxy(`http://user-{session}:${encodeURIComponent('p@ss:w/rd')}@proxy.example:8000`)).toEqual(
      {
        server: 'http://proxy.example:8000',
        username: 'user-{session}',
        password: 'p@ss:w/rd',
      },
    );
    expect(parseProxy('socks5://127.0.0.1:1080')).toEqual({ server: 'socks5://127.0.0.1:1080' });
    expect(parseProxy('https://proxy.example:443/')).toEqual({ server: 'https://proxy.example' });
    expect(parseProxy('127.0.0.1:3128')).toEqual({ server: 'http://127.0.0.1:3128' });
    expect(parseProxy('http://[::1]:3128')).toEqual({ server: 'http://[::1]:3128' });
  });

  it('reads settings objects', () => {
    expect(
      parseProxy({ server: '127.0.0.1:3128', username: 'u', password: 'p', bypass: '.internal, localhost' }),
    ).toEqual({
      server: 'http://127.0.0.1:3128',
      username: 'u',
      password: 'p',
      bypass: '.internal, localhost',
    });
  });

  it.each<[string, unknown]>([
    ['not a URL', `http://user:${PROXY_PASSWORD}@`],
    ['a bad port', `http://user:${PROXY_PASSWORD}@host:99999`],
    ['an unsupported scheme', `ftp://user:${PROXY_PASSWORD}@host:21`],
    ['a path', `http://user:${PROXY_PASSWORD}@host:8080/some/path`],
    ['a query', `http://user:${PROXY_PASSWORD}@host:8080/?x=1`],
    ['SOCKS with credentials', `socks5://user:${PROXY_PASSWORD}@host:1080`],
    ['a password without a user name', `http://:${PROXY_PASSWORD}@host:8080`],
    ['a malformed escape', `http://user:${PROXY_PASSWORD}%zz@host:8080`],
    ['credentials inside server', { server: `http://user:${PROXY_PASSWORD}@host:8080` }],
    ['a non-string password', { server: 'http://host:8080', username: 'u', password: 42 }],
    ['a line break', { server: 'http://host:8080', username: 'u', password: `${PROXY_PASSWORD}\r\nX: y` }],
    ['an empty user name', { server: 'http://host:8080', username: '', password: PROXY_PASSWORD }],
    ['no server', { username: 'u', password: PROXY_PASSWORD }],
    ['a number', 8080],
    ['null', null],
  ])('refuses %s with INVALID_OPTIONS, never echoing the password', (_why, input) => {
    const { code, message } = codeOf(() => parseProxy(input as never));
    expect(code).toBe('INVALID_OPTIONS');
    expect(message).toMatch(/^"proxy" is invalid/);
    expect(message).not.toContain(PROXY_PASSWORD);
  });
});

describe('stickyToken and resolveProxy', () => {
  it('give one stable token per session, in the user name, password and bypass list', () => {
    const token = stickyToken('s-1');
    expect(token).toMatch(/^[0-9a-f]{16}$/);
    expect(stickyToken('s-1')).toBe(token);
    expect(stickyToken('s-2')).not.toBe(token);
    expect(
      resolveProxy(
        {
          server: 'http://gate:7000',
          username: 'c-{session}',
          password: 'p-{session}',
          bypass: '{session}.x',
        },
        's-1',
      ),
    ).toEqual({
      server: 'http://gate:7000',
      username: `c-${token}`,
      password: `p-${token}`,
      bypass: `${token}.x`,
    });
    expect(resolveProxy({ server: 'http://gate:7000' }, 's-1')).toEqual({ server: 'http://gate:7000' });
  });
});

describe('watchProxyAuth', () => {
  const response = (status: number) => ({ status: () => status });

  it('turns a failure after a 407 into PROXY_ERROR, without credentials in its cause', () => {
    const context = new EventEmitter();
    const watch = watchProxyAuth(context as unknown as BrowserContext, 's-1');
    const failure = new Error(`goto http://u:${PROXY_PASSWORD}@127.0.0.1:1/account failed`);
    expect(watch.failure(failure)).toBeUndefined();
    context.emit('response', response(200));
    expect(watch.refused).toBe(false);
    context.emit('response', response(407));
    expect(watch.refused).toBe(true);
    const err = watch.failure(failure);
    expect(err).toMatchObject({ code: 'PROXY_ERROR', sessionId: 's-1', status: 503 });
    const cause = err?.cause as Error | undefined;
    expect(cause?.message).toContain('***@127.0.0.1');
    expect(String(cause?.message)).not.toContain(PROXY_PASSWORD);
    expect(String(cause?.stack)).not.toContain(PROXY_PASSWORD);
    // An abort stays an abort; a PROXY_ERROR is kept as it is.
    expect(watch.failure(new AuthSessionError('ABORTED', 'aborted'))).toBeUndefined();
    const proxyError = new AuthSessionError('PROXY_ERROR', 'x');
    expect(watch.failure(proxyError)).toBe(proxyError);
    watch.stop();
    watch.stop();
    expect(context.listenerCount('response')).toBe(0);
  });

  it('ignores contexts without an event API', () => {
    const watch = watchProxyAuth({} as BrowserContext, 's-1');
    expect(watch.failure(new Error('x'))).toBeUndefined();
    watch.stop();
  });
});

/** Wraps the fake browser so a test can make the context see a 407 from the proxy. */
class ProxyRefusingProvider implements BrowserProvider {
  readonly listeners = new Set<(r: { status(): number }) => void>();
  readonly #inner: FakeBrowserProvider;

  constructor(inner: FakeBrowserProvider) {
    this.#inner = inner;
  }

  refuse(): void {
    for (const listener of this.listeners) listener({ status: () => 407 });
  }

  async newContext(request: ContextRequest): Promise<ContextLease> {
    const lease = await this.#inner.newContext(request);
    const ctx = lease.context as unknown as {
      on: (e: string, f: (...a: never[]) => unknown) => unknown;
      off: (e: string, f: (...a: never[]) => unknown) => unknown;
    };
    const on = ctx.on.bind(ctx);
    const off = ctx.off.bind(ctx);
    ctx.on = (event, fn) => {
      if (event === 'response') this.listeners.add(fn as never);
      return on(event, fn);
    };
    ctx.off = (event, fn) => {
      if (event === 'response') this.listeners.delete(fn as never);
      return off(event, fn);
    };
    return lease;
  }

  stats() {
    return this.#inner.stats();
  }

  close() {
    return this.#inner.close();
  }
}

describe('sessions with a proxy (fake browser)', () => {
  it('seals the proxy: the password is in no stored byte, output, event or error', async () => {
    const store = createMemoryStore();
    h = harness({ store });
    const s = await h.manager.create('site', {
      credentials: alice,
      proxy: `http://cust-{session}:${PROXY_PASSWORD}@127.0.0.1:3128`,
    });
    expect(s.proxy).toEqual({ server: 'http://127.0.0.1:3128' });
    await h.manager.run(s.id, () => 1);
    const visible = JSON.stringify([
      await h.manager.get(s.id),
      await h.manager.list(),
      h.events.map((e) => e.payload),
    ]);
    expect(visible).not.toContain(PROXY_PASSWORD);
    expect(visible).not.toContain('cust-');
    expect(dump(store)).not.toContain(PROXY_PASSWORD);
    expect(dump(store)).not.toContain(Buffer.from(PROXY_PASSWORD).toString('base64'));
    expect(dump(store)).toContain('http://127.0.0.1:3128');
  });

  it('gives every context (create, check, refresh, run) the proxy with {session} replaced', async () => {
    // A fresh context per run, so every step opens one.
    h = harness({ warmContexts: false });
    const s = await h.manager.create('site', {
      credentials: alice,
      proxy: { server: 'http://127.0.0.1:3128', username: 'cust-{session}', password: PROXY_PASSWORD },
    });
    await h.manager.validate(s.id);
    h.site.logoutAll();
    await h.manager.run(s.id, () => 1); // check fails → refresh → run
    expect(h.count('refreshed')).toBe(1);
    const expected = {
      server: 'http://127.0.0.1:3128',
      username: `cust-${stickyToken(s.id)}`,
      password: PROXY_PASSWORD,
    };
    expect(h.browser.requests.length).toBeGreaterThanOrEqual(5);
    for (const request of h.browser.requests) expect(request.proxy).toEqual(expected);
  });

  it('update replaces the proxy, and proxy: null removes it', async () => {
    const store = createMemoryStore();
    h = harness({ store });
    const s = await h.manager.create('site', { credentials: alice, proxy: 'http://127.0.0.1:3128' });
    const updated = await h.manager.update(s.id, {
      proxy: { server: 'socks5://127.0.0.1:1080', bypass: '<-loopback>' },
    });
    expect(updated.proxy).toEqual({ server: 'socks5://127.0.0.1:1080' });
    await h.manager.run(s.id, () => 1);
    expect(h.browser.lastRequest?.proxy).toEqual({
      server: 'socks5://127.0.0.1:1080',
      bypass: '<-loopback>',
    });

    const removed = await h.manager.update(s.id, { proxy: null });
    expect(removed.proxy).toBeUndefined();
    expect((await h.manager.get(s.id))?.proxy).toBeUndefined();
    const raw = JSON.parse((await store.get<string>(`session/${s.id}`)) as string);
    expect(raw.proxy).toBeUndefined();
    expect(raw.sealed.proxy).toBeUndefined();
    await h.manager.run(s.id, () => 1);
    expect(h.browser.lastRequest?.proxy).toBeUndefined();
    expect(h.site.counters.logins).toBe(1);
  });

  it('refuses a bad proxy URL on create and update with INVALID_OPTIONS, changing nothing', async () => {
    h = harness();
    const bad = `http://user:${PROXY_PASSWORD}@proxy.example:8080/path`;
    const created = await rejection(
      h.manager.create('site', { credentials: alice, id: 'bad-1', proxy: bad }),
    );
    expect(created.code).toBe('INVALID_OPTIONS');
    expect(created.message).not.toContain(PROXY_PASSWORD);
    expect(await h.manager.get('bad-1')).toBeUndefined();
    expect(h.browser.requests).toHaveLength(0);

    const s = await h.manager.create('site', { credentials: alice, proxy: 'http://127.0.0.1:3128' });
    const before = await h.manager.get(s.id);
    const updated = await rejection(h.manager.update(s.id, { proxy: 'gopher://x:1' }));
    expect(updated.code).toBe('INVALID_OPTIONS');
    expect(await h.manager.get(s.id)).toEqual(before);
  });

  it('a proxy failure during check is PROXY_ERROR: no refresh, no expiry, the session stays active', async () => {
    let failing = false;
    h = harness({
      auth: {
        async check({ page }) {
          if (failing)
            throw new Error('page.goto: net::ERR_PROXY_CONNECTION_FAILED at http://site.test/account');
          await page.goto(`${h?.site.origin}/account`);
          return (await page.textContent('#user')) !== null;
        },
      },
    });
    const s = await h.manager.create('site', { credentials: alice, proxy: 'http://127.0.0.1:9' });
    failing = true;
    const err = await rejection(h.manager.run(s.id, () => 1));
    expect(err.code).toBe('PROXY_ERROR');
    expect((await h.manager.get(s.id))?.state).toBe('active');
    expect(h.count('refreshed') + h.count('expired')).toBe(0);
    expect(h.site.counters.logins).toBe(1);
  });

  it('a 407 from the proxy turns a failed check or login into PROXY_ERROR, never an expiry', async () => {
    let refuse = false;
    const clock = new FakeClock();
    const site = new FakeSite({ clock, sessionTtlMs: 60 * 60_000 });
    site.addUser('alice', 'pw-alice-1');
    const fake = new FakeBrowserProvider({ sites: [site] });
    const provider = new ProxyRefusingProvider(fake);
    const manager = new AuthSessionManager({
      auths: [
        siteAuth(site, {
          createAttempts: 3,
          checkAttempts: 3,
          async check({ page }) {
            if (refuse) {
              provider.refuse(); // what Chromium does over plain HTTP: goto resolves with the proxy's 407 page
              return false;
            }
            await page.goto(`${site.origin}/account`);
            return (await page.textContent('#user')) !== null;
          },
        }),
      ],
      store: createMemoryStore(),
      key: TEST_KEY,
      browser: provider,
      clock,
      // A fresh context per attempt: nothing may stay open after the failures.
      warmContexts: false,
    });
    try {
      const s = await manager.create('site', {
        credentials: alice,
        proxy: `http://u:${PROXY_PASSWORD}@127.0.0.1:3128`,
      });
      refuse = true;
      const checked = await rejection(manager.run(s.id, () => 1));
      expect(checked.code).toBe('PROXY_ERROR');
      expect(checked.message).not.toContain(PROXY_PASSWORD);
      expect((await manager.get(s.id))?.state).toBe('active');
      expect(site.counters.logins).toBe(1);

      const created = await rejection(
        manager.create('site', { credentials: alice, proxy: 'http://127.0.0.1:3128' }),
      );
      expect(created.code).toBe('PROXY_ERROR');
      expect(site.counters.logins).toBe(2); // one attempt only: a proxy failure is not retried
      expect(provider.listeners.size).toBe(0);
      expect(fake.stats()).toMatchObject({ openContexts: 0, openPages: 0 });
    } finally {
      await manager.close();
      await fake.close();
    }
  });

  it('a session without a proxy is not watched: a failed check is a failed check', async () => {
    h = harness();
    const s = await h.manager.create('site', { credentials: alice });
    h.site.logoutAll();
    await h.manager.run(s.id, () => 1);
    expect(h.count('refreshed')).toBe(1);
  });
});
