import { afterEach, describe, expect, it } from 'vitest';
import { AuthSessionInvalidError, createMemoryStore } from '../../src/index.js';
import { expectCode } from '../shared.js';
import { type Harness, harness, managerOver } from './helpers.js';

const alice = { username: 'alice', password: 'pw-alice-1' };
let h: Harness;

afterEach(async () => {
  await h?.manager.close();
  await h?.browser.close();
});

describe('create and run', () => {
  it('creates an active session, runs a logged-in task and hides secrets', async () => {
    // A fresh context per run: nothing stays open after it.
    h = harness({ warmContexts: false });
    const s = await h.manager.create('site', { credentials: alice, labels: { customer: 'acme' } });
    expect(s).toMatchObject({
      auth: 'site',
      type: 'credentials',
      state: 'active',
      labels: { customer: 'acme' },
    });
    expect(JSON.stringify(s)).not.toContain('pw-alice-1');
    const user = await h.manager.run(s.id, async ({ page }) => {
      await page.goto(`${h.site.origin}/account`);
      return page.textContent('#user');
    });
    expect(user).toBe('alice');
    expect(h.site.counters.logins).toBe(1);
    expect(h.count('created')).toBe(1);
    expect(h.browser.stats()).toMatchObject({ openContexts: 0, openPages: 0 });
  });

  it('saves the rolled cookies after a run', async () => {
    h = harness();
    const s = await h.manager.create('site', { credentials: alice });
    const before = (await h.manager.get(s.id))!.revision;
    await h.manager.run(s.id, async ({ page }) => {
      await page.goto(`${h.site.origin}/account`);
    });
    expect((await h.manager.get(s.id))!.revision).toBeGreaterThan(before);
  });

  it('skips the check while the last one is younger than checkInterval', async () => {
    h = harness({ auth: { checkInterval: 60_000 } });
    const s = await h.manager.create('site', { credentials: alice });
    const checks = () => h.count('checked');
    await h.manager.run(s.id, () => 1);
    expect(checks()).toBe(0);
    h.clock.advance(61_000);
    await h.manager.run(s.id, () => 1);
    expect(checks()).toBe(1);
    await h.manager.run(s.id, () => 1, { forceCheck: true });
    expect(checks()).toBe(2);
  });

  it('a new manager over the same store and key keeps using the session without logging in', async () => {
    h = harness();
    const store = createMemoryStore();
    const first = managerOver(h, { store });
    const s = await first.create('site', { credentials: alice });
    await first.close();
    const second = managerOver(h, { store });
    const user = await second.run(s.id, async ({ page }) => page.textContent('#user'));
    expect(user).toBe('alice');
    expect(h.site.counters.logins).toBe(1);
    await second.close();
  });
});

describe('refresh and expiry', () => {
  it('1,000 concurrent runs on a lapsed session refresh exactly once and all succeed', async () => {
    // Fresh contexts (the warm-context variant is in warm-pool.test.ts).
    h = harness({ warmContexts: false });
    const s = await h.manager.create('site', { credentials: alice });
    h.site.expireSessions();
    const logins = h.site.counters.logins;
    const results = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        h.manager.run(s.id, async ({ page }) => {
          await page.goto(`${h.site.origin}/account`);
          return (await page.textContent('#user')) === 'alice' ? i : -1;
        }),
      ),
    );
    expect(results).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(h.site.counters.logins - logins).toBe(1);
    expect(h.count('refreshed')).toBe(1);
    expect(h.browser.stats()).toMatchObject({ openContexts: 0, openPages: 0, waiting: 0 });
  });

  it('a changed password expires the session after createAttempts; later runs fail at once; update revives it', async () => {
    h = harness({ auth: { createAttempts: 3 } });
    const s = await h.manager.create('site', { credentials: alice });
    h.site.changePassword('alice', 'pw-alice-2');
    const failedBefore = h.site.counters.failedLogins;
    const err = await expectCode(
      h.manager.run(s.id, () => 1),
      'SESSION_EXPIRED',
    );
    expect(err.status).toBe(401);
    expect(h.site.counters.failedLogins - failedBefore).toBe(3);
    expect((await h.manager.get(s.id))!.state).toBe('expired');
    expect(h.count('expired')).toBe(1);

    const opened = h.browser.stats().contextsOpened;
    for (let i = 0; i < 5; i++)
      await expectCode(
        h.manager.run(s.id, () => 1),
        'SESSION_EXPIRED',
      );
    await expectCode(h.manager.validate(s.id), 'SESSION_EXPIRED');
    expect(h.browser.stats().contextsOpened).toBe(opened);
    expect(h.count('expired')).toBe(1);

    const updated = await h.manager.update(s.id, {
      credentials: { username: 'alice', password: 'pw-alice-2' },
    });
    expect(updated.state).toBe('active');
    expect(await h.manager.run(s.id, async ({ page }) => page.textContent('#user'))).toBe('alice');
  });

  it('an update with wrong credentials leaves the session exactly as it was', async () => {
    h = harness({ auth: { createAttempts: 1 } });
    const s = await h.manager.create('site', { credentials: alice });
    await expectCode(
      h.manager.update(s.id, { credentials: { username: 'alice', password: 'nope' } }),
      'CREATE_FAILED',
    );
    expect((await h.manager.get(s.id))!.state).toBe('active');
    expect(await h.manager.run(s.id, async ({ page }) => page.textContent('#user'))).toBe('alice');
  });

  it('a task that finds itself logged out is retried once after a refresh', async () => {
    h = harness();
    const s = await h.manager.create('site', { credentials: alice });
    let calls = 0;
    const out = await h.manager.run(s.id, async ({ page }) => {
      calls++;
      if (calls === 1) {
        h.site.logoutAll();
        await page.goto(`${h.site.origin}/account`);
        if ((await page.textContent('#user')) === null) throw new AuthSessionInvalidError();
      }
      await page.goto(`${h.site.origin}/account`);
      return page.textContent('#user');
    });
    expect(calls).toBe(2);
    expect(out).toBe('alice');
    expect(h.count('refreshed')).toBe(1);
  });

  it('an unreachable site during check is an infrastructure failure: no refresh, no expiry', async () => {
    h = harness();
    const s = await h.manager.create('site', { credentials: alice });
    h.site.down = true;
    await expectCode(
      h.manager.run(s.id, () => 1),
      'TARGET_UNREACHABLE',
    );
    expect((await h.manager.get(s.id))!.state).toBe('active');
    expect(h.count('refreshed') + h.count('expired')).toBe(0);
    h.site.down = false;
    expect(await h.manager.run(s.id, () => 2)).toBe(2);
  });
});

describe('hooks', () => {
  it('a hanging hook times out with HOOK_TIMEOUT, its signal aborted, no context left open', async () => {
    let seen: AbortSignal | undefined;
    h = harness({
      auth: {
        createAttempts: 1,
        createTimeout: 5_000,
        create: ({ signal }: { signal: AbortSignal }) => {
          seen = signal;
          return new Promise<void>(() => {});
        },
      },
    });
    const p = h.manager.create('site', { credentials: alice });
    while (seen === undefined) await new Promise((r) => setImmediate(r));
    h.clock.advance(5_000);
    await expectCode(p, 'HOOK_TIMEOUT');
    expect(seen.aborted).toBe(true);
    expect(h.browser.stats().openContexts).toBe(0);
  });

  it('aborting while the next attempt waits is ABORTED: no refresh after a check, nothing left after a create', async () => {
    const controller = new AbortController();
    let checks = 0;
    h = harness({
      auth: {
        checkAttempts: 2,
        retryDelay: 60_000,
        check: async () => {
          checks++;
          if (checks === 1) return true; // the create's own check
          // The caller gives up while the second attempt waits.
          setImmediate(() => controller.abort());
          return false;
        },
      },
    });
    const s = await h.manager.create('site', { credentials: alice });
    await expectCode(
      h.manager.run(s.id, () => 1, { signal: controller.signal }),
      'ABORTED',
    );
    const checked = h.events.filter((e) => e.name === 'checked').map((e) => e.payload);
    expect(checked.at(-1)).toMatchObject({ ok: false, error: { code: 'ABORTED' } });
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(h.count('refreshed')).toBe(0);
    expect(h.site.counters.logins).toBe(1);
    expect((await h.manager.get(s.id))?.state).toBe('active');
    await h.manager.close();

    const creating = new AbortController();
    h = harness({
      auth: {
        createAttempts: 2,
        retryDelay: 60_000,
        create: () => {
          setImmediate(() => creating.abort());
          throw new Error('first attempt fails');
        },
      },
    });
    await expectCode(
      h.manager.create('site', { id: 'acme', credentials: alice, signal: creating.signal }),
      'ABORTED',
    );
    expect(await h.manager.get('acme')).toBeUndefined();
    expect(h.count('failed')).toBe(0);
  });

  it('a hook throwing a non-Error is a failed attempt; a check returning "yes" is INVALID_HOOK_RESULT', async () => {
    let attempts = 0;
    h = harness({
      auth: {
        createAttempts: 2,
        create: () => {
          attempts++;
          throw 'not an error';
        },
      },
    });
    await expectCode(h.manager.create('site', { credentials: alice }), 'CREATE_FAILED');
    expect(attempts).toBe(2);
    await h.manager.close();

    h = harness({ auth: { createAttempts: 1, check: async () => 'yes' as unknown as boolean } });
    await expectCode(h.manager.create('site', { credentials: alice }), 'INVALID_HOOK_RESULT');
  });

  it('refuses credentials that fail the schema, naming paths and never values', async () => {
    h = harness();
    const err = await expectCode(
      h.manager.create('site', { credentials: { username: 'x-secret-user', password: 42 } }),
      'INVALID_CREDENTIALS',
    );
    expect(err.message).toContain('password');
    expect(err.message).not.toContain('x-secret-user');
    expect(err.message).not.toContain('42');
    const unknown = await expectCode(h.manager.create('nope', { credentials: alice }), 'UNKNOWN_AUTH');
    expect(unknown.message).toContain('"site"');
  });
});

describe('management', () => {
  it('lists by auth, state and labels; deletes', async () => {
    h = harness({ auth: { createAttempts: 1 } });
    const a = await h.manager.create('site', { credentials: alice, labels: { customer: 'acme' } });
    const b = await h.manager.create('site', { credentials: alice, labels: { customer: 'other' } });
    await expectCode(
      h.manager.create('site', { credentials: { username: 'alice', password: 'bad' } }),
      'CREATE_FAILED',
    );
    expect((await h.manager.list({ labels: { customer: 'acme' } })).map((s) => s.id)).toEqual([a.id]);
    expect(await h.manager.list({ state: 'failed' })).toHaveLength(1);
    expect(await h.manager.list({ auth: 'site', state: 'active' })).toHaveLength(2);
    await h.manager.delete(b.id);
    expect(await h.manager.get(b.id)).toBeUndefined();
    await expectCode(h.manager.delete(b.id), 'SESSION_NOT_FOUND');
    await expectCode(
      h.manager.run(b.id, () => 1),
      'SESSION_NOT_FOUND',
    );
    expect(h.count('deleted')).toBe(1);
  });

  it('refuses work after close()', async () => {
    h = harness();
    await h.manager.close();
    await expectCode(h.manager.create('site', { credentials: alice }), 'CLOSED');
  });
});

describe('update without logging in', () => {
  it('changes labels of an expired session without a transition', async () => {
    h = harness({ auth: { createAttempts: 1 } });
    const s = await h.manager.create('site', { credentials: alice });
    h.site.changePassword('alice', 'changed-pw');
    await expectCode(
      h.manager.run(s.id, () => 1),
      'SESSION_EXPIRED',
    );
    const updated = await h.manager.update(s.id, { labels: { team: 'ops' } });
    expect(updated).toMatchObject({ state: 'expired', labels: { team: 'ops' } });
  });
});
