/**
 * The lifecycle end to end: real Chromium (ChromiumProvider), the demo site, the embedded SQLite store and key
 * file. One session goes through create → run → lapse (50 concurrent runs, one refresh) → site down → restart
 * → password change → expired → update → close. The tests run in order and share the session.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEMO_USER, demoSiteAuth, readAccount } from '../../examples/demo-auth.js';
import { type DemoSite, startDemoSite } from '../../examples/demo-site/server.js';
import {
  type AuthSessionEventName,
  AuthSessionManager,
  ChromiumProvider,
  isAuthSessionError,
} from '../../src/index.js';

const ID = 'e2e-alice';
const MAX_CONTEXTS = 4;

/** Chromium processes this test process started (direct children; their helpers hang below them). */
function chromiumChildren(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) !== process.pid || state === 'Z') continue;
      if (/chrom/i.test(readFileSync(`/proc/${entry}/cmdline`, 'utf8'))) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

/** A URL on which nothing listens: connection refused. */
async function closedPortUrl(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

function errorOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (err: unknown) => err,
  );
}

describe.runIf(process.platform === 'linux')('lifecycle in real Chromium against the demo site', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'auth-sessions-e2e-'));
  let site: DemoSite;
  /** Where the auth's hooks go; a test points it at a closed port to play "the site is down". */
  let target = '';
  const auth = demoSiteAuth(() => target, { checkAttempts: 1 });
  const notices: string[] = [];
  const events: { name: AuthSessionEventName; payload: unknown }[] = [];
  const count = (name: AuthSessionEventName) => events.filter((e) => e.name === name).length;
  let provider: ChromiumProvider;
  let manager: AuthSessionManager;

  function start(options: { warmContexts?: false } = {}): void {
    provider = new ChromiumProvider({ maxContexts: MAX_CONTEXTS });
    // The embedded defaults (SQLite file and key file in dataDir), with our own provider to count contexts.
    manager = new AuthSessionManager({
      auths: [auth],
      dataDir,
      browser: provider,
      onNotice: (message) => notices.push(message),
      ...options,
    });
    for (const name of ['created', 'checked', 'refreshed', 'expired', 'updated', 'warning'] as const) {
      manager.on(name, (payload) => events.push({ name, payload }));
    }
  }

  async function stop(): Promise<void> {
    await manager.close();
    await provider.close();
  }

  const account = () => manager.run(ID, ({ page }) => readAccount(page, site.url));

  beforeAll(async () => {
    // The key comes from the key file in dataDir, not from the environment.
    vi.stubEnv('AUTH_SESSIONS_KEY', undefined);
    site = await startDemoSite({ sessionTtlSeconds: 3600 });
    target = site.url;
    start();
  });

  afterAll(async () => {
    await manager?.close();
    await provider?.close();
    await site?.close();
    vi.unstubAllEnvs();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('creates a session through the login form, stores it sealed, and runs tasks logged in', async () => {
    const session = await manager.create('demo-site', { id: ID, credentials: DEMO_USER });
    expect(session).toMatchObject({ id: ID, auth: 'demo-site', type: 'credentials', state: 'active' });
    expect(site.stats()).toMatchObject({ logins: 1, failedLogins: 0 });

    // The embedded default made a key file, said so once, and kept it private.
    expect(notices).toEqual([expect.stringContaining('created a new encryption key')]);
    expect(statSync(join(dataDir, 'key')).mode & 0o777).toBe(0o600);

    let sid = '';
    const user = await manager.run(ID, async ({ page, context }) => {
      const name = await readAccount(page, site.url);
      sid = (await context.cookies()).find((c) => c.name === 'sid')?.value ?? '';
      return name;
    });
    expect(user).toBe('alice');
    expect(await account()).toBe('alice');
    expect(site.stats().logins).toBe(1);
    expect(count('checked')).toBe(2);

    // Neither the password nor the session cookie is readable in the store's files.
    expect(sid.length).toBeGreaterThan(20);
    for (const file of readdirSync(dataDir)) {
      const bytes = readFileSync(join(dataDir, file));
      expect(bytes.includes(DEMO_USER.password), file).toBe(false);
      expect(bytes.includes(sid), file).toBe(false);
    }
  });

  it('lapse: 50 concurrent runs share exactly one refresh and all succeed, within the context bound', async () => {
    site.expireAllSessions();
    const loginsBefore = site.stats().logins;
    const refreshedBefore = count('refreshed');
    let maxOpen = 0;
    let maxPages = 0;
    const sample = () => {
      maxOpen = Math.max(maxOpen, provider.stats().openContexts);
      maxPages = Math.max(maxPages, provider.stats().openPages);
    };
    const sampler = setInterval(sample, 25);
    try {
      const results = await Promise.allSettled(
        Array.from({ length: 50 }, () =>
          manager.run(ID, async ({ page, context }) => {
            sample();
            expect(context.browser()?.contexts().length).toBeLessThanOrEqual(MAX_CONTEXTS);
            return readAccount(page, site.url);
          }),
        ),
      );
      const failures = results.filter((r) => r.status === 'rejected');
      expect(failures).toEqual([]);
      expect(results.map((r) => (r.status === 'fulfilled' ? r.value : undefined))).toEqual(
        Array(50).fill('alice'),
      );
    } finally {
      clearInterval(sampler);
    }
    expect(site.stats().logins - loginsBefore).toBe(1);
    expect(count('refreshed') - refreshedBefore).toBe(1);
    expect(count('expired')).toBe(0);
    // The runs share the session's warm context, one page each: they did run side by side.
    expect(maxPages).toBeGreaterThan(1);
    expect(maxOpen).toBeLessThanOrEqual(MAX_CONTEXTS);
    // What stays open is the session's warm context, with at most its page budget of kept pages.
    expect(provider.stats().openContexts).toBeLessThanOrEqual(1);
    expect(provider.stats().openPages).toBeLessThanOrEqual(4);
    expect(provider.stats().waiting).toBe(0);
    expect(await manager.get(ID)).toMatchObject({ state: 'active' });
  }, 240_000);

  it('a site that is down during the check: TARGET_UNREACHABLE, the session stays active, no refresh', async () => {
    const before = await manager.get(ID);
    const logins = site.stats().logins;
    const [refreshed, expired] = [count('refreshed'), count('expired')];
    target = await closedPortUrl();
    try {
      const err = await errorOf(manager.run(ID, () => 'never runs'));
      expect(err).toMatchObject({ code: 'TARGET_UNREACHABLE', sessionId: ID });
      expect((err as Error).message).not.toContain(DEMO_USER.password);
      expect(await errorOf(manager.validate(ID))).toMatchObject({ code: 'TARGET_UNREACHABLE' });
    } finally {
      target = site.url;
    }
    const after = await manager.get(ID);
    expect(after).toMatchObject({ state: 'active', revision: before?.revision });
    expect(after?.failure).toBeUndefined();
    expect([count('refreshed'), count('expired')]).toEqual([refreshed, expired]);
    // At most the session's warm context (its login still holds) and its kept pages stay open.
    expect(provider.stats().openContexts).toBeLessThanOrEqual(1);
    expect(provider.stats().openPages).toBeLessThanOrEqual(4);

    // Back up: the stored login still works, without logging in again.
    expect(await account()).toBe('alice');
    expect(site.stats().logins).toBe(logins);
  });

  it('restart: a new manager and a new ChromiumProvider over the same store and key need no new login', async () => {
    const logins = site.stats().logins;
    await stop();
    await vi.waitFor(() => expect(chromiumChildren()).toEqual([]), { timeout: 10_000, interval: 50 });

    start();
    expect(await manager.get(ID)).toMatchObject({ state: 'active' });
    expect(await account()).toBe('alice');
    expect(await manager.validate(ID)).toMatchObject({ state: 'active' });
    expect(site.stats().logins).toBe(logins);
    // Same key file, no new notice.
    expect(notices).toHaveLength(1);
  });

  it('password change: the session expires; later runs are refused with SESSION_EXPIRED without a context', async () => {
    const newPassword = 'changed-at-the-site-9';
    site.setPassword('alice', newPassword);
    const failedBefore = site.stats().failedLogins;

    const err = await errorOf(account());
    expect(err).toMatchObject({ code: 'SESSION_EXPIRED', status: 401, sessionId: ID });
    expect(String((err as Error).message)).not.toContain(DEMO_USER.password);
    expect(count('expired')).toBe(1);
    // createAttempts (2) logins with the stored password, both refused by the site.
    expect(site.stats().failedLogins - failedBefore).toBe(2);
    expect(await manager.get(ID)).toMatchObject({
      state: 'expired',
      expiredAt: expect.any(String),
      failure: { code: 'CREATE_FAILED' },
    });

    const opened = provider.stats().contextsOpened;
    const refusals = await Promise.all([
      errorOf(account()),
      errorOf(manager.validate(ID)),
      errorOf(manager.run(ID, () => 'never runs')),
    ]);
    for (const refusal of refusals) expect(refusal).toMatchObject({ code: 'SESSION_EXPIRED', status: 401 });
    expect(provider.stats().contextsOpened).toBe(opened);

    // New credentials log in again: active once more.
    const logins = site.stats().logins;
    const updated = await manager.update(ID, { credentials: { username: 'alice', password: newPassword } });
    expect(updated.state).toBe('active');
    expect(site.stats().logins).toBe(logins + 1);
    expect(await account()).toBe('alice');
  });

  it('close: no context, page or Chromium process is left behind', async () => {
    // A fresh context per run, so four held runs fill the browser's slots.
    await stop();
    start({ warmContexts: false });
    // Leave work in flight: a run waiting for a slot behind four busy ones.
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const busy = Array.from({ length: MAX_CONTEXTS }, () =>
      errorOf(manager.run(ID, () => held, { checkInterval: 60_000 })),
    );
    await vi.waitFor(() => expect(provider.stats().openContexts).toBe(MAX_CONTEXTS), { timeout: 30_000 });
    const waiting = errorOf(manager.run(ID, () => 'late', { checkInterval: 60_000 }));
    await vi.waitFor(() => expect(provider.stats().waiting).toBe(1), { timeout: 10_000 });
    expect(chromiumChildren().length).toBeGreaterThan(0);

    await stop();
    release();
    for (const err of [...(await Promise.all(busy)), await waiting]) {
      expect(isAuthSessionError(err), String(err)).toBe(true);
      expect(['CLOSED', 'ABORTED']).toContain((err as { code: string }).code);
    }
    expect(provider.stats()).toMatchObject({ openContexts: 0, openPages: 0, waiting: 0 });
    await vi.waitFor(() => expect(chromiumChildren()).toEqual([]), { timeout: 10_000, interval: 50 });
    // The session itself is untouched by closing.
    const reader = new AuthSessionManager({ auths: [auth], dataDir, browser: provider });
    try {
      expect(await reader.get(ID)).toMatchObject({ state: 'active' });
    } finally {
      await reader.close();
    }
  });
});

describe.runIf(process.platform === 'linux')(
  'ChromiumProvider: a context closing under a page being opened',
  () => {
    it('ends the wait for the page at once (CLOSED) instead of hanging until the operation timeout', async () => {
      const provider = new ChromiumProvider({ maxContexts: 2 });
      try {
        for (let i = 0; i < 3; i++) {
          const lease = await provider.newContext({});
          const opening = lease.newPage().then(
            (page) => ({ page }),
            (err: unknown) => ({ err }),
          );
          const started = Date.now();
          await lease.close();
          const outcome = await opening;
          // Playwright's own newPage never settles when its context closes meanwhile; the lease must not wait.
          expect(Date.now() - started).toBeLessThan(10_000);
          if ('err' in outcome) expect(outcome.err).toMatchObject({ code: 'CLOSED' });
          else expect(outcome.page.isClosed()).toBe(true);
        }
        expect(provider.stats()).toMatchObject({ openContexts: 0, openPages: 0, waiting: 0 });
      } finally {
        await provider.close();
      }
    });
  },
);
