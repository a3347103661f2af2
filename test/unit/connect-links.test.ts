/**
 * Connect links through `app.fetch` on the fake browser: signed, expiring, single-use links; the credentials
 * form, then the login's one-time code in the same page; CSRF refusals; bounded bodies; and a canary: no
 * credential, code, cookie or CSRF token of another link in any response.
 */
import { randomBytes } from 'node:crypto';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AuthSessionManager, createMemoryStore, defineAuth } from '../../src/index.js';
import { type Connect, createConnect } from '../../src/server/connect/index.js';
import { FakeBrowserProvider, FakeClock, FakeSite, fakeSiteAuth } from '../../src/testing/index.js';
import { rejection } from '../shared.js';
import { TEST_KEY } from './helpers.js';

const BOB_PW = 'Bob-connect-pw-Zq8Wx7Ec6R';
const ALICE_PW = 'Alice-connect-pw-Tg5Yh4Uj3K';
const ALICE_PW_NEW = 'Alice-connect-new-Pl0Ok9Ij8';
const ORIGIN = 'http://console.test';

const schema = z.object({
  username: z.string(),
  password: z.string(),
  totpSecret: z.string().optional(),
});

interface Setup {
  clock: FakeClock;
  site: FakeSite;
  manager: AuthSessionManager;
  connect: Connect;
  /** The console's app with the connect routes mounted at /connect, as the console mounts them. */
  root: Hono;
  /** Every response body and header seen, for the canary. */
  seen: string[];
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function setup(options: { publicUrl?: string | undefined; key?: string } = { publicUrl: ORIGIN }): Setup {
  const clock = new FakeClock();
  const site = new FakeSite({ clock, sessionTtlMs: 60 * 60_000 });
  site.addUser('bob', BOB_PW, { otp: 'code' });
  site.addUser('alice', ALICE_PW);
  const browser = new FakeBrowserProvider({ sites: [site], maxContexts: 8 });
  const manager = new AuthSessionManager({
    auths: [
      defineAuth({
        name: 'crm',
        type: 'credentials',
        credentials: schema,
        retryDelay: 0,
        createAttempts: 1,
        ...fakeSiteAuth(site, { otp: 'requestInput', timeout: 1_000 }),
      }),
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
    key: options.key ?? TEST_KEY,
    browser,
    clock,
  });
  const connect = createConnect(manager, {
    mountPath: '/connect',
    publicUrl: () => options.publicUrl,
    clock,
  });
  const root = new Hono();
  root.route('/connect', connect.app);
  cleanups.push(
    () => manager.close(),
    () => browser.close(),
    () => connect.close(),
  );
  return { clock, site, manager, connect, root, seen: [] };
}

/** A browser: keeps the cookies the connect pages set, follows nothing by itself. */
class Browser {
  readonly #cookies = new Map<string, string>();
  constructor(readonly h: Setup) {}

  async request(
    url: string,
    init: RequestInit = {},
  ): Promise<{ status: number; body: string; res: Response }> {
    const headers = new Headers(init.headers);
    if (this.#cookies.size) {
      headers.set('cookie', [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    }
    const res = await this.h.root.fetch(new Request(new URL(url, ORIGIN), { ...init, headers }));
    for (const cookie of res.headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      const [k, v] = pair!.split('=');
      this.#cookies.set(k!, v!);
    }
    const body = await res.text();
    this.h.seen.push(body, JSON.stringify([...res.headers]));
    return { status: res.status, body, res };
  }

  get(url: string) {
    return this.request(url);
  }

  post(url: string, form: Record<string, string>) {
    return this.request(url, { method: 'POST', body: new URLSearchParams(form) });
  }
}

function csrfOf(body: string): string {
  const m = /name="csrf" value="([^"]+)"/.exec(body);
  if (!m) throw new Error(`no CSRF token in:\n${body}`);
  return m[1]!;
}

function requestIdOf(body: string): string {
  return /name="request" value="([^"]+)"/.exec(body)![1]!;
}

describe('connectLink', () => {
  it('gives an absolute URL under the mount path, and its expiry', async () => {
    const h = setup();
    const link = await h.connect.connectLink(
      { auth: 'crm', labels: { customer: 'acme' } },
      { ttlMs: 60_000 },
    );
    expect(link.url.startsWith(`${ORIGIN}/connect/`)).toBe(true);
    expect(link.expiresAt).toBe(new Date(h.clock.now() + 60_000).toISOString());
    expect(new URL(link.url).pathname.split('/')).toHaveLength(3);
  });

  it('refuses unknown auths, missing sessions, bad options and a console that does not know its URL', async () => {
    const h = setup();
    expect(await rejection(h.connect.connectLink({ auth: 'nope' }))).toMatchObject({ code: 'UNKNOWN_AUTH' });
    expect(await rejection(h.connect.connectLink('no-such-session'))).toMatchObject({
      code: 'SESSION_NOT_FOUND',
    });
    expect(await rejection(h.connect.connectLink({ auth: 'crm' }, { ttlMs: -1 }))).toMatchObject({
      code: 'INVALID_OPTIONS',
    });
    expect(
      await rejection(h.connect.connectLink({ auth: 'crm' }, { ttl: 5 } as unknown as { ttlMs: number })),
    ).toMatchObject({ code: 'INVALID_OPTIONS', message: expect.stringContaining('ttlMs') });
    const noUrl = setup({ publicUrl: undefined });
    expect(await rejection(noUrl.connect.connectLink({ auth: 'crm' }))).toMatchObject({
      code: 'INVALID_STATE',
    });
  });
});

describe('links', () => {
  it('a valid link shows the form made from the schema, password fields hidden, with a CSRF token', async () => {
    const h = setup();
    const { url } = await h.connect.connectLink({ auth: 'crm' });
    const page = await new Browser(h).get(url);
    expect(page.status).toBe(200);
    expect(page.body).toContain('name="c.username"');
    expect(page.body).toMatch(/<input type="password" name="c\.password"[^>]*required/);
    expect(page.body).toMatch(/<input type="password" name="c\.totpSecret"/);
    expect(page.body).not.toMatch(/name="c\.totpSecret"[^>]*required/);
    expect(csrfOf(page.body).length).toBeGreaterThan(20);
    const csp = page.res.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(page.res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(page.res.headers.get('cache-control')).toBe('no-store');
  });

  it('an expired link answers 403 (fake clock moved past the expiry, not a sleep)', async () => {
    const h = setup();
    const { url } = await h.connect.connectLink({ auth: 'crm' }, { ttlMs: 60_000 });
    const person = new Browser(h);
    const page = await person.get(url);
    h.clock.advance(59_999);
    expect((await person.get(url)).status).toBe(200);
    h.clock.advance(1);
    const expired = await person.get(url);
    expect(expired.status).toBe(403);
    expect(expired.body).toContain('expired');
    const post = await person.post(`${url}/credentials`, {
      csrf: csrfOf(page.body),
      'c.username': 'alice',
      'c.password': ALICE_PW,
    });
    expect(post.status).toBe(403);
    expect(await h.manager.list()).toEqual([]);
  });

  it('a tampered link, or one signed with another key, answers 403', async () => {
    const h = setup();
    const { url } = await h.connect.connectLink({ auth: 'crm' }, { ttlMs: 60_000 });
    const token = url.slice(url.lastIndexOf('/') + 1);
    const [body, sig] = token.split('.') as [string, string];
    const person = new Browser(h);
    // An edited payload (longer expiry, or another target) with the old signature.
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString()) as { e: number };
    const edited = Buffer.from(JSON.stringify({ ...payload, e: payload.e + 10 ** 9 })).toString('base64url');
    const flip = (s: string) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
    for (const bad of [
      `${edited}.${sig}`,
      `${body}.${flip(sig)}`,
      `${flip(body)}.${sig}`,
      body,
      `${body}.`,
      'x.y',
    ]) {
      const res = await person.get(`${ORIGIN}/connect/${bad}`);
      expect(res.status, bad).toBe(403);
      expect(res.body).toContain('not valid');
    }
    const other = setup({ publicUrl: ORIGIN, key: randomBytes(32).toString('base64') });
    const foreign = await new Browser(other).get(url);
    expect(foreign.status).toBe(403);
    expect(foreign.body).toContain('not valid');
    expect((await person.get(url)).status).toBe(200);
  });

  it('a used link answers 403 to everyone but the browser that used it', async () => {
    const h = setup();
    const { url } = await h.connect.connectLink({ auth: 'crm' });
    const person = new Browser(h);
    const form = await person.get(url);
    const posted = await person.post(`${url}/credentials`, {
      csrf: csrfOf(form.body),
      'c.username': 'alice',
      'c.password': ALICE_PW,
    });
    expect(posted.status).toBe(303);
    expect(posted.res.headers.get('location')).toBe(new URL(url).pathname);
    const cookie = posted.res.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(cookie).toContain(`Path=${new URL(url).pathname}`);
    expect((await person.get(url)).body).toContain('id="connected"');

    const stranger = new Browser(h);
    const again = await stranger.get(url);
    expect(again.status).toBe(403);
    expect(again.body).toContain('used already');
    const replay = await stranger.post(`${url}/credentials`, {
      csrf: csrfOf(form.body),
      'c.username': 'alice',
      'c.password': ALICE_PW,
    });
    expect(replay.status).toBe(403);
    expect(await h.manager.list()).toHaveLength(1);
  });

  it('behind a proxy that strips a path prefix and ends TLS, cookie and redirects follow the public URL', async () => {
    const h = setup({ publicUrl: 'https://ops.example/admin/' });
    const { url } = await h.connect.connectLink({ auth: 'crm' });
    expect(url.startsWith('https://ops.example/admin/connect/')).toBe(true);
    const token = url.slice(url.lastIndexOf('/') + 1);
    const person = new Browser(h);
    const local = `${ORIGIN}/connect/${token}`; // what reaches the process
    const form = await person.get(local);
    const posted = await person.post(`${local}/credentials`, {
      csrf: csrfOf(form.body),
      'c.username': 'alice',
      'c.password': ALICE_PW,
    });
    expect(posted.res.headers.get('location')).toBe(`/admin/connect/${token}`);
    const cookie = posted.res.headers.get('set-cookie')!;
    expect(cookie).toContain(`Path=/admin/connect/${token}`);
    expect(cookie).toMatch(/Secure/);
  });

  it('two posts racing for one unused link: one wins, the other is refused', async () => {
    const h = setup();
    const { url } = await h.connect.connectLink({ auth: 'crm' });
    const a = new Browser(h);
    const b = new Browser(h);
    const csrf = csrfOf((await a.get(url)).body);
    const form = { csrf, 'c.username': 'alice', 'c.password': ALICE_PW };
    const results = await Promise.all([
      a.post(`${url}/credentials`, form),
      b.post(`${url}/credentials`, form),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([303, 403]);
  });
});

describe('credentials flow', () => {
  it('form, then the one-time code in the same page, then connected: a new active session with its labels', async () => {
    const h = setup();
    const { url } = await h.connect.connectLink({ auth: 'crm', labels: { customer: 'acme' } });
    const person = new Browser(h);
    const form = await person.get(url);
    const posted = await person.post(`${url}/credentials`, {
      csrf: csrfOf(form.body),
      'c.username': 'bob',
      'c.password': BOB_PW,
      'c.totpSecret': '',
    });
    expect(posted.status).toBe(303);
    const ask = await person.get(url);
    expect(ask.status).toBe(200);
    expect(ask.body).toContain('Enter the code sent to you');
    expect(ask.body).toContain('autocomplete="one-time-code"');
    const token = url.slice(url.lastIndexOf('/') + 1);
    expect(ask.body).toContain(`action="${token}/answer"`);
    const [pending] = await h.manager.list();
    expect(pending).toMatchObject({ state: 'pending', labels: { customer: 'acme' } });

    // A wrong request id (an old page) is refused without using up the login.
    const stale = await person.post(`${url}/answer`, {
      csrf: csrfOf(ask.body),
      request: 'old',
      input: '000000',
    });
    expect(stale.status).toBe(303);
    const still = await person.get(url);
    expect(still.body).toContain('Enter the code sent to you');
    expect(still.body).toContain('class="error"');

    const code = h.site.lastCode('bob')!;
    const answered = await person.post(`${url}/answer`, {
      csrf: csrfOf(ask.body),
      request: requestIdOf(ask.body),
      input: code,
    });
    expect(answered.status).toBe(303);
    const done = await person.get(url);
    expect(done.body).toContain('id="connected"');
    const [session] = await h.manager.list();
    expect(session).toMatchObject({ auth: 'crm', state: 'active', labels: { customer: 'acme' } });

    for (const text of h.seen) {
      expect(text).not.toContain(BOB_PW);
      expect(text).not.toContain(code);
    }
  });

  it('wrong credentials show the error and the empty form again; a second try in the same visit succeeds', async () => {
    const h = setup();
    const { url } = await h.connect.connectLink({ auth: 'crm' });
    const person = new Browser(h);
    const csrf = csrfOf((await person.get(url)).body);
    await person.post(`${url}/credentials`, { csrf, 'c.username': 'alice', 'c.password': 'wrong-pw-Xx1' });
    const failed = await person.get(url);
    expect(failed.body).toContain('class="error"');
    expect(failed.body).toContain('name="c.password"');
    expect(failed.body).not.toContain('wrong-pw-Xx1');
    expect(failed.body).not.toMatch(/ value="alice"/);
    await person.post(`${url}/credentials`, { csrf, 'c.username': 'alice', 'c.password': ALICE_PW });
    expect((await person.get(url)).body).toContain('id="connected"');
    const sessions = await h.manager.list();
    expect(sessions).toHaveLength(1);
    expect(sessions[0]).toMatchObject({ state: 'active' });
  });

  it('a link for a session id updates its credentials (startUpdate)', async () => {
    const h = setup();
    const s = await h.manager.create('crm', { credentials: { username: 'alice', password: ALICE_PW } });
    h.site.changePassword('alice', ALICE_PW_NEW);
    const { url } = await h.connect.connectLink(s.id);
    const person = new Browser(h);
    const csrf = csrfOf((await person.get(url)).body);
    await person.post(`${url}/credentials`, { csrf, 'c.username': 'alice', 'c.password': ALICE_PW_NEW });
    expect((await person.get(url)).body).toContain('id="connected"');
    expect(await h.manager.list()).toEqual([expect.objectContaining({ id: s.id, state: 'active' })]);
    for (const text of h.seen) expect(text).not.toContain(ALICE_PW_NEW);
  });

  it('schema errors name the field, never the value', async () => {
    const h = setup();
    const { url } = await h.connect.connectLink({ auth: 'crm' });
    const person = new Browser(h);
    const csrf = csrfOf((await person.get(url)).body);
    await person.post(`${url}/credentials`, { csrf, 'c.password': ALICE_PW });
    const page = await person.get(url);
    expect(page.body).toContain('INVALID_CREDENTIALS');
    expect(page.body).not.toContain(ALICE_PW);
  });
});

describe('security', () => {
  it("a POST without the CSRF token, or with another link's, is refused and does not use the link", async () => {
    const h = setup();
    const { url } = await h.connect.connectLink({ auth: 'crm' });
    const other = await h.connect.connectLink({ auth: 'crm' });
    const person = new Browser(h);
    const otherCsrf = csrfOf((await person.get(other.url)).body);
    const form = { 'c.username': 'alice', 'c.password': ALICE_PW };
    expect((await person.post(`${url}/credentials`, form)).status).toBe(403);
    expect((await person.post(`${url}/credentials`, { ...form, csrf: otherCsrf })).status).toBe(403);
    expect((await person.post(`${url}/credentials`, { ...form, csrf: `${otherCsrf}x` })).status).toBe(403);
    expect((await person.post(`${url}/start`, { csrf: otherCsrf })).status).toBe(403);
    expect(await h.manager.list()).toEqual([]);
    const page = await person.get(url);
    expect(page.status).toBe(200);
    const ok = await person.post(`${url}/credentials`, { ...form, csrf: csrfOf(page.body) });
    expect(ok.status).toBe(303);
  });

  it('live-view input needs the visit cookie and the CSRF header', async () => {
    const h = setup();
    const { url } = await h.connect.connectLink({ auth: 'portal' });
    const person = new Browser(h);
    const page = await person.get(url);
    expect(page.body).toContain('id="start"');
    const input = (headers: Record<string, string>) =>
      person.request(`${url}/input`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ type: 'key', key: 'a' }),
      });
    // Not used yet: no visit, nothing to send input to.
    expect((await input({ 'x-csrf-token': csrfOf(page.body) })).status).toBe(403);
    expect((await person.get(`${url}/frames`)).status).toBe(403);
  });

  it('bodies over the limit are refused with 413', async () => {
    const h = setup();
    const { url } = await h.connect.connectLink({ auth: 'crm' });
    const person = new Browser(h);
    const csrf = csrfOf((await person.get(url)).body);
    const res = await person.post(`${url}/credentials`, {
      csrf,
      'c.username': 'a'.repeat(100_000),
      'c.password': 'x',
    });
    expect(res.status).toBe(413);
    expect(await h.manager.list()).toEqual([]);
  });

  it("canary: no credential, code, visit cookie or other link's CSRF token in any body; no link secret in URLs", async () => {
    const h = setup();
    const first = await h.connect.connectLink({
      auth: 'crm',
      labels: { customer: '<script>alert(1)</script>' },
    });
    const person = new Browser(h);
    const form = await person.get(first.url);
    const posted = await person.post(`${first.url}/credentials`, {
      csrf: csrfOf(form.body),
      'c.username': 'bob',
      'c.password': BOB_PW,
      'c.totpSecret': 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXQ',
    });
    const visitCookie = /connect_visit=([^;]+)/.exec(posted.res.headers.get('set-cookie')!)![1]!;
    h.seen.length = 0; // the Set-Cookie itself is the one place the visit cookie may appear
    const ask = await person.get(first.url);
    const code = h.site.lastCode('bob')!;
    await person.post(`${first.url}/answer`, {
      csrf: csrfOf(ask.body),
      request: requestIdOf(ask.body),
      input: code,
    });
    await person.get(first.url);
    await new Browser(h).get(first.url); // the 403 page
    const everything = h.seen.join('\n');
    for (const secret of [BOB_PW, 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXQ', code, visitCookie]) {
      expect(everything).not.toContain(secret);
      expect(everything).not.toContain(encodeURIComponent(secret));
    }
    expect(everything).not.toContain('<script>alert(1)</script>');
    // The link holds what it connects and a signature, nothing secret: decoding it shows no key material.
    const token = first.url.slice(first.url.lastIndexOf('/') + 1);
    const decoded = Buffer.from(token.split('.')[0]!, 'base64url').toString();
    expect(Object.keys(JSON.parse(decoded)).sort()).toEqual(['e', 'n', 't']);
  });
});
