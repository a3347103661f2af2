import { afterEach, describe, expect, it } from 'vitest';
import {
  type AuthSessionEvents,
  AuthSessionManager,
  createMemoryStore,
  defineAuth,
  LocalLock,
} from '../../src/index.js';
import { FakeBrowserProvider, FakeClock, FakeSite } from '../../src/testing/index.js';
import { credentialsSchema, siteAuth, TEST_KEY } from './helpers.js';

// Health checks on the fake browser and a fake clock: time only moves when the test moves it.

const MIN = 60_000;
const ALICE = { username: 'alice', password: 'pw-alice-1' };

/** A JWT whose payload carries `exp` (seconds); the signature is not looked at. */
function jwt(expMs: number): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub: 'alice', exp: Math.floor(expMs / 1000) })}.c2ln`;
}

/** Lets the promise chains started by timers run to their end (the fake browser and store never sleep). */
async function settle(turns = 30): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

const managers: AuthSessionManager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.close()));
});

interface Setup {
  clock: FakeClock;
  site: FakeSite;
  browser: FakeBrowserProvider;
  manager: AuthSessionManager;
  on<E extends keyof AuthSessionEvents>(name: E): AuthSessionEvents[E][];
}

/**
 * A site whose logins last `ttl` and an auth that, once logged in, keeps the site's token (a JWT with the same
 * lifetime) in localStorage, as single-page apps do.
 */
function setup(
  ttl = 10 * MIN,
  extra: { store?: ReturnType<typeof createMemoryStore>; lock?: LocalLock } = {},
) {
  const clock = new FakeClock();
  const site = new FakeSite({ clock, sessionTtlMs: ttl });
  site.addUser('alice', ALICE.password);
  const browser = new FakeBrowserProvider({ site, maxContexts: 16 });
  const base = siteAuth(site);
  const auth = siteAuth(site, {
    async create(ctx) {
      await base.create(ctx);
      await ctx.page.evaluate((token) => localStorage.setItem('token', token), jwt(clock.now() + ttl));
    },
  });
  return make(clock, site, browser, auth, extra);
}

function make(
  clock: FakeClock,
  site: FakeSite,
  browser: FakeBrowserProvider,
  auth: ReturnType<typeof siteAuth> | ReturnType<typeof defineAuth>,
  extra: { store?: ReturnType<typeof createMemoryStore>; lock?: LocalLock } = {},
): Setup {
  const manager = new AuthSessionManager({
    auths: [auth],
    store: extra.store ?? createMemoryStore(),
    key: TEST_KEY,
    browser,
    clock,
    ...(extra.lock ? { lock: extra.lock } : {}),
  });
  managers.push(manager);
  const seen = new Map<string, unknown[]>();
  const on = <E extends keyof AuthSessionEvents>(name: E): AuthSessionEvents[E][] => {
    let list = seen.get(name);
    if (!list) {
      list = [];
      seen.set(name, list);
      manager.on(name, (e) => list!.push(e));
    }
    return list as AuthSessionEvents[E][];
  };
  for (const name of ['checked', 'refreshed', 'expired', 'health:round', 'expiring', 'warning'] as const)
    on(name);
  return { clock, site, browser, manager, on };
}

describe('health checks: refresh ahead of the lapse', () => {
  it('over 2 simulated hours of runs, no run meets a failed check and every refresh comes before its lapse', async () => {
    const { clock, site, manager, on } = setup();
    const session = await manager.create('site', { credentials: ALICE });
    expect((await manager.get(session.id))?.expiresAt).toBe(new Date(clock.now() + 10 * MIN).toISOString());

    const lapses: number[] = [];
    manager.on('refreshed', (e) => {
      expect(e.ahead).toBe(true);
      lapses.push(clock.now());
    });
    let expiresAt = Date.parse((await manager.get(session.id))!.expiresAt!);
    const refreshTimes: Array<{ at: number; lapse: number }> = [];
    manager.on('refreshed', (e) => {
      refreshTimes.push({ at: clock.now(), lapse: expiresAt });
      expiresAt = Date.parse(e.session.expiresAt!);
    });
    const health = manager.startHealthChecks({ every: 2 * MIN, refreshAhead: 3 * MIN, concurrency: 1 });
    const failedRuns: unknown[] = [];
    let runs = 0;
    // A run every 45 s of simulated time, each checking the login first (checkInterval 0).
    for (let t = 0; t < 120 * MIN; t += 15_000) {
      await clock.advanceAsync(15_000);
      await settle();
      if (t % 45_000 === 0) {
        runs++;
        await manager
          .run(session.id, async ({ page }) => {
            await page.goto(`${site.origin}/account`);
            return page.textContent('#user');
          })
          .then((user) => expect(user).toBe('alice'))
          .catch((err) => failedRuns.push(err));
      }
    }
    await health.stop();

    expect(runs).toBe(160);
    console.log(`logins in 2 h: ${site.counters.logins}`);
    expect(failedRuns).toEqual([]);
    // Zero failed checks, by runs or by the health checks: the login never lapsed under anyone.
    expect(on('checked').filter((e) => !e.ok)).toEqual([]);
    expect(on('expired')).toEqual([]);
    // One login per login lifetime: the create, then one refresh ahead every 8 minutes (the first round
    // that finds the lapse within 3 minutes is 2–3 minutes before it, with checks 2 minutes apart).
    expect(site.counters.logins).toBeGreaterThanOrEqual(12);
    expect(site.counters.logins).toBeLessThanOrEqual(17);
    expect(refreshTimes.length).toBe(site.counters.logins - 1);
    for (const r of refreshTimes) {
      expect(r.at).toBeLessThan(r.lapse);
      expect(r.lapse - r.at).toBeLessThanOrEqual(3 * MIN);
    }
    const stats = await manager.stats();
    expect(stats.refreshes.proactive).toBe(refreshTimes.length);
    expect(stats.refreshes.reactive).toBe(0);
    await manager.flushHistory();
    const kinds = (await manager.history(session.id, { limit: 200 })).map((e) => e.kind);
    expect(kinds).toContain('refresh-ahead');
    expect(kinds).not.toContain('refresh');
    // The rounds were counted: 60 rounds in 2 hours (one per 2 minutes).
    const rounds = on('health:round');
    expect(rounds.length).toBeGreaterThanOrEqual(59);
    expect(rounds.reduce((n, r) => n + r.refreshed, 0)).toBe(refreshTimes.length);
  });

  it('without runs, the health checks validate each session once per round and keep it logged in', async () => {
    const { clock, site, manager, on } = setup();
    const a = await manager.create('site', { credentials: ALICE, id: 'a' });
    const b = await manager.create('site', { credentials: ALICE, id: 'b' });
    const health = manager.startHealthChecks({ every: 2 * MIN, refreshAhead: 3 * MIN, concurrency: 2 });
    const info = await manager.get(a.id);
    expect(info?.nextCheckAt).toBeDefined();
    expect(Date.parse(info!.nextCheckAt!)).toBeGreaterThan(clock.now());
    for (let i = 0; i < 30; i++) {
      await clock.advanceAsync(MIN);
      await settle();
    }
    await health.stop();
    expect((await manager.get(a.id))?.nextCheckAt).toBeUndefined();
    expect(on('checked').filter((e) => !e.ok)).toEqual([]);
    const rounds = on('health:round');
    expect(rounds.length).toBeGreaterThanOrEqual(14);
    for (const r of rounds) expect(r.checked + r.refreshed + r.skipped).toBe(2);
    expect((await manager.get(b.id))?.state).toBe('active');
    // 30 minutes, 10-minute logins: each session logged in again ahead of each lapse (3 times), never after.
    expect(site.counters.logins).toBeGreaterThanOrEqual(2 + 2 * 3);
    expect(site.counters.logins).toBeLessThanOrEqual(2 + 2 * 4);
  });

  it('a refresh ahead that fails leaves the session active; the check after the lapse expires it', async () => {
    const clock = new FakeClock();
    const site = new FakeSite({ clock, sessionTtlMs: 10 * MIN });
    site.addUser('alice', ALICE.password);
    const browser = new FakeBrowserProvider({ site });
    let loginsWork = true;
    const base = siteAuth(site);
    const { manager, on } = make(
      clock,
      site,
      browser,
      siteAuth(site, {
        authCookies: ['sid'],
        async create(ctx) {
          if (!loginsWork) throw new Error('the login form is down');
          await base.create(ctx);
        },
      }),
    );
    const s = await manager.create('site', { credentials: ALICE });
    loginsWork = false;
    const health = manager.startHealthChecks({ every: 2 * MIN, refreshAhead: 3 * MIN });
    for (let i = 0; i < 9; i++) {
      await clock.advanceAsync(MIN);
      await settle();
    }
    // Tried ahead of the lapse, failed, said so: the login still holds, so the session stays active.
    expect(on('warning').some((w) => w.error.code === 'CREATE_FAILED')).toBe(true);
    expect((await manager.get(s.id))?.state).toBe('active');
    for (let i = 0; i < 5; i++) {
      await clock.advanceAsync(MIN);
      await settle();
    }
    await health.stop();
    // After the lapse the check fails and the reactive refresh fails too: expired, once.
    expect((await manager.get(s.id))?.state).toBe('expired');
    expect(on('expired')).toHaveLength(1);
  });

  it('a run just before the lapse waits for the refresh ahead under way instead of racing the lapse', async () => {
    const clock = new FakeClock();
    const site = new FakeSite({ clock, sessionTtlMs: 10 * MIN });
    site.addUser('alice', ALICE.password);
    const browser = new FakeBrowserProvider({ site });
    let gate: Promise<void> | undefined;
    let open: () => void = () => {};
    const base = siteAuth(site);
    const { manager, on } = make(
      clock,
      site,
      browser,
      siteAuth(site, {
        authCookies: ['sid'],
        async create(ctx) {
          if (gate) await gate;
          await base.create(ctx);
        },
      }),
    );
    const s = await manager.create('site', { credentials: ALICE });
    // The next login (the refresh ahead) hangs until the test lets it go: a slow login form.
    gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const health = manager.startHealthChecks({ every: 2 * MIN, refreshAhead: 3 * MIN });
    for (let i = 0; i < 9; i++) {
      await clock.advanceAsync(MIN);
      await settle();
    }
    // Minute 9: the refresh ahead started (at minute 7 or 8) and hangs; the login lapses at minute 10. A run
    // a minute before the lapse checks the old login as usual; one 5 seconds before it waits.
    expect(site.counters.logins).toBe(1);
    expect(await manager.run(s.id, () => 'early')).toBe('early');
    await clock.advanceAsync(55_000);
    let done = false;
    const run = manager
      .run(s.id, () => 'ok')
      .finally(() => {
        done = true;
      });
    await settle();
    expect(done).toBe(false);
    await clock.advanceAsync(2 * MIN);
    open();
    await settle();
    expect(await run).toBe('ok');
    await health.stop();
    expect(on('checked').filter((e) => !e.ok)).toEqual([]);
    expect(on('refreshed').map((e) => e.ahead)).toEqual([true]);
  });

  it('stop() and close() end the rounds', async () => {
    const { clock, manager, on } = setup();
    await manager.create('site', { credentials: ALICE });
    const health = manager.startHealthChecks({ every: 2 * MIN, refreshAhead: 3 * MIN });
    await clock.advanceAsync(5 * MIN);
    await settle();
    const before = on('health:round').length;
    expect(before).toBeGreaterThan(0);
    await health.stop();
    await clock.advanceAsync(10 * MIN);
    await settle();
    expect(on('health:round').length).toBe(before);

    const again = manager.startHealthChecks({ every: MIN, refreshAhead: 0 });
    await manager.close();
    await clock.advanceAsync(10 * MIN);
    await settle();
    expect(on('health:round').length).toBe(before);
    await again.stop();
    expect(clock.pendingTimers).toBe(0);
  });

  it('refuses unknown and invalid options', () => {
    const { manager } = setup();
    expect(() => manager.startHealthChecks({ every: MIN, refreshAhead: 0, evry: 1 } as never)).toThrow(
      /evry/,
    );
    expect(() => manager.startHealthChecks({ every: 0, refreshAhead: 0 })).toThrow(/every/);
    expect(() => manager.startHealthChecks({ every: MIN, refreshAhead: 0, concurrency: 0 })).toThrow(
      /concurrency/,
    );
    expect(() => manager.startHealthChecks({ every: MIN, refreshAhead: 0, auth: 'nope' as 'site' })).toThrow(
      /Unknown auth/,
    );
  });
});

describe('health checks: one validation per session per round across managers', () => {
  it('two managers sharing a store and a lock validate each session once per round', async () => {
    const clock = new FakeClock();
    const site = new FakeSite({ clock, sessionTtlMs: 60 * MIN });
    site.addUser('alice', ALICE.password);
    const browser = new FakeBrowserProvider({ site, maxContexts: 16 });
    const store = createMemoryStore();
    const lock = new LocalLock({ clock });
    let checks = 0;
    const validated = new Set<string>();
    const twice: string[] = [];
    const auth = siteAuth(site, {
      async check({ page, session }) {
        checks++;
        const key = `${Math.floor(clock.now() / (2 * MIN))}:${session.id}`;
        if (validated.has(key)) twice.push(key);
        validated.add(key);
        await page.goto(`${site.origin}/account`);
        return (await page.textContent('#user')) !== null;
      },
    });
    const one = make(clock, site, browser, auth, { store, lock });
    const two = make(clock, site, browser, auth, { store, lock });
    for (let i = 0; i < 5; i++) await one.manager.create('site', { credentials: ALICE, id: `s${i}` });
    checks = 0;
    const h1 = one.manager.startHealthChecks({ every: 2 * MIN, refreshAhead: 0, concurrency: 3 });
    const h2 = two.manager.startHealthChecks({ every: 2 * MIN, refreshAhead: 0, concurrency: 3 });
    // 10 rounds.
    await clock.advanceAsync(1);
    for (let i = 0; i < 20; i++) {
      await clock.advanceAsync(MIN);
      await settle();
    }
    await Promise.all([h1.stop(), h2.stop()]);
    const rounds = [...one.on('health:round'), ...two.on('health:round')];
    const checked = rounds.reduce((n, r) => n + r.checked, 0);
    expect(checked).toBe(checks);
    // Never twice in a round; every session in every round but the first (just checked by its creation).
    expect(twice).toEqual([]);
    expect(checks).toBeGreaterThanOrEqual(5 * 9);
    expect(checks).toBeLessThanOrEqual(5 * 11);
    // The other manager tried too, and found the sessions taken.
    expect(two.on('health:round').reduce((n, r) => n + r.skipped, 0)).toBeGreaterThanOrEqual(5 * 9);
  });
});

describe('health checks: when a login lapses', () => {
  it('is learned from the expiresAt hook first, then JWTs, then authCookies', async () => {
    const clock = new FakeClock();
    const site = new FakeSite({ clock, sessionTtlMs: 30 * MIN });
    site.addUser('alice', ALICE.password);
    const browser = new FakeBrowserProvider({ site });
    const base = siteAuth(site);
    // authCookies only: the site's `sid` cookie expires with the login.
    const cookies = make(clock, site, browser, siteAuth(site, { authCookies: ['sid'] }));
    const c = await cookies.manager.create('site', { credentials: ALICE });
    expect(c.expiresAt).toBe(new Date(clock.now() + 30 * MIN).toISOString());
    // A JWT wins over the cookies.
    const withJwt = make(
      clock,
      site,
      browser,
      siteAuth(site, {
        authCookies: ['sid'],
        async create(ctx) {
          await base.create(ctx);
          await ctx.page.evaluate(
            (t) => sessionStorage.setItem('auth', JSON.stringify({ access_token: t })),
            jwt(clock.now() + 5 * MIN),
          );
        },
      }),
    );
    const j = await withJwt.manager.create('site', { credentials: ALICE });
    expect(j.expiresAt).toBe(new Date(Math.floor((clock.now() + 5 * MIN) / 1000) * 1000).toISOString());
    // The hook wins over both.
    const hooked = make(
      clock,
      site,
      browser,
      siteAuth(site, { authCookies: ['sid'], expiresAt: () => clock.now() + 7 * MIN }),
    );
    const h = await hooked.manager.create('site', { credentials: ALICE });
    expect(h.expiresAt).toBe(new Date(clock.now() + 7 * MIN).toISOString());
    // Nothing tells: no expiresAt.
    const none = make(clock, site, browser, base);
    expect((await none.manager.create('site', { credentials: ALICE })).expiresAt).toBeUndefined();
  });

  it('else from the lifetime observed for the auth past logins (history)', async () => {
    const clock = new FakeClock();
    const site = new FakeSite({ clock, sessionTtlMs: 10 * MIN });
    site.addUser('alice', ALICE.password);
    const browser = new FakeBrowserProvider({ site });
    const { manager, on } = make(clock, site, browser, siteAuth(site));
    const s = await manager.create('site', { credentials: ALICE });
    const health = manager.startHealthChecks({ every: 2 * MIN, refreshAhead: 3 * MIN });
    // The first lapse is found by a check (nothing tells when it comes); after that the lifetime is known.
    for (let i = 0; i < 60; i++) {
      await clock.advanceAsync(MIN);
      await settle();
      if (i % 10 === 0) await manager.flushHistory();
    }
    await health.stop();
    const failed = on('checked').filter((e) => !e.ok);
    const ahead = on('refreshed').filter((e) => e.ahead);
    expect(failed.length).toBeGreaterThanOrEqual(1);
    expect(failed.length).toBeLessThanOrEqual(2);
    expect(ahead.length).toBeGreaterThanOrEqual(3);
    expect((await manager.get(s.id))?.state).toBe('active');
  });

  it('a recorder session close to its lapse is announced once with an expiring event', async () => {
    const clock = new FakeClock();
    const site = new FakeSite({ clock, sessionTtlMs: 60 * MIN });
    const browser = new FakeBrowserProvider({ site });
    const portal = defineAuth({
      name: 'portal',
      type: 'recorder',
      startUrl: `${site.origin}/login`,
      finishUrl: `${site.origin}/account`,
      check: () => true,
    });
    const { manager, on } = make(clock, site, browser, portal);
    const lapse = clock.now() + 10 * MIN;
    const s = await manager.importState('portal', {
      cookies: [],
      origins: [{ origin: site.origin, localStorage: [{ name: 'token', value: jwt(lapse) }] }],
    });
    expect(s.expiresAt).toBe(new Date(lapse).toISOString());
    const health = manager.startHealthChecks({ every: 2 * MIN, refreshAhead: 3 * MIN });
    for (let i = 0; i < 20; i++) {
      await clock.advanceAsync(MIN);
      await settle();
    }
    await health.stop();
    const expiring = on('expiring');
    expect(expiring).toHaveLength(1);
    expect(expiring[0]!.expiresAt).toBe(new Date(lapse).toISOString());
    expect(expiring[0]!.session.id).toBe(s.id);
    expect(on('refreshed')).toEqual([]);
  });
});

// Keeps the schema import used by the helpers' auth type.
void credentialsSchema;
