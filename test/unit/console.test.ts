import { inspect } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { AuthSessionManager, createMemoryStore, defineAuth } from '../../src/index.js';
import { createConsole, MAX_BODY_BYTES, type WebConsole } from '../../src/server/index.js';
import { FakeBrowserProvider, FakeClock, FakeSite } from '../../src/testing/index.js';
import { harness, TEST_KEY } from './helpers.js';

// The console through its web-standard `fetch` handler: sign-in, CSRF, CSP, body limits, the rate limit,
// the pages and their actions, live updates, and that nothing secret ever leaves it.

const TOKEN = 'console-token-0123456789abcdef';
const ALICE = { username: 'alice', password: 'pw-alice-1' };
const ORIGIN = 'http://console.test';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup(options: { basePath?: string } = {}) {
  const h = harness();
  const web = createConsole(h.manager, { token: TOKEN, clock: h.clock, ...options });
  cleanups.push(
    () => h.manager.close(),
    () => web.close(),
  );
  return { ...h, web };
}

/** A browser of the console: keeps its cookie, follows nothing by itself. */
class Browser {
  cookie: string | undefined;
  constructor(
    readonly web: WebConsole,
    readonly base = '',
  ) {}

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookie) headers.set('cookie', this.cookie);
    const response = await this.web.fetch(new Request(`${ORIGIN}${this.base}${path}`, { ...init, headers }));
    const set = response.headers.get('set-cookie');
    if (set) this.cookie = set.split(';')[0];
    return response;
  }

  async signIn(): Promise<void> {
    const response = await this.request(`/?token=${TOKEN}`);
    expect(response.status).toBe(303);
  }

  async csrf(path = '/'): Promise<string> {
    const text = await (await this.request(path)).text();
    const match = /name="_csrf" value="([^"]+)"/.exec(text);
    if (!match?.[1]) throw new Error('no CSRF token on the page');
    return match[1];
  }

  async post(path: string, fields: Record<string, string>): Promise<Response> {
    return this.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  }
}

describe('console sign-in', () => {
  it('no token, no data: pages answer 401 with the sign-in form, the API 401 JSON', async () => {
    const { manager, web } = setup();
    await manager.create('site', { id: 'acme-1', credentials: ALICE, labels: { customer: 'acme' } });
    const browser = new Browser(web);
    for (const path of [
      '/',
      '/sessions/acme-1',
      '/api/sessions',
      '/api/sessions/acme-1',
      '/api/metrics',
      '/events',
    ]) {
      const response = await browser.request(path);
      expect(response.status, path).toBe(401);
      const body = await response.text();
      expect(body, path).not.toContain('acme-1');
      expect(body, path).not.toContain('customer');
    }
    expect(await (await browser.request('/')).text()).toContain('name="token"');
  });

  it('?token= is exchanged for an HttpOnly SameSite=Strict cookie and dropped from the address', async () => {
    const { manager, web } = setup();
    await manager.create('site', { id: 'acme-1', credentials: ALICE });
    const browser = new Browser(web);
    const response = await browser.request(`/?state=active&token=${TOKEN}`);
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/?state=active');
    const cookie = response.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    expect(cookie).not.toContain(TOKEN);
    const page = await browser.request('/?state=active');
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('acme-1');
  });

  it('the sign-in form takes the token; a wrong one is refused, then rate limited', async () => {
    const { web, clock } = setup();
    const browser = new Browser(web);
    for (let i = 0; i < 5; i++) {
      expect((await browser.post('/sign-in', { token: `wrong-token-${i}-xxxxxxxx` })).status).toBe(401);
    }
    const limited = await browser.post('/sign-in', { token: TOKEN });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(browser.cookie).toBeUndefined();
    clock.advance(61_000);
    const ok = await browser.post('/sign-in', { token: TOKEN });
    expect(ok.status).toBe(303);
    expect(browser.cookie).toBeDefined();
    expect((await browser.request('/')).status).toBe(200);
  });

  it('a wrong ?token= is refused and sets no cookie', async () => {
    const { web } = setup();
    const browser = new Browser(web);
    const response = await browser.request('/?token=not-the-token-at-all');
    expect(response.status).toBe(401);
    expect(response.headers.get('set-cookie')).toBeNull();
  });

  it('signing out ends the console session', async () => {
    const { web } = setup();
    const browser = new Browser(web);
    await browser.signIn();
    const csrf = await browser.csrf();
    const cookie = browser.cookie;
    expect((await browser.post('/sign-out', { _csrf: csrf })).status).toBe(303);
    browser.cookie = cookie;
    expect((await browser.request('/')).status).toBe(401);
  });

  it('refuses a short token and unknown options', () => {
    const { manager } = harness();
    cleanups.push(() => manager.close());
    expect(() => createConsole(manager, { token: 'short' })).toThrow(/at least 16/);
    expect(() => createConsole(manager, { tokn: TOKEN } as never)).toThrow(/unknown option/);
    expect(() => createConsole(manager, { basePath: 'no-slash' })).toThrow(/basePath/);
  });
});

describe('console request protection', () => {
  it('every page carries a strict CSP without inline script', async () => {
    const { manager, web } = setup();
    await manager.create('site', { id: 'acme-1', credentials: ALICE });
    const browser = new Browser(web);
    await browser.signIn();
    for (const path of ['/', '/sessions/acme-1', '/sessions/acme-1/delete', '/sign-in']) {
      const response = await browser.request(path);
      const csp = response.headers.get('content-security-policy') ?? '';
      expect(csp, path).toContain("default-src 'self'");
      expect(csp, path).toContain("script-src 'self'");
      expect(csp, path).not.toContain('unsafe-inline');
      expect(csp, path).toContain("frame-ancestors 'none'");
      const text = await response.text();
      // Scripts only from files: no inline <script> body, no on… handlers.
      for (const tag of text.match(/<script[^>]*>[\s\S]*?<\/script>/g) ?? []) {
        expect(tag, path).toMatch(/^<script src="[^"]+" defer><\/script>$/);
      }
      expect(text, path).not.toMatch(/\son[a-z]+=/i);
    }
  });

  it('a POST without the CSRF token (or with a wrong one) is refused with 403 and changes nothing', async () => {
    const { manager, web } = setup();
    await manager.create('site', { id: 'acme-1', credentials: ALICE });
    const browser = new Browser(web);
    await browser.signIn();
    const actions: Array<[string, Record<string, string>]> = [
      ['/sessions/acme-1/delete', { confirm: 'yes' }],
      ['/sessions/acme-1/labels', { labels: 'x=1' }],
      ['/sessions/acme-1/validate', {}],
      ['/sessions/acme-1/credentials', { 'c.username': 'x', 'c.password': 'y' }],
      ['/sign-out', {}],
    ];
    for (const [path, fields] of actions) {
      expect((await browser.post(path, fields)).status, path).toBe(403);
      expect((await browser.post(path, { ...fields, _csrf: 'wrong' })).status, path).toBe(403);
      const json = await browser.request(path, {
        method: 'POST',
        body: '{}',
        headers: { 'content-type': 'application/json' },
      });
      expect(json.status, path).toBe(403);
    }
    const info = await manager.get('acme-1');
    expect(info?.labels).toEqual({});
    expect((await browser.request('/')).status).toBe(200);
  });

  it('the CSRF token of one console session is not accepted in another', async () => {
    const { manager, web } = setup();
    await manager.create('site', { id: 'acme-1', credentials: ALICE });
    const a = new Browser(web);
    const b = new Browser(web);
    await a.signIn();
    await b.signIn();
    const csrfA = await a.csrf('/sessions/acme-1');
    expect((await b.post('/sessions/acme-1/labels', { labels: 'x=1', _csrf: csrfA })).status).toBe(403);
    expect((await a.post('/sessions/acme-1/labels', { labels: 'x=1', _csrf: csrfA })).status).toBe(303);
  });

  it('bounds request bodies (413)', async () => {
    const { manager, web } = setup();
    await manager.create('site', { id: 'acme-1', credentials: ALICE });
    const browser = new Browser(web);
    await browser.signIn();
    const csrf = await browser.csrf();
    const response = await browser.post('/sessions/acme-1/labels', {
      _csrf: csrf,
      labels: `big=${'x'.repeat(MAX_BODY_BYTES + 10)}`,
    });
    expect(response.status).toBe(413);
    const unauthenticated = await new Browser(web).post('/sign-in', {
      token: 'x'.repeat(MAX_BODY_BYTES + 10),
    });
    expect(unauthenticated.status).toBe(413);
  });

  it('a label holding <script> is shown as text', async () => {
    const { manager, web } = setup();
    const evil = '<script>alert(1)</script><img src=x onerror=alert(2)>';
    await manager.create('site', { id: 'evil', credentials: ALICE, labels: { note: evil, [evil]: 'k' } });
    const browser = new Browser(web);
    await browser.signIn();
    for (const path of ['/', '/sessions/evil', `/?labels=${encodeURIComponent(`note=${evil}`)}`]) {
      const text = await (await browser.request(path)).text();
      expect(text, path).not.toContain('<script>alert');
      expect(text, path).not.toContain('<img src=x');
      expect(text, path).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    }
  });
});

describe('console pages', () => {
  it('lists sessions with filters by auth, state and labels, and pages through them', async () => {
    const { manager, web } = setup();
    for (let i = 0; i < 120; i++) {
      await manager.create('site', {
        id: `s-${String(i).padStart(3, '0')}`,
        credentials: ALICE,
        labels: { customer: i % 3 === 0 ? 'acme' : 'globex' },
      });
    }
    const browser = new Browser(web);
    await browser.signIn();
    const ids = (text: string) => [...text.matchAll(/data-session-state="([^"]+)"/g)].map((m) => m[1]);
    const first = await (await browser.request('/')).text();
    expect(ids(first)).toHaveLength(50);
    const next = /rel="next" href="([^"]+)"/.exec(first)?.[1]?.replaceAll('&amp;', '&');
    expect(next).toBeDefined();
    const second = await (await browser.request(next!)).text();
    expect(ids(second)).toHaveLength(50);
    expect(ids(second).some((id) => ids(first).includes(id))).toBe(false);
    const third = await (
      await browser.request(/rel="next" href="([^"]+)"/.exec(second)![1]!.replaceAll('&amp;', '&'))
    ).text();
    expect(ids(third)).toHaveLength(20);
    expect(third).not.toContain('rel="next"');
    expect(new Set([...ids(first), ...ids(second), ...ids(third)]).size).toBe(120);
    // The session the Next link starts after is gone: the page is found by counting instead.
    await manager.delete(ids(first).at(-1)!);
    const again = await (await browser.request(next!)).text();
    expect(ids(again)).toHaveLength(50);
    expect(ids(again)[0]).toBe(ids(second)[1]);
    const acme = await (await browser.request('/?labels=customer%3Dacme')).text();
    expect(ids(acme)).toHaveLength(40);
    expect(ids(await (await browser.request('/?label=customer%3Dacme')).text())).toEqual(ids(acme));
    expect(acme).not.toContain('globex');
    const api = (await (
      await browser.request('/api/sessions?labels=customer%3Dacme&state=active&auth=site')
    ).json()) as {
      sessions: Array<{ id: string }>;
      next?: string;
    };
    expect(api.sessions).toHaveLength(40);
    expect(api.next).toBeUndefined();
    expect(ids(await (await browser.request('/?state=expired')).text())).toHaveLength(0);
    expect((await browser.request('/?state=bogus')).status).toBe(400);
    expect((await browser.request('/?auth=bogus')).status).toBe(400);
  });

  it('shows a session with its history and stats, and validates it from the page', async () => {
    const { manager, web } = setup();
    await manager.create('site', { id: 'acme-1', credentials: ALICE, labels: { customer: 'acme' } });
    await manager.flushHistory();
    const browser = new Browser(web);
    await browser.signIn();
    const csrf = await browser.csrf('/sessions/acme-1');
    const response = await browser.post('/sessions/acme-1/validate', { _csrf: csrf });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/sessions/acme-1?done=validated');
    await manager.flushHistory();
    const page = await (await browser.request('/sessions/acme-1?done=validated')).text();
    expect(page).toContain('Validated');
    expect(page).toContain('customer=acme');
    expect(page).toMatch(/<td>create<\/td>/);
    expect(page).toMatch(/<td>check<\/td>|<td>run<\/td>/);
    expect((await browser.request('/sessions/nope')).status).toBe(404);
  });

  it('edits labels, and deletes only after confirmation', async () => {
    const { manager, web } = setup();
    await manager.create('site', { id: 'acme-1', credentials: ALICE });
    const browser = new Browser(web);
    await browser.signIn();
    const csrf = await browser.csrf('/sessions/acme-1');
    expect(
      (await browser.post('/sessions/acme-1/labels', { _csrf: csrf, labels: 'customer=acme\r\ntier = gold' }))
        .status,
    ).toBe(303);
    expect((await manager.get('acme-1'))?.labels).toEqual({ customer: 'acme', tier: 'gold' });
    const confirm = await (await browser.request('/sessions/acme-1/delete')).text();
    expect(confirm).toContain('Delete for good');
    expect((await browser.post('/sessions/acme-1/delete', { _csrf: csrf })).status).toBe(400);
    expect(await manager.get('acme-1')).toBeDefined();
    // Scripts send the token of the page's <meta name="csrf-token"> as a header.
    const meta = /<meta name="csrf-token" content="([^"]+)">/.exec(confirm)?.[1];
    expect(meta).toBe(csrf);
    const byHeader = await browser.request('/sessions/acme-1/labels', {
      method: 'POST',
      headers: { 'x-csrf-token': meta!, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'labels=via%3Dheader',
    });
    expect(byHeader.status).toBe(303);
    expect((await manager.get('acme-1'))?.labels).toEqual({ via: 'header' });
    const deleted = await browser.post('/sessions/acme-1/delete', { _csrf: csrf, confirm: 'yes' });
    expect(deleted.status).toBe(303);
    expect(await manager.get('acme-1')).toBeUndefined();
  });

  it('updates credentials through a form made from the schema, asking for a one-time code in the page', async () => {
    const clock = new FakeClock();
    const site = new FakeSite({ clock, sessionTtlMs: 60 * 60_000 });
    site.addUser('alice', 'pw-alice-1');
    site.addUser('alice2', 'pw-alice-2');
    const browser = new FakeBrowserProvider({ sites: [site] });
    const auth = defineAuth({
      name: 'otp',
      type: 'credentials',
      credentials: z.object({ username: z.string(), password: z.string(), remember: z.boolean().optional() }),
      retryDelay: 0,
      async create({ page, credentials, requestInput }) {
        const code = await requestInput({ kind: 'otp', message: 'Code from the app' });
        if (code !== '123456') throw new Error('wrong code');
        await page.goto(`${site.origin}/login`);
        await page.fill('#username', credentials.username);
        await page.fill('#password', credentials.password);
        await page.click('#login');
        await page.waitForURL(/\/account$/, { timeout: 1000 });
      },
      async check({ page }) {
        await page.goto(`${site.origin}/account`);
        return (await page.textContent('#user')) !== null;
      },
    });
    const manager = new AuthSessionManager({
      auths: [auth],
      store: createMemoryStore(),
      key: TEST_KEY,
      browser,
      clock,
    });
    const web = createConsole(manager, { token: TOKEN, clock });
    cleanups.push(
      () => manager.close(),
      () => web.close(),
    );
    await manager.create('otp', {
      id: 'o-1',
      credentials: { username: 'alice', password: 'pw-alice-1' },
      onInput: async () => '123456',
    });
    const b = new Browser(web);
    await b.signIn();
    const form = await (await b.request('/sessions/o-1/credentials')).text();
    expect(form).toContain('name="c.username" type="text"');
    expect(form).toContain('name="c.password" type="password"');
    expect(form).toContain('name="c.remember" type="checkbox"');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(form)![1]!;
    const started = await b.post('/sessions/o-1/credentials', {
      _csrf: csrf,
      'c.username': 'alice2',
      'c.password': 'pw-alice-2',
    });
    expect(started.status).toBe(303);
    const opUrl = started.headers.get('location')!;
    let page = '';
    for (let i = 0; i < 50 && !page.includes('name="answer"'); i++) {
      page = await (await b.request(opUrl)).text();
      await new Promise((r) => setImmediate(r));
    }
    expect(page).toContain('Code from the app');
    const resumed = await b.post(`${opUrl}/resume`, { _csrf: csrf, answer: '123456' });
    expect(resumed.status).toBe(303);
    const result = await manager.result(decodeURIComponent(opUrl.split('/').pop()!));
    expect(result.state).toBe('active');
    expect((await b.request(opUrl).then((r) => r.text())).includes('succeeded')).toBe(true);
    // Invalid credentials: only the paths are told, nothing typed is echoed back.
    const bad = await b.post('/sessions/o-1/credentials', { _csrf: csrf, 'c.username': 'Typed-Secret-Name' });
    expect(bad.status).toBe(400);
    const badText = await bad.text();
    expect(badText).toContain('password');
    expect(badText).not.toContain('Typed-Secret-Name');
  });

  it('mounts under a base path', async () => {
    const { manager, web } = setup({ basePath: '/ops/auth' });
    await manager.create('site', { id: 'acme-1', credentials: ALICE });
    const browser = new Browser(web, '/ops/auth');
    const signIn = await browser.request(`/sessions/acme-1?token=${TOKEN}`);
    expect(signIn.headers.get('location')).toBe('/ops/auth/sessions/acme-1');
    expect(signIn.headers.get('set-cookie')).toContain('Path=/ops/auth');
    const page = await (await browser.request('/')).text();
    expect(page).toContain('href="/ops/auth/sessions/acme-1"');
    expect(page).toContain('src="/ops/auth/assets/console.js"');
    expect((await browser.request('/assets/uplot.js')).headers.get('content-type')).toContain('javascript');
  });

  it('serves charts data and uPlot from the package', async () => {
    const { manager, web } = setup();
    await manager.create('site', { id: 'acme-1', credentials: ALICE });
    await manager.run('acme-1', () => undefined, { forceCheck: true });
    const browser = new Browser(web);
    await browser.signIn();
    const series = (await (await browser.request('/api/metrics')).json()) as { t: number[]; runs: number[] };
    expect(series.t).toHaveLength(60);
    expect(series.runs.reduce((a, b) => a + b, 0)).toBe(1);
    expect(await (await browser.request('/')).text()).toMatch(
      /id="stats">Since [^:]+:[^<]*1 runs \(0 failed\)/,
    );
    const js = await browser.request('/assets/uplot.js');
    expect(js.status).toBe(200);
    expect(await js.text()).toContain('uPlot');
  });
});

describe('console JSON actions', () => {
  it('validates, edits labels and deletes with the CSRF header, and refuses without it', async () => {
    const { manager, web } = setup();
    await manager.create('site', { id: 'acme-1', credentials: ALICE });
    const browser = new Browser(web);
    await browser.signIn();
    const csrf = await browser.csrf();
    const json = (method: string, path: string, body?: unknown, token: string | undefined = csrf) =>
      browser.request(path, {
        method,
        headers: { 'content-type': 'application/json', ...(token ? { 'x-csrf-token': token } : {}) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    expect((await json('POST', '/api/sessions/acme-1/validate', undefined, '')).status).toBe(403);
    const validated = await json('POST', '/api/sessions/acme-1/validate');
    expect(validated.status).toBe(200);
    expect(((await validated.json()) as { session: { state: string } }).session.state).toBe('active');
    const labelled = await json('POST', '/api/sessions/acme-1/labels', { labels: { tier: 'gold' } });
    expect(labelled.status).toBe(200);
    expect((await manager.get('acme-1'))?.labels).toEqual({ tier: 'gold' });
    expect((await json('POST', '/api/sessions/acme-1/labels', { labels: ['x'] })).status).toBe(400);
    expect((await json('DELETE', '/api/sessions/acme-1', undefined, 'wrong')).status).toBe(403);
    expect(await manager.get('acme-1')).toBeDefined();
    expect((await json('DELETE', '/api/sessions/acme-1')).status).toBe(204);
    expect(await manager.get('acme-1')).toBeUndefined();
    expect((await json('DELETE', '/api/sessions/acme-1')).status).toBe(404);
  });
});

describe('manager.sessions({ after })', () => {
  it('lists what comes after a session, and nothing when that session is gone', async () => {
    const { manager } = setup();
    for (const id of ['a', 'b', 'c', 'd']) await manager.create('site', { id, credentials: ALICE });
    expect((await manager.list({ after: 'b' })).map((s) => s.id)).toEqual(['c', 'd']);
    expect((await manager.list({ after: 'd' })).map((s) => s.id)).toEqual([]);
    expect((await manager.list({ after: 'zz' })).map((s) => s.id)).toEqual([]);
    await expect(manager.list({ after: '' })).rejects.toThrow(/after/);
  });
});

describe('console live updates (SSE)', () => {
  it('streams state changes and removes its listeners when the browser goes away', async () => {
    const { manager, web, site } = setup();
    await manager.create('site', { id: 'acme-1', credentials: ALICE });
    const browser = new Browser(web);
    await browser.signIn();
    const abort = new AbortController();
    const response = await browser.request('/events', { signal: abort.signal });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const readUntil = async (needle: string) => {
      while (!text.includes(needle)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value);
      }
    };
    await readUntil('connected');
    site.changePassword('alice', 'pw-other');
    site.expireSessions();
    await manager.validate('acme-1').catch(() => undefined);
    await manager.delete('acme-1');
    await readUntil('"deleted":true');
    expect(text).toContain('event: session');
    expect(text).toContain('"id":"acme-1"');
    const off = vi.spyOn(manager, 'off');
    await reader.cancel();
    abort.abort();
    await vi.waitFor(() => expect(off.mock.calls.length).toBeGreaterThanOrEqual(8));
  });
});

describe('console canary: no credential, cookie or token in any response', () => {
  it('pages, API answers and the event stream hold none of them', async () => {
    const PASSWORD = 'Canary-pw-Zq8Xw7Ve6Ut5';
    const NEW_PASSWORD = 'Canary-new-pw-Lp0Ok9Ij8U';
    const PROXY_PASSWORD = 'Canary-proxy-Hy6Gt5Fr4E';
    const h = harness();
    h.site.addUser('carol', PASSWORD);
    const web = createConsole(h.manager, { token: TOKEN, clock: h.clock });
    cleanups.push(
      () => h.manager.close(),
      () => web.close(),
    );
    await h.manager.create('site', {
      id: 'carol-1',
      credentials: { username: 'carol', password: PASSWORD },
      proxy: `http://proxyuser:${PROXY_PASSWORD}@proxy.test:3128`,
      labels: { customer: 'acme' },
    });
    const cookies = (await h.manager.exportState('carol-1')).cookies.map((c) => c.value);
    expect(cookies.length).toBeGreaterThan(0);
    const browser = new Browser(web);
    const signIn = await browser.request(`/?token=${TOKEN}`);
    const bodies: string[] = [await signIn.text(), signIn.headers.get('location') ?? ''];
    const consoleCookie = browser.cookie!.split('=')[1]!;
    const events = await browser.request('/events');
    const reader = events.body!.getReader();
    const csrf = await browser.csrf('/sessions/carol-1');
    const grab = async (response: Response | Promise<Response>) => {
      const r = await response;
      bodies.push(await r.text(), r.headers.get('location') ?? '');
      return r;
    };
    for (const path of [
      '/',
      '/?labels=customer%3Dacme',
      '/sessions/carol-1',
      '/sessions/carol-1/credentials',
      '/sessions/carol-1/delete',
      '/api/sessions',
      '/api/sessions/carol-1',
      '/api/metrics',
      '/sign-in',
      '/nope',
    ]) {
      await grab(browser.request(path));
    }
    await grab(browser.post('/sessions/carol-1/validate', { _csrf: csrf }));
    // New credentials typed in the form, one wrong (refused with paths only), then right.
    h.site.addUser('carol', NEW_PASSWORD);
    await grab(browser.post('/sessions/carol-1/credentials', { _csrf: csrf, 'c.password': NEW_PASSWORD }));
    const started = await grab(
      browser.post('/sessions/carol-1/credentials', {
        _csrf: csrf,
        'c.username': 'carol',
        'c.password': NEW_PASSWORD,
      }),
    );
    const opUrl = started.headers.get('location')!;
    await h.manager.result(decodeURIComponent(opUrl.split('/').pop()!));
    await grab(browser.request(opUrl));
    await grab(browser.post('/sessions/carol-1/labels', { _csrf: csrf, labels: 'customer=acme\nnote=x' }));
    await h.manager.flushHistory();
    await grab(browser.request('/sessions/carol-1'));
    await grab(browser.post('/sessions/carol-1/delete', { _csrf: csrf, confirm: 'yes' }));
    let stream = '';
    const decoder = new TextDecoder();
    while (!stream.includes('"deleted":true')) {
      const { value, done } = await reader.read();
      if (done) break;
      stream += decoder.decode(value);
    }
    await reader.cancel();
    bodies.push(stream);
    bodies.push(inspect(web, { showHidden: false, depth: 5 }), JSON.stringify(web), String(Object.keys(web)));
    expect(web.token).toBe(TOKEN);
    const all = bodies.join('\n');
    expect(all).toContain('carol-1');
    expect(stream).toContain('"state":"active"');
    const secrets: Record<string, string> = {
      password: PASSWORD,
      'new password': NEW_PASSWORD,
      'proxy password': PROXY_PASSWORD,
      'console token': TOKEN,
      'console cookie': consoleCookie,
      ...Object.fromEntries(cookies.map((v, i) => [`site cookie ${i}`, v])),
    };
    for (const [name, secret] of Object.entries(secrets)) {
      for (const form of [
        secret,
        encodeURIComponent(secret),
        Buffer.from(secret).toString('base64'),
        Buffer.from(secret).toString('base64url'),
      ]) {
        expect(all.includes(form), `${name} appears in a response`).toBe(false);
      }
    }
  });
});
