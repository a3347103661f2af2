import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { generateSecret, generateSync } from 'otplib';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type DemoSite, type DemoSiteOptions, startDemoSite } from '../../examples/demo-site/server.js';

/** A minimal cookie jar over fetch: enough to play a browser against the demo site. */
class Client {
  readonly cookies = new Map<string, string>();
  readonly setCookies: string[] = [];

  constructor(private readonly base: string) {}

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) {
      headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    }
    const res = await fetch(this.base + path, { redirect: 'manual', ...init, headers });
    for (const raw of res.headers.getSetCookie()) {
      this.setCookies.push(raw);
      const pair = raw.split(';')[0] ?? '';
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      if (/max-age=0\b/i.test(raw)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  postForm(path: string, fields: Record<string, string>): Promise<Response> {
    return this.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  }

  postJson(path: string, value: unknown, headers: Record<string, string> = {}): Promise<Response> {
    return this.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(value),
    });
  }

  /** GETs a page and returns the CSRF token of its form. */
  async csrf(path = '/login'): Promise<string> {
    const html = await (await this.request(path)).text();
    const match = /name="csrf" value="([^"]+)"/.exec(html);
    if (!match?.[1]) throw new Error(`no csrf field on ${path}`);
    return match[1];
  }

  /** Password step of the login form (carries the form's hidden `next`). */
  async login(username: string, password: string, next?: string): Promise<Response> {
    const html = await (
      await this.request(next ? `/login?next=${encodeURIComponent(next)}` : '/login')
    ).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
    const nextField = /name="next" value="([^"]*)"/.exec(html)?.[1] ?? '';
    return this.postForm('/login', { csrf, username, password, next: nextField });
  }

  lastSetCookie(name: string): string | undefined {
    return [...this.setCookies].reverse().find((c) => c.startsWith(`${name}=`));
  }
}

const sites: DemoSite[] = [];
async function site(options?: DemoSiteOptions): Promise<DemoSite> {
  const s = await startDemoSite(options);
  sites.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(sites.splice(0).map((s) => s.close()));
});

async function loggedIn(s: DemoSite, username = 'alice', password = 'wonderland-42'): Promise<Client> {
  const c = new Client(s.url);
  const res = await c.login(username, password);
  expect(res.status).toBe(302);
  return c;
}

async function adminJson<T>(s: DemoSite, path: string, body?: unknown): Promise<{ status: number; json: T }> {
  const res = await fetch(s.url + path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as T };
}

describe('demo site: form login', () => {
  it('requires a CSRF token bound to the csrf cookie', async () => {
    const s = await site();
    const c = new Client(s.url);
    expect((await c.postForm('/login', { username: 'alice', password: 'wonderland-42' })).status).toBe(403);

    const token = await c.csrf();
    expect(c.lastSetCookie('csrf')).toMatch(/HttpOnly; SameSite=Lax/);
    expect(
      (await c.postForm('/login', { csrf: `${token}x`, username: 'alice', password: 'wonderland-42' }))
        .status,
    ).toBe(403);
    // A token from another visitor's cookie does not pass with this cookie.
    const other = new Client(s.url);
    const otherToken = await other.csrf();
    const res = await c.postForm('/login', {
      csrf: otherToken,
      username: 'alice',
      password: 'wonderland-42',
    });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('Invalid CSRF token');
    expect(s.stats()).toMatchObject({ logins: 0, loginAttempts: 0 });
  });

  it('logs in, sets the session cookie and counts the login', async () => {
    const s = await site();
    const c = new Client(s.url);
    const res = await c.login('alice', 'wonderland-42');
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/account');
    expect(c.lastSetCookie('sid')).toMatch(/^sid=[\w-]{40,}; Path=\/; Max-Age=3600; HttpOnly; SameSite=Lax$/);

    const account = await c.request('/account');
    expect(account.status).toBe(200);
    const html = await account.text();
    expect(html).toContain('<h1>Account</h1>');
    expect(html).toContain('<span id="user">alice</span>');
    expect(s.stats()).toEqual({
      logins: 1,
      loginAttempts: 1,
      failedLogins: 0,
      otpChallenges: 0,
      byUser: { alice: 1 },
    });

    s.resetStats();
    expect(s.stats()).toEqual({ logins: 0, loginAttempts: 0, failedLogins: 0, otpChallenges: 0, byUser: {} });
  });

  it('rejects a wrong password or unknown user with 401 and the error line', async () => {
    const s = await site();
    const c = new Client(s.url);
    const wrong = await c.login('alice', 'nope');
    expect(wrong.status).toBe(401);
    const html = await wrong.text();
    expect(html).toContain('<p id="error" role="alert">Invalid username or password</p>');
    expect(html).toContain('id="username"');
    expect(html).not.toContain('nope');
    expect((await c.login('mallory', 'wonderland-42')).status).toBe(401);
    expect(c.cookies.has('sid')).toBe(false);
    expect(s.stats()).toMatchObject({ logins: 0, loginAttempts: 2, failedLogins: 2 });
  });

  it('redirects /account to the login page when logged out, and honours a safe next', async () => {
    const s = await site();
    const c = new Client(s.url);
    const res = await c.request('/account');
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/login?next=%2Faccount');

    const toPassword = await c.login('alice', 'wonderland-42', '/account/password');
    expect(toPassword.headers.get('location')).toBe('/account/password');
    const evil = await new Client(s.url).login('alice', 'wonderland-42', '//evil.example/x');
    expect(evil.headers.get('location')).toBe('/account');
  });

  it('ends sessions at their lifetime by the injected clock, and on expireAllSessions', async () => {
    let now = 1_700_000_000_000;
    const s = await site({ now: () => now, sessionTtlSeconds: 60 });
    const c = await loggedIn(s);
    expect(c.lastSetCookie('sid')).toContain('Max-Age=60');
    now += 59_999;
    expect((await c.request('/account')).status).toBe(200);
    now += 1;
    expect((await c.request('/account')).status).toBe(302);

    const d = await loggedIn(s);
    expect((await d.request('/account')).status).toBe(200);
    s.expireAllSessions();
    expect((await d.request('/account')).status).toBe(302);
    // New sessions are unaffected.
    expect((await (await loggedIn(s)).request('/account')).status).toBe(200);
  });

  it('rolls the non-HttpOnly seen cookie on every authenticated page view', async () => {
    const s = await site();
    const c = await loggedIn(s);
    await c.request('/account');
    const first = c.cookies.get('seen');
    await c.request('/account');
    const second = c.cookies.get('seen');
    expect(first).toBeTruthy();
    expect(second).toBeTruthy();
    expect(second).not.toBe(first);
    const raw = c.lastSetCookie('seen') ?? '';
    expect(raw).not.toContain('HttpOnly');
    expect(raw).toContain('Max-Age=3600');
  });

  it('changes the password through the form and ends every session of the user', async () => {
    const s = await site({
      users: [
        { username: 'alice', password: 'wonderland-42' },
        { username: 'bob', password: 'builder-7' },
      ],
    });
    const a1 = await loggedIn(s);
    const a2 = await loggedIn(s);
    const bob = await loggedIn(s, 'bob', 'builder-7');

    const csrf = await a1.csrf('/account/password');
    const bad = await a1.postForm('/account/password', { csrf, current: 'wrong', new: 'x' });
    expect(bad.status).toBe(401);
    expect(await bad.text()).toContain('id="error"');
    expect((await a1.postForm('/account/password', { current: 'wonderland-42', new: 'x' })).status).toBe(403);

    const ok = await a1.postForm('/account/password', {
      csrf,
      current: 'wonderland-42',
      new: 'looking-glass-7',
    });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('id="message"');
    expect((await a1.request('/account')).status).toBe(302);
    expect((await a2.request('/account')).status).toBe(302);
    expect((await bob.request('/account')).status).toBe(200);
    expect((await new Client(s.url).login('alice', 'wonderland-42')).status).toBe(401);
    expect((await new Client(s.url).login('alice', 'looking-glass-7')).status).toBe(302);

    s.setPassword('bob', 'builder-8');
    expect((await bob.request('/account')).status).toBe(302);
    expect(() => s.setPassword('nobody', 'x')).toThrow(/unknown user/);
  });

  it('logs out one session with /logout and all with logoutAll', async () => {
    const s = await site();
    const a = await loggedIn(s);
    const b = await loggedIn(s);
    const out = await a.request('/logout');
    expect(out.status).toBe(302);
    expect(out.headers.get('location')).toBe('/login');
    expect((await a.request('/account')).status).toBe(302);
    expect((await b.request('/account')).status).toBe(200);
    s.logoutAll();
    expect((await b.request('/account')).status).toBe(302);
  });
});

describe('demo site: second factors', () => {
  it('asks for a TOTP code and accepts the current or previous step', async () => {
    const secret = generateSecret();
    const s = await site({ users: [{ username: 'bob', password: 'builder-7', totpSecret: secret }] });
    const c = new Client(s.url);
    const res = await c.login('bob', 'builder-7');
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/otp');
    expect(c.cookies.has('sid')).toBe(false);
    expect(c.lastSetCookie('pending')).toMatch(/HttpOnly/);

    const csrf = await c.csrf('/otp');
    const page = await (await c.request('/otp')).text();
    expect(page).toContain('id="otp"');
    expect(page).toContain('<button id="verify" type="submit">');

    const wrong = await c.postForm('/otp', {
      csrf,
      otp: '000000' === generateSync({ secret }) ? '111111' : '000000',
    });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('Invalid code');

    const previous = generateSync({ secret, epoch: Math.floor(Date.now() / 1000) - 30 });
    const ok = await c.postForm('/otp', { csrf, otp: previous });
    expect(ok.status).toBe(302);
    expect(ok.headers.get('location')).toBe('/account');
    expect((await c.request('/account')).status).toBe(200);
    expect(s.stats()).toMatchObject({ logins: 1, loginAttempts: 1, failedLogins: 1, otpChallenges: 1 });

    // The challenge is consumed: the pending cookie no longer opens /otp.
    expect((await c.request('/otp')).headers.get('location')).toBe('/login');
  });

  it('accepts a TOTP code valid at the real time even when the site clock is elsewhere', async () => {
    const secret = generateSecret();
    const s = await site({
      now: () => 0 + 1_000_000_000,
      users: [{ username: 'bob', password: 'builder-7', totpSecret: secret }],
    });
    const c = new Client(s.url);
    await c.login('bob', 'builder-7');
    const csrf = await c.csrf('/otp');
    expect((await c.postForm('/otp', { csrf, otp: generateSync({ secret }) })).status).toBe(302);
  });

  it('e-mails a 6-digit code and logs in with it', async () => {
    const s = await site({ users: [{ username: 'carol', password: 'c-pass-1', emailCode: true }] });
    const c = new Client(s.url);
    const res = await c.login('carol', 'c-pass-1');
    expect(res.headers.get('location')).toBe('/email-code');
    const code = s.lastEmailCode('carol');
    expect(code).toMatch(/^\d{6}$/);
    const inbox = await adminJson<{ user: string; code: string | null }>(s, '/__admin/inbox?user=carol');
    expect(inbox.json).toMatchObject({ user: 'carol', code });

    const csrf = await c.csrf('/email-code');
    expect(await (await c.request('/email-code')).text()).toContain('id="code"');
    const ok = await c.postForm('/email-code', { csrf, code: code ?? '' });
    expect(ok.status).toBe(302);
    expect((await c.request('/account')).status).toBe(200);
    expect(s.stats()).toMatchObject({ logins: 1, otpChallenges: 1, byUser: { carol: 1 } });
  });

  it('drops a challenge after five wrong codes', async () => {
    const s = await site({ users: [{ username: 'carol', password: 'c-pass-1', emailCode: true }] });
    const c = new Client(s.url);
    await c.login('carol', 'c-pass-1');
    const csrf = await c.csrf('/email-code');
    const wrong = s.lastEmailCode('carol') === '999999' ? '999998' : '999999';
    for (let i = 0; i < 4; i++)
      expect((await c.postForm('/email-code', { csrf, code: wrong })).status).toBe(401);
    const last = await c.postForm('/email-code', { csrf, code: wrong });
    expect(last.headers.get('location')).toBe('/login');
    expect((await c.postForm('/email-code', { csrf, code: s.lastEmailCode('carol') ?? '' })).status).toBe(
      302,
    );
    expect(c.cookies.has('sid')).toBe(false);
    expect(s.stats()).toMatchObject({ logins: 0, failedLogins: 5 });
  });
});

describe('demo site: token API', () => {
  it('issues bearer tokens that /api/me accepts until logout-all, password change or lifetime', async () => {
    let now = 1_700_000_000_000;
    const s = await site({ now: () => now, sessionTtlSeconds: 100 });
    const c = new Client(s.url);
    const token = async () => {
      const res = await c.postJson('/api/token', { username: 'alice', password: 'wonderland-42' });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { token: string; expiresIn: number };
      expect(body.expiresIn).toBe(100);
      return body.token;
    };
    const me = async (t: string | undefined) => {
      const res = await c.request('/api/me', t ? { headers: { authorization: `Bearer ${t}` } } : {});
      return { status: res.status, body: (await res.json()) as unknown };
    };

    expect((await c.postJson('/api/token', { username: 'alice', password: 'x' })).status).toBe(401);
    expect((await c.postJson('/api/token', { username: 'alice' })).status).toBe(400);
    expect(await me(undefined)).toEqual({ status: 401, body: { error: 'unauthorized' } });

    const t1 = await token();
    expect(await me(t1)).toEqual({ status: 200, body: { user: 'alice' } });
    expect(s.stats()).toMatchObject({ logins: 1, loginAttempts: 2, failedLogins: 1, byUser: { alice: 1 } });
    // A token is not a cookie session, and a bad bearer is not rescued by a cookie.
    expect((await new Client(s.url).request('/account', { headers: { cookie: `sid=${t1}` } })).status).toBe(
      302,
    );
    await c.login('alice', 'wonderland-42');
    expect((await me('bogus')).status).toBe(401);
    expect(await me(undefined)).toEqual({ status: 200, body: { user: 'alice' } });

    s.logoutAll();
    expect((await me(t1)).status).toBe(401);
    const t2 = await token();
    s.setPassword('alice', 'wonderland-42');
    expect((await me(t2)).status).toBe(401);
    const t3 = await token();
    now += 100_000;
    expect((await me(t3)).status).toBe(401);
    const t4 = await token();
    expect(
      (await c.request('/api/logout', { method: 'POST', headers: { authorization: `Bearer ${t4}` } })).status,
    ).toBe(200);
    expect((await me(t4)).status).toBe(401);
  });

  it('asks a TOTP user for otp on the token API', async () => {
    const secret = generateSecret();
    const s = await site({ users: [{ username: 'bob', password: 'builder-7', totpSecret: secret }] });
    const c = new Client(s.url);
    const missing = await c.postJson('/api/token', { username: 'bob', password: 'builder-7' });
    expect(await missing.json()).toEqual({ error: 'otp_required' });
    const ok = await c.postJson('/api/token', {
      username: 'bob',
      password: 'builder-7',
      otp: generateSync({ secret }),
    });
    expect(ok.status).toBe(200);
    expect(s.stats()).toMatchObject({ logins: 1, otpChallenges: 1 });
  });

  it('serves the token sites with one storage place each', async () => {
    const s = await site();
    const c = new Client(s.url);
    for (const place of ['ls', 'ss', 'idb']) {
      const login = await (await c.request(`/${place}/login`)).text();
      expect(login).toContain('id="username"');
      expect(login).toContain('<button id="login" type="button">');
      const account = await (await c.request(`/${place}/account`)).text();
      expect(account).toContain('/api/me');
      // #user appears only once /api/me answers: nothing in the served markup.
      expect(account.slice(0, account.indexOf('<script>'))).not.toContain('id="user"');
    }
    const ss = await (await c.request('/ss/login')).text();
    expect(ss).toContain('sessionStorage.setItem');
    expect(ss).not.toContain('localStorage.');
    expect(ss).not.toContain('indexedDB.');
  });
});

describe('demo site: admin, logging and edges', () => {
  it('offers its controls over HTTP', async () => {
    const s = await site();
    await loggedIn(s);
    expect((await adminJson(s, '/__admin/stats')).json).toMatchObject({ logins: 1, byUser: { alice: 1 } });
    expect((await adminJson(s, '/__admin/reset', {})).status).toBe(200);
    expect(s.stats().logins).toBe(0);

    expect((await adminJson(s, '/__admin/users', { username: 'dave', password: 'd-pass' })).status).toBe(201);
    expect((await adminJson(s, '/__admin/users', { username: 'dave' })).status).toBe(400);
    const dave = await loggedIn(s, 'dave', 'd-pass');

    expect((await adminJson(s, '/__admin/password', { username: 'dave', password: 'd-pass-2' })).status).toBe(
      200,
    );
    expect((await adminJson(s, '/__admin/password', { username: 'nobody', password: 'x' })).status).toBe(404);
    expect((await dave.request('/account')).status).toBe(302);

    expect((await adminJson(s, '/__admin/ttl', { seconds: 5 })).status).toBe(200);
    expect((await adminJson(s, '/__admin/ttl', { seconds: -1 })).status).toBe(400);
    const short = await loggedIn(s, 'dave', 'd-pass-2');
    expect(short.lastSetCookie('sid')).toContain('Max-Age=5');

    expect((await adminJson(s, '/__admin/logout-all', {})).status).toBe(200);
    expect((await short.request('/account')).status).toBe(302);
    const again = await loggedIn(s, 'dave', 'd-pass-2');
    expect((await adminJson(s, '/__admin/expire', {})).status).toBe(200);
    expect((await again.request('/account')).status).toBe(302);

    expect((await adminJson(s, '/__admin/inbox?user=alice')).json).toEqual({
      user: 'alice',
      code: null,
      at: null,
    });
    const badJson = await fetch(`${s.url}/__admin/password`, { method: 'POST', body: '{not json' });
    expect(badJson.status).toBe(400);
    expect((await adminJson(s, '/__admin/nope', {})).status).toBe(404);
  });

  it('records requests with user agent and proxy headers, never admin calls', async () => {
    const s = await site();
    s.clearRequests();
    await fetch(`${s.url}/login?next=%2Fx`, { headers: { 'user-agent': 'probe/1', via: '1.1 test-proxy' } });
    await fetch(`${s.url}/__admin/stats`);
    expect(s.requests).toEqual([
      { method: 'GET', path: '/login', userAgent: 'probe/1', via: '1.1 test-proxy', at: expect.any(Number) },
    ]);
    const viaHttp = await adminJson<{ requests: unknown[] }>(s, '/__admin/requests');
    expect(viaHttp.json.requests).toHaveLength(1);
    expect((await fetch(`${s.url}/__admin/requests`, { method: 'DELETE' })).status).toBe(200);
    expect(s.requests).toEqual([]);
  });

  it('records device reports, with the user when logged in', async () => {
    const s = await site();
    const c = await loggedIn(s);
    expect(await (await c.request('/device')).text()).toContain('/api/device');
    const report = {
      userAgent: 'UA/1',
      width: 800,
      height: 600,
      timezone: 'Europe/Paris',
      language: 'fr-FR',
    };
    expect((await c.postJson('/api/device', report, { 'user-agent': 'UA/1' })).status).toBe(200);
    expect((await c.postJson('/api/device', { ...report, width: 'wide' })).status).toBe(400);
    expect(s.deviceReports).toEqual([
      { ...report, user: 'alice', headerUserAgent: 'UA/1', at: expect.any(Number) },
    ]);
    const viaHttp = await adminJson<{ devices: unknown[] }>(s, '/__admin/devices');
    expect(viaHttp.json.devices).toEqual(s.deviceReports);
  });

  it('answers 404 for unknown routes and HEAD, 413 for huge bodies', async () => {
    const s = await site();
    expect((await fetch(`${s.url}/nope`)).status).toBe(404);
    expect((await fetch(`${s.url}/login`, { method: 'HEAD' })).status).toBe(404);
    expect((await fetch(`${s.url}/login`, { method: 'PUT' })).status).toBe(404);
    const big = await fetch(`${s.url}/api/token`, { method: 'POST', body: 'x'.repeat(100_000) });
    expect(big.status).toBe(413);
    expect((await fetch(`${s.url}/`)).status).toBe(200);
  });

  it('rejects bad options', async () => {
    await expect(startDemoSite({ port: -1 })).rejects.toThrow(RangeError);
    await expect(startDemoSite({ sessionTtlSeconds: 0 })).rejects.toThrow(RangeError);
    const s = await site();
    expect(() => s.setSessionTtl(Number.NaN)).toThrow(RangeError);
  });

  it('serves 200 concurrent logins correctly', async () => {
    const s = await site();
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 200 }, async () => {
        const c = await loggedIn(s);
        return (await c.request('/account')).status;
      }),
    );
    expect(results.every((r) => r === 200)).toBe(true);
    expect(s.stats()).toMatchObject({ logins: 200, byUser: { alice: 200 } });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('close() ends keep-alive connections and is idempotent', async () => {
    const s = await startDemoSite();
    await fetch(`${s.url}/login`);
    await Promise.all([s.close(), s.close()]);
    await expect(fetch(`${s.url}/login`)).rejects.toThrow();
  });
});

describe('demo site: standalone process', () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    child = undefined;
  });

  it('prints its URL as one JSON line and stops on SIGTERM', async () => {
    child = spawn(
      process.execPath,
      ['--import', 'tsx', 'examples/demo-site/main.ts', '--port', '0', '--ttl', '5'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const lines = createInterface({ input: child.stdout! });
    const [line] = (await once(lines, 'line')) as [string];
    const { url } = JSON.parse(line) as { url: string };
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const c = new Client(url);
    await c.login('alice', 'wonderland-42');
    expect(c.lastSetCookie('sid')).toContain('Max-Age=5');
    expect(await (await fetch(`${url}/__admin/stats`)).json()).toMatchObject({ logins: 1 });
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    expect(code).toBe(0);
  });
});

describe('demo site: real Chromium', () => {
  let browser: Browser;
  let s: DemoSite;
  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
        '--disable-dev-shm-usage',
      ],
    });
    s = await startDemoSite();
  });
  afterAll(async () => {
    await browser?.close();
    await s?.close();
  });

  it('logs in through the HTML form, reaches /account and reports its device', async () => {
    const context = await browser.newContext({
      timezoneId: 'Europe/Paris',
      viewport: { width: 900, height: 700 },
    });
    try {
      const page = await context.newPage();
      await page.goto(`${s.url}/account`);
      expect(new URL(page.url()).pathname).toBe('/login');
      await page.fill('#username', 'alice');
      await page.fill('#password', 'wonderland-42');
      await Promise.all([page.waitForURL(`${s.url}/account`), page.click('button#login')]);
      expect(await page.textContent('#user')).toBe('alice');
      const cookies = await context.cookies();
      expect(cookies.find((c) => c.name === 'sid')).toMatchObject({ httpOnly: true, sameSite: 'Lax' });

      await page.goto(`${s.url}/device`);
      await page.waitForSelector('#reported');
      expect(s.deviceReports.at(-1)).toMatchObject({
        user: 'alice',
        timezone: 'Europe/Paris',
        width: 900,
        height: 700,
      });
    } finally {
      await context.close();
    }
  });

  it('logs in on the token sites; the token lives in one place and IndexedDB survives storageState', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const logIn = async (place: string) => {
        await page.goto(`${s.url}/${place}/login`);
        await page.fill('#username', 'alice');
        await page.fill('#password', 'wonderland-42');
        await Promise.all([page.waitForURL(`${s.url}/${place}/account`), page.click('button#login')]);
        await page.waitForSelector('#user, #login-required');
        expect(await page.textContent('#user')).toBe('alice');
      };
      const tokens = () =>
        page.evaluate(() => ({
          local: localStorage.getItem('token'),
          session: sessionStorage.getItem('token'),
        }));

      const loginsBefore = s.stats().logins;
      await logIn('ss');
      await logIn('idb');
      // Neither wrote to localStorage; only the ss site wrote to sessionStorage.
      expect(await tokens()).toEqual({ local: null, session: expect.stringMatching(/^[\w.-]{40,}$/) });
      await logIn('ls');
      expect((await tokens()).local).toMatch(/^[\w.-]{40,}$/);
      expect(s.stats().logins - loginsBefore).toBe(3);

      const state = await context.storageState({ indexedDB: true });
      const restored = await browser.newContext({ storageState: state });
      try {
        const p2 = await restored.newPage();
        for (const place of ['ls', 'idb']) {
          await p2.goto(`${s.url}/${place}/account`);
          await p2.waitForSelector('#user, #login-required');
          expect(await p2.textContent('#user')).toBe('alice');
        }
        // sessionStorage is not part of storageState: the ss site asks to log in.
        await p2.goto(`${s.url}/ss/account`);
        await p2.waitForSelector('#user, #login-required');
        expect(await p2.$('#login-required')).not.toBeNull();
      } finally {
        await restored.close();
      }
    } finally {
      await context.close();
    }
  });
});
