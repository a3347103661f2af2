/**
 * Connect links across the console processes of one deployment (same key, same store), on the fake browser
 * and a FakeClock: a link made by one console opens on another and after a restart; two browsers racing on
 * two consoles get exactly one visit (the used mark is a compare-and-set in the store, also with two SQLite
 * clients of one file, as two processes have); a visit answers only where it runs; a link signed with another
 * key is 403, one signed before a key rotation still works while the old key is in the ring; expiry is the
 * injected clock's; the used mark leaves the store with its TTL.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Keyv from 'keyv';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  AuthSessionManager,
  createMemoryStore,
  createSqliteStore,
  defineAuth,
  type KeyInput,
} from '../../src/index.js';
import { managerInternals } from '../../src/manager-internals.js';
import { USED_MARK_PREFIX } from '../../src/server/connect/used-marks.js';
import { createConsole, type WebConsole } from '../../src/server/index.js';
import { FakeBrowserProvider, FakeClock, FakeSite, fakeSiteAuth } from '../../src/testing/index.js';
import { TEST_KEY } from './helpers.js';

const ALICE_PW = 'Alice-shared-pw-Rf4Tg5Yh6';
const PUBLIC_URL = 'https://ops.example';
const CONSOLE_TOKEN = 'console-token-0123456789abcdef';
/** Link expiry plus the longest visit: how long a used mark stays in the store. */
const MAX_VISIT_MS = 60 * 60_000;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** What the processes of one deployment share: the site, the clock, the store. */
interface Deployment {
  readonly clock: FakeClock;
  readonly site: FakeSite;
  readonly store: Keyv;
}

function deployment(store: Keyv = createMemoryStore()): Deployment {
  const clock = new FakeClock();
  const site = new FakeSite({ clock, sessionTtlMs: 60 * 60_000 });
  site.addUser('alice', ALICE_PW);
  return { clock, site, store };
}

/** One console process: its own manager and browser over the deployment's store, with `key`. */
interface Process {
  readonly manager: AuthSessionManager;
  readonly web: WebConsole;
  /** Stops the process (console, manager, browser); the store stays. */
  stop(): Promise<void>;
}

function start(d: Deployment, key: KeyInput = TEST_KEY, store: Keyv = d.store): Process {
  const browser = new FakeBrowserProvider({ sites: [d.site], maxContexts: 4 });
  const manager = new AuthSessionManager({
    auths: [
      defineAuth({
        name: 'crm',
        type: 'credentials',
        credentials: z.object({ username: z.string(), password: z.string() }),
        retryDelay: 0,
        createAttempts: 1,
        ...fakeSiteAuth(d.site),
      }),
    ],
    store,
    key,
    browser,
    clock: d.clock,
  });
  const web = createConsole(manager, { token: CONSOLE_TOKEN, publicUrl: PUBLIC_URL, clock: d.clock });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await web.close();
    await manager.close();
    await browser.close();
  };
  cleanups.push(stop);
  return { manager, web, stop };
}

/** A person's browser: keeps the cookies it is given, sends each request to the process it names. */
class Browser {
  readonly #cookies = new Map<string, string>();

  async request(
    to: Process,
    url: string,
    init: RequestInit = {},
  ): Promise<{ status: number; body: string; res: Response }> {
    const headers = new Headers(init.headers);
    if (this.#cookies.size) {
      headers.set('cookie', [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    }
    const res = await to.web.fetch(new Request(url, { ...init, headers }));
    for (const cookie of res.headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      const [k, v] = pair!.split('=');
      this.#cookies.set(k!, v!);
    }
    return { status: res.status, body: await res.text(), res };
  }

  get(to: Process, url: string) {
    return this.request(to, url);
  }

  /** Opens the link on `to` and posts Alice's credentials there (the form's own CSRF token). */
  async logIn(to: Process, url: string, password = ALICE_PW) {
    const page = await this.get(to, url);
    expect(page.status).toBe(200);
    return this.request(to, `${url}/credentials`, {
      method: 'POST',
      body: new URLSearchParams({ csrf: csrfOf(page.body), 'c.username': 'alice', 'c.password': password }),
    });
  }
}

function csrfOf(body: string): string {
  const m = /name="csrf" value="([^"]+)"/.exec(body);
  if (!m) throw new Error(`no CSRF token in:\n${body}`);
  return m[1]!;
}

function nonceOf(url: string): string {
  const token = url.slice(url.lastIndexOf('/') + 1);
  return (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { n: string }).n;
}

/** The used mark of a link as the store holds it (through the manager's own store). */
function markOf(p: Process, url: string): Promise<unknown> {
  return managerInternals(p.manager).store.getMeta(USED_MARK_PREFIX + nonceOf(url));
}

describe('connect links across processes', () => {
  it('a link made by console A opens and logs in on console B (same key, same store)', async () => {
    const d = deployment();
    const a = start(d);
    const b = start(d);
    const { url } = await a.web.connectLink({ auth: 'crm', labels: { customer: 'acme' } });
    const person = new Browser();
    const posted = await person.logIn(b, url);
    expect(posted.status).toBe(303);
    expect((await person.get(b, url)).body).toContain('id="connected"');
    // The session is in the shared store: A sees it too.
    expect(await a.manager.list()).toEqual([
      expect.objectContaining({ auth: 'crm', state: 'active', labels: { customer: 'acme' } }),
    ]);
    // And the link is used for A as well: a stranger on A gets 403.
    const stranger = await new Browser().get(a, url);
    expect(stranger.status).toBe(403);
    expect(stranger.body).toContain('used already');
  });

  it('a link survives a restart (a new console over the same store and key)', async () => {
    const d = deployment();
    const before = start(d);
    const { url } = await before.web.connectLink({ auth: 'crm' }, { ttlMs: 60 * 60_000 });
    await before.stop();
    d.clock.advance(5 * 60_000);
    const after = start(d);
    const person = new Browser();
    expect((await person.logIn(after, url)).status).toBe(303);
    expect((await person.get(after, url)).body).toContain('id="connected"');
    expect(await after.manager.list()).toEqual([expect.objectContaining({ state: 'active' })]);
  });

  it('a used link stays used after a restart; its browser is told the visit is gone, not let in again', async () => {
    const d = deployment();
    const before = start(d);
    const { url } = await before.web.connectLink({ auth: 'crm' });
    const csrf = csrfOf((await new Browser().get(before, url)).body);
    const person = new Browser();
    expect((await person.logIn(before, url)).status).toBe(303);
    await before.stop();
    const after = start(d);
    const again = await person.get(after, url);
    expect(again.status).toBe(409);
    expect(again.body).toContain('interrupted by a restart');
    const stranger = new Browser();
    expect((await stranger.get(after, url)).status).toBe(403);
    const retry = await stranger.request(after, `${url}/credentials`, {
      method: 'POST',
      body: new URLSearchParams({ csrf, 'c.username': 'alice', 'c.password': ALICE_PW }),
    });
    expect(retry.status).toBe(403);
  });

  it('an ongoing visit answers only on the process that runs it: 409 to its browser elsewhere, 403 to others', async () => {
    const d = deployment();
    const a = start(d);
    const b = start(d);
    const { url } = await a.web.connectLink({ auth: 'crm' });
    const person = new Browser();
    // Only looking at the link (a prefetcher, a GET on any process) does not use it.
    expect((await new Browser().get(b, url)).status).toBe(200);
    expect(await markOf(a, url)).toBeUndefined();
    expect((await person.logIn(a, url)).status).toBe(303);
    const elsewhere = await person.get(b, url);
    expect(elsewhere.status).toBe(409);
    expect(elsewhere.body).toContain('runs on another server');
    const stranger = await new Browser().get(b, url);
    expect(stranger.status).toBe(403);
    expect(stranger.body).toContain('used already');
    // Back on the process that runs it, the visit goes on.
    const home = await person.get(a, url);
    expect(home.status).toBe(200);
    expect(home.body).toContain('id="connected"');
  });

  /** Two browsers open one link, one on each console, and submit it at once: the statuses, sorted. */
  async function raceForLink(url: string, a: Process, b: Process): Promise<number[]> {
    const one = new Browser();
    const two = new Browser();
    const [pageA, pageB] = await Promise.all([one.get(a, url), two.get(b, url)]);
    const post = (who: Browser, to: Process, page: string) =>
      who.request(to, `${url}/credentials`, {
        method: 'POST',
        body: new URLSearchParams({ csrf: csrfOf(page), 'c.username': 'alice', 'c.password': ALICE_PW }),
      });
    const results = await Promise.all([post(one, a, pageA.body), post(two, b, pageB.body)]);
    return results.map((r) => r.status).sort();
  }

  it('two browsers racing for one link on two consoles: exactly one wins', async () => {
    const d = deployment();
    const a = start(d);
    const b = start(d);
    for (let round = 0; round < 5; round++) {
      const { url } = await a.web.connectLink({ auth: 'crm', labels: { round: String(round) } });
      expect(await raceForLink(url, a, b)).toEqual([303, 403]);
    }
    expect(await a.manager.list()).toHaveLength(5);
  });

  it('two SQLite clients of one file (two processes): one wins the race, the other is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'as-connect-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'sessions.sqlite');
    const storeA = createSqliteStore(file);
    const storeB = createSqliteStore(file);
    cleanups.push(
      () => storeA.disconnect(),
      () => storeB.disconnect(),
    );
    const d = deployment(storeA);
    const a = start(d, TEST_KEY, storeA);
    const b = start(d, TEST_KEY, storeB);
    const { url } = await a.web.connectLink({ auth: 'crm' });
    expect(await raceForLink(url, a, b)).toEqual([303, 403]);
    expect(await a.manager.list()).toHaveLength(1);
  });

  it('a link signed with another key answers 403 "not valid" on every console of this key', async () => {
    const d = deployment();
    const other = start(deployment(), randomBytes(32).toString('base64'));
    const a = start(d);
    const { url } = await other.web.connectLink({ auth: 'crm' });
    const res = await new Browser().get(a, url);
    expect(res.status).toBe(403);
    expect(res.body).toContain('not valid');
    // The same link made with this deployment's key opens: the refusal is the key's.
    const ours = await a.web.connectLink({ auth: 'crm' });
    expect((await new Browser().get(a, ours.url)).status).toBe(200);
  });

  it('after a key rotation, a link signed with the previous key works while that key is in the ring', async () => {
    const newKey = randomBytes(32).toString('base64');
    const d = deployment();
    const old = start(d, TEST_KEY);
    const { url } = await old.web.connectLink({ auth: 'crm' });
    const pending = await old.web.connectLink({ auth: 'crm' });
    const oldPage = await new Browser().get(old, url);
    await old.stop();
    const rotated = start(d, { current: newKey, previous: [TEST_KEY] });
    expect((await new Browser().get(rotated, url)).status).toBe(200);
    // A page served before the rotation posts to the rotated process (its CSRF token checks with the old key).
    const person = new Browser();
    const posted = await person.request(rotated, `${url}/credentials`, {
      method: 'POST',
      body: new URLSearchParams({
        csrf: csrfOf(oldPage.body),
        'c.username': 'alice',
        'c.password': ALICE_PW,
      }),
    });
    expect(posted.status).toBe(303);
    expect((await person.get(rotated, url)).body).toContain('id="connected"');
    // Links made now are signed with the new key; once the old key leaves the ring, its links stop.
    const fresh = await rotated.web.connectLink({ auth: 'crm' });
    await rotated.stop();
    const onlyNew = start(d, newKey);
    expect((await new Browser().get(onlyNew, fresh.url)).status).toBe(200);
    const refused = await new Browser().get(onlyNew, pending.url);
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('not valid');
  });

  it('a link made on A expires on B by the injected clock', async () => {
    const d = deployment();
    const a = start(d);
    const b = start(d);
    const { url } = await a.web.connectLink({ auth: 'crm' }, { ttlMs: 60_000 });
    d.clock.advance(59_999);
    expect((await new Browser().get(b, url)).status).toBe(200);
    d.clock.advance(1);
    const expired = await new Browser().get(b, url);
    expect(expired.status).toBe(403);
    expect(expired.body).toContain('expired');
    expect(await b.manager.list()).toEqual([]);
  });

  it("the used mark names the browser by a digest only, and leaves the store at the link's expiry plus the longest visit", async () => {
    const d = deployment();
    const a = start(d);
    const b = start(d);
    const ttlMs = 10 * 60_000;
    const { url } = await a.web.connectLink({ auth: 'crm' }, { ttlMs });
    const madeAt = d.clock.now();
    d.clock.advance(60_000);
    const person = new Browser();
    const posted = await person.logIn(a, url);
    expect(posted.status).toBe(303);
    const cookie = /connect_visit=([^;]+)/.exec(posted.res.headers.get('set-cookie')!)![1]!;
    const mark = await markOf(b, url);
    expect(mark).toMatchObject({ v: 1, at: madeAt + 60_000, until: madeAt + ttlMs + MAX_VISIT_MS });
    expect(JSON.stringify(mark)).not.toContain(cookie);
    // Still there just before its end, for every process; gone once it passed.
    d.clock.advance(madeAt + ttlMs + MAX_VISIT_MS - 1 - d.clock.now());
    expect(await markOf(b, url)).toBeDefined();
    d.clock.advance(2);
    expect(await markOf(b, url)).toBeUndefined();
    expect(await markOf(a, url)).toBeUndefined();
    // The link, long expired, is refused by its expiry.
    expect((await new Browser().get(b, url)).status).toBe(403);
  });
});
