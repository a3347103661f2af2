import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuthSessionManager, createMemoryStore } from '../../src/index.js';
import { keyringAuthenticator } from '../../src/session/authenticity.js';
import type { SessionRecord } from '../../src/session/record.js';
import { FakeBrowserProvider, FakeClock, FakeSite } from '../../src/testing/index.js';
import { Keyring } from '../../src/vault/keyring.js';
import { deferred, expectCode } from '../shared.js';
import { type Harness, harness, managerOver, siteAuth, TEST_KEY } from './helpers.js';

// Writes made while another write is under way for the same session: each of these lost an acknowledged
// write (or left the session stuck) before every write became a change of the latest record.

const alice = { username: 'alice', password: 'pw-alice-1' };
let h: Harness | undefined;

afterEach(async () => {
  await h?.manager.close();
  await h?.browser.close();
  h = undefined;
});

/**
 * A harness whose login hook can be held: `hold()` makes the next login wait at the gate until `release()`,
 * and tells when it got there. Every login records the password it used.
 */
function gatedHarness() {
  const passwords: string[] = [];
  let gate:
    | { entered: ReturnType<typeof deferred<void>>; open: ReturnType<typeof deferred<void>> }
    | undefined;
  const clock = new FakeClock();
  const site = new FakeSite({ clock, sessionTtlMs: 60 * 60_000 });
  site.addUser('alice', 'pw-alice-1');
  const base = siteAuth(site);
  const auth = {
    ...base,
    async create(ctx: Parameters<typeof base.create>[0]) {
      passwords.push(ctx.credentials.password);
      const held = gate;
      if (held) {
        gate = undefined;
        held.entered.resolve();
        await held.open.promise;
      }
      await base.create(ctx);
    },
  };
  const browser = new FakeBrowserProvider({ sites: [site], maxContexts: 64 });
  const manager = new AuthSessionManager({
    auths: [auth],
    store: createMemoryStore(),
    key: TEST_KEY,
    browser,
    clock,
  });
  const harnessed: Harness = {
    site,
    clock,
    browser,
    manager,
    events: [],
    count: () => 0,
  };
  h = harnessed;
  return {
    ...harnessed,
    passwords,
    /** The next login waits at the gate; resolves once it got there. */
    hold() {
      const entered = deferred<void>();
      const open = deferred<void>();
      gate = { entered, open };
      return { entered: entered.promise, release: () => open.resolve() };
    },
  };
}

describe('writes racing a refresh', () => {
  it('update(labels, proxy) during a refresh is kept when the refresh ends', async () => {
    const g = gatedHarness();
    const s = await g.manager.create('site', { credentials: alice, labels: { team: 'old' } });
    g.site.expireSessions();
    const gate = g.hold();
    const running = g.manager.run(s.id, () => 'done');
    await gate.entered;
    const updated = await g.manager.update(s.id, {
      labels: { team: 'new' },
      proxy: 'http://proxy.test:8080',
    });
    expect(updated.labels).toEqual({ team: 'new' });
    gate.release();
    expect(await running).toBe('done');
    const after = await g.manager.get(s.id);
    expect(after).toMatchObject({
      state: 'active',
      labels: { team: 'new' },
      proxy: { server: 'http://proxy.test:8080' },
    });
  });

  it('update(credentials) during a refresh: the new credentials survive and are used from then on', async () => {
    const g = gatedHarness();
    const s = await g.manager.create('site', { credentials: alice });
    g.site.changePassword('alice', 'pw-alice-2');
    g.site.expireSessions();
    // The refresh logs in with the old password, and is held.
    const refreshGate = g.hold();
    const running = g.manager.run(s.id, () => 'done');
    await refreshGate.entered;
    // The update's login with the new password is held too, while the refresh ends (it fails at the site).
    const updateGate = g.hold();
    const updating = g.manager.update(s.id, { credentials: { username: 'alice', password: 'pw-alice-2' } });
    await updateGate.entered;
    refreshGate.release();
    // The refresh neither expires the session nor writes its stale copy: a login is under way.
    await expectCode(running, 'INVALID_STATE');
    updateGate.release();
    expect((await updating).state).toBe('active');
    expect((await g.manager.get(s.id))?.state).toBe('active');
    // The next refresh logs in with the new password.
    g.site.expireSessions();
    expect(await g.manager.run(s.id, () => 'again')).toBe('again');
    expect(g.passwords.at(-1)).toBe('pw-alice-2');
    expect((await g.manager.get(s.id))?.state).toBe('active');
  });
});

describe('writes racing a login', () => {
  it('update(labels) while update(credentials) waits for a one-time code: both land, the session ends active', async () => {
    h = harness({
      auth: {
        async create({ page, credentials, requestInput }) {
          const code = await requestInput({ kind: 'otp', message: 'Code?' });
          expect(code).toBe('123456');
          await page.goto(`${h!.site.origin}/login`);
          await page.fill('#username', credentials.username);
          await page.fill('#password', credentials.password);
          await page.click('#login');
          await page.waitForURL(/\/account$/, { timeout: 1000 });
        },
      },
    });
    const s = await h.manager.create('site', { credentials: alice, onInput: async () => '123456' });
    const asked = deferred<void>();
    const answer = deferred<string>();
    const updating = h.manager.update(s.id, {
      credentials: alice,
      onInput: async () => {
        asked.resolve();
        return answer.promise;
      },
    });
    await asked.promise;
    expect((await h.manager.get(s.id))?.state).toBe('pending');
    const labelled = await h.manager.update(s.id, { labels: { tier: 'gold' } });
    expect(labelled.labels).toEqual({ tier: 'gold' });
    answer.resolve('123456');
    expect(await updating).toMatchObject({ state: 'active', labels: { tier: 'gold' } });
    expect(await h.manager.get(s.id)).toMatchObject({ state: 'active', labels: { tier: 'gold' } });
  });

  it('two concurrent create() with one id: exactly one wins, the other is SESSION_EXISTS', async () => {
    h = harness();
    const results = await Promise.allSettled([
      h.manager.create('site', { id: 'same', credentials: alice, labels: { n: '1' } }),
      h.manager.create('site', { id: 'same', credentials: alice, labels: { n: '2' } }),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect((lost[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'SESSION_EXISTS' });
    const winner = (won[0] as PromiseFulfilledResult<{ labels: Record<string, string> }>).value;
    expect((await h.manager.get('same'))?.labels).toEqual(winner.labels);
  });
});

describe('rotateKey beside other writers', () => {
  it('re-seals a record written between its read and its write; afterwards it opens with the new key alone', async () => {
    const clock = new FakeClock();
    const site = new FakeSite({ clock, sessionTtlMs: 60 * 60_000 });
    site.addUser('alice', 'pw-alice-1');
    const store = createMemoryStore();
    const browser = new FakeBrowserProvider({ sites: [site], maxContexts: 64 });
    const oldKey = TEST_KEY;
    const newKey = randomBytes(32).toString('base64');
    const first = managerOver({ site, browser, clock }, { store, key: oldKey });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await first.create('site', { credentials: alice })).id);
    await first.close();
    const rotating = managerOver(
      { site, browser, clock },
      { store, key: { current: newKey, previous: [oldKey] } },
    );
    // Another process writes the second session (a label) while the rotation is between reading it and
    // writing it back re-sealed: exactly when it opens the old box.
    const racedId = ids[1]!;
    const map = store.store as Map<string, string>;
    const mapKey = `auth-sessions:session/${racedId}`;
    let armed = true;
    const otherWorker = keyringAuthenticator(new Keyring({ current: Buffer.from(oldKey, 'base64') }));
    const open = Keyring.prototype.open;
    const spy = vi.spyOn(Keyring.prototype, 'open').mockImplementation(function (
      this: Keyring,
      id,
      field,
      box,
    ) {
      if (armed && id === racedId) {
        armed = false;
        const entry = JSON.parse(map.get(mapKey)!) as { value: string };
        const record = JSON.parse(entry.value) as SessionRecord;
        record.revision += 1;
        record.labels = { raced: 'yes' };
        // The other process holds the key: its write is authentic.
        const signed = otherWorker.sign(record);
        map.set(mapKey, JSON.stringify({ value: JSON.stringify(signed) }));
      }
      return open.call(this, id, field, box);
    });
    try {
      expect(await rotating.rotateKey()).toEqual({ resealed: ids.length, current: 0, failed: 0 });
    } finally {
      spy.mockRestore();
    }
    expect(armed).toBe(false);
    // The other writer's label is kept, and the record opens with the new key alone.
    expect((await rotating.get(racedId))?.labels).toEqual({ raced: 'yes' });
    await rotating.close();
    const onlyNew = managerOver({ site, browser, clock }, { store, key: newKey });
    for (const id of ids) expect(await onlyNew.run(id, () => id, { forceCheck: true })).toBe(id);
    expect(await onlyNew.rotateKey()).toEqual({ resealed: 0, current: ids.length, failed: 0 });
    await onlyNew.close();
    await browser.close();
  });
});

describe('delete', () => {
  it('a run that ends after delete() does not write the history again', async () => {
    h = harness();
    const s = await h.manager.create('site', { id: 'reused', credentials: alice });
    const inTask = deferred<void>();
    const finish = deferred<void>();
    const running = h.manager.run(s.id, async () => {
      inTask.resolve();
      await finish.promise;
      return 'late';
    });
    await inTask.promise;
    await h.manager.delete(s.id);
    finish.resolve();
    expect(await running).toBe('late');
    await h.manager.flushHistory();
    expect(await h.manager.get(s.id)).toBeUndefined();
    expect(await h.manager.history(s.id)).toEqual([]);
    // The id used again starts with an empty history.
    await h.manager.create('site', { id: 'reused', credentials: alice });
    await h.manager.flushHistory();
    expect((await h.manager.history('reused')).map((e) => e.kind)).toEqual(['create']);
  });

  it('removes a record that cannot be read, so the id can be used again', async () => {
    const store = createMemoryStore();
    h = harness({ store });
    await store.set('session/broken', '{"v":1,"id":"broken","__proto__":{}}');
    await expectCode(h.manager.get('broken'), 'CORRUPT_RECORD');
    await h.manager.delete('broken');
    expect(await h.manager.get('broken')).toBeUndefined();
    await expectCode(h.manager.delete('broken'), 'SESSION_NOT_FOUND');
    const again = await h.manager.create('site', { id: 'broken', credentials: alice });
    expect(again.state).toBe('active');
  });
});
