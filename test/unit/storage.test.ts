import { EventEmitter } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Keyv from 'keyv';
import { afterEach, describe, expect, it } from 'vitest';
import { AuthSessionManager, createMemoryStore, createSqliteStore } from '../../src/index.js';
import { FakeBrowserProvider, FakeClock, FakeSite } from '../../src/testing/index.js';
import { codeOf } from '../shared.js';
import { siteAuth, TEST_KEY } from './helpers.js';

const PASSWORD = 'canary-PASSWORD-7f3a91';
const creds = { username: 'canary-user', password: PASSWORD };

const dirs: string[] = [];
const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(store: Keyv, key = TEST_KEY, clock = new FakeClock()) {
  const site = new FakeSite({ clock });
  site.addUser('canary-user', PASSWORD);
  const browser = new FakeBrowserProvider({ sites: [site] });
  const manager = new AuthSessionManager({
    auths: [siteAuth(site, { createAttempts: 1 })],
    store,
    key,
    browser,
    clock,
  });
  closers.push(
    () => manager.close(),
    () => browser.close(),
  );
  return { site, browser, manager, clock };
}

describe('SQLite file', () => {
  it('never contains a password, cookie value or token in plain text, base64 or hex', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'as-sqlite-'));
    dirs.push(dir);
    const store = createSqliteStore(join(dir, 'sessions.sqlite'));
    const { manager, browser } = setup(store);
    const s = await manager.create('site', {
      credentials: creds,
      proxy: 'http://proxy-user:proxy-PASS-canary@127.0.0.1:9',
    });
    // the cookies the site set: collect their values from a run
    const cookieValues: string[] = [];
    await manager.run(s.id, async ({ context }) => {
      for (const c of await context.cookies()) cookieValues.push(c.value);
    });
    expect(cookieValues.length).toBeGreaterThan(0);
    await store.disconnect();
    const bytes = Buffer.concat(readdirSync(dir).map((f) => readFileSync(join(dir, f))));
    const canaries = [PASSWORD, 'proxy-PASS-canary', ...cookieValues];
    for (const c of canaries) {
      for (const form of [c, Buffer.from(c).toString('base64'), Buffer.from(c).toString('hex')]) {
        expect(bytes.includes(Buffer.from(form)), `found ${form.length} byte canary`).toBe(false);
      }
    }
    expect(bytes.includes(Buffer.from(s.id))).toBe(true);
    void browser;
  });
});

describe('tampering', () => {
  async function seeded() {
    const store = createMemoryStore();
    const env = setup(store);
    const a = await env.manager.create('site', { credentials: creds });
    const b = await env.manager.create('site', { credentials: creds });
    const raw = async (id: string) => JSON.parse((await store.get<string>(`session/${id}`))!);
    const put = (id: string, value: unknown) =>
      store.set(`session/${id}`, typeof value === 'string' ? value : JSON.stringify(value));
    return { ...env, store, a, b, raw, put };
  }

  it('a wrong key gives KEY_MISMATCH and leaves the record as it was', async () => {
    const { store, a, raw } = await seeded();
    const before = await raw(a.id);
    const other = setup(store, Buffer.alloc(32, 7).toString('base64'));
    expect(await codeOf(other.manager.run(a.id, () => 1))).toBe('KEY_MISMATCH');
    expect(await raw(a.id)).toEqual(before);
  });

  it('a flipped byte in a box, or a box moved to another record, makes the record CORRUPT_RECORD', async () => {
    const { manager, a, b, raw, put } = await seeded();
    const rec = await raw(a.id);
    const box = Buffer.from(rec.sealed.state.box, 'base64');
    box[5] = (box[5] ?? 0) ^ 1;
    await put(a.id, {
      ...rec,
      sealed: { ...rec.sealed, state: { ...rec.sealed.state, box: box.toString('base64') } },
    });
    expect(await codeOf(manager.run(a.id, () => 1))).toBe('CORRUPT_RECORD');

    const recB = await raw(b.id);
    const moved = { ...recB, sealed: { ...recB.sealed, state: (await raw(a.id)).sealed.credentials } };
    await put(b.id, moved);
    expect(await codeOf(manager.run(b.id, () => 1))).toBe('CORRUPT_RECORD');
    expect(await raw(b.id)).toEqual(moved);
  });

  it('a box copied from another record id does not open', async () => {
    const { manager, a, b, raw, put } = await seeded();
    const recA = await raw(a.id);
    const recB = await raw(b.id);
    await put(b.id, { ...recB, sealed: { ...recB.sealed, state: recA.sealed.state } });
    expect(await codeOf(manager.run(b.id, () => 1))).toBe('CORRUPT_RECORD');
  });

  it('clear fields edited without the key make the record CORRUPT_RECORD: renamed auth, changed state or labels', async () => {
    const { manager, site, a, raw, put } = await seeded();
    const logins = site.counters.logins;
    const rec = await raw(a.id);
    for (const edited of [
      { ...rec, auth: 'other-auth' },
      { ...rec, state: 'expired' },
      { ...rec, labels: { customer: 'evil' } },
      { ...rec, generation: rec.generation + 5 },
    ]) {
      await put(a.id, edited);
      expect(await codeOf(manager.get(a.id))).toBe('CORRUPT_RECORD');
      // Never used: no login runs with its credentials, and nothing is written over it.
      expect(await codeOf(manager.run(a.id, () => 1, { forceCheck: true }))).toBe('CORRUPT_RECORD');
      expect(await codeOf(manager.update(a.id, { credentials: creds }))).toBe('CORRUPT_RECORD');
      expect(await raw(a.id)).toEqual(edited);
    }
    expect(site.counters.logins).toBe(logins);
  });

  it('a session whose sealed proxy box was removed is CORRUPT_RECORD, never run without its proxy', async () => {
    const { manager, browser, raw, put } = await seeded();
    const p = await manager.create('site', {
      credentials: creds,
      proxy: 'http://u:proxy-pw@proxy.test:8080',
    });
    const rec = await raw(p.id);
    const { proxy: _proxy, ...sealed } = rec.sealed;
    await put(p.id, { ...rec, sealed });
    const contexts = browser.contexts.length;
    expect(await codeOf(manager.run(p.id, () => 1))).toBe('CORRUPT_RECORD');
    expect(browser.contexts.length).toBe(contexts);
  });

  it('a manager with another key refuses the store at once (KEY_MISMATCH): it lists nothing and creates nothing', async () => {
    const { store, a } = await seeded();
    const other = setup(store, Buffer.alloc(32, 9).toString('base64'));
    expect(await codeOf(other.manager.list())).toBe('KEY_MISMATCH');
    expect(await codeOf(other.manager.create('site', { credentials: creds }))).toBe('KEY_MISMATCH');
    expect(await codeOf(other.manager.update(a.id, { credentials: creds }))).toBe('KEY_MISMATCH');
    // The right key still opens everything.
    const right = setup(store);
    expect((await right.manager.list()).length).toBe(2);
  });

  it('an unknown shape or a __proto__ key gives CORRUPT_RECORD and leaves Object.prototype alone', async () => {
    const { manager, a, raw, put } = await seeded();
    const rec = await raw(a.id);
    await put(a.id, { ...rec, v: 99 });
    expect(await codeOf(manager.run(a.id, () => 1))).toBe('CORRUPT_RECORD');
    expect(await codeOf(manager.get(a.id))).toBe('CORRUPT_RECORD');
    const polluted = JSON.stringify(rec).replace('"labels":{', '"labels":{"__proto__":{"polluted":"yes"},');
    await put(a.id, polluted);
    expect(await codeOf(manager.run(a.id, () => 1))).toBe('CORRUPT_RECORD');
    await put(a.id, `{"__proto__":{"polluted":"yes"},${JSON.stringify(rec).slice(1)}`);
    expect(await codeOf(manager.update(a.id, { labels: { x: 'y' } }))).toBe('CORRUPT_RECORD');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(await codeOf(manager.create('site', { id: a.id, credentials: creds }))).toBe('CORRUPT_RECORD');
  });
});

describe('records of a newer release (rolling upgrade)', () => {
  /** What a newer release would write: fields this one does not know, signed with the shared key. */
  async function newerRecord() {
    const store = createMemoryStore();
    const env = setup(store);
    const s = await env.manager.create('site', { credentials: creds });
    const key = `session/${s.id}`;
    const rec = JSON.parse((await store.get<string>(key))!);
    const newer = {
      ...rec,
      notes: { owner: 'team-a' },
      lease: { id: 'l1', until: '2030-01-01T00:00:00.000Z', holder: 'worker-9' },
      sealed: { ...rec.sealed, totp: rec.sealed.credentials },
    };
    const { keyringAuthenticator } = await import('../../src/session/authenticity.js');
    const { Keyring } = await import('../../src/vault/keyring.js');
    const { mac: _mac, ...unsigned } = newer;
    const signed = keyringAuthenticator(new Keyring({ current: Buffer.from(TEST_KEY, 'base64') })).sign(
      unsigned,
    );
    await store.set(key, JSON.stringify(signed));
    const raw = async () => JSON.parse((await store.get<string>(key))!);
    return { ...env, store, id: s.id, key, raw };
  }

  it('reads, runs and writes them, carrying the fields it does not know through its own writes', async () => {
    const { manager, id, raw } = await newerRecord();
    expect((await manager.get(id))?.state).toBe('active');
    const before = await raw();
    await manager.run(id, () => 1, { forceCheck: true });
    await manager.update(id, { labels: { team: 'a' } });
    const after = await raw();
    expect(after.revision).toBeGreaterThan(before.revision);
    expect(after.labels).toEqual({ team: 'a' });
    expect(after.notes).toEqual({ owner: 'team-a' });
    expect(after.lease.holder).toBe('worker-9');
    expect(after.sealed.totp).toEqual(before.sealed.totp);
    // Still authentic to whoever reads it next (a newer worker checks the same tag over every field).
    expect((await manager.get(id))?.labels).toEqual({ team: 'a' });
  });

  it('a field added without the key is still refused (CORRUPT_RECORD)', async () => {
    const { manager, store, id, key, raw } = await newerRecord();
    await store.set(key, JSON.stringify({ ...(await raw()), injected: true }));
    expect(await codeOf(manager.get(id))).toBe('CORRUPT_RECORD');
  });

  it('a record of a newer layout version says to upgrade, and is left as it was', async () => {
    const { manager, store, id, key, raw } = await newerRecord();
    const v2 = JSON.stringify({ ...(await raw()), v: 2 });
    await store.set(key, v2);
    const err = await manager.get(id).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CORRUPT_RECORD', message: expect.stringContaining('newer release') });
    expect(await store.get(key)).toBe(v2);
  });
});

describe('a failing store', () => {
  class BrokenStore extends EventEmitter {
    mode: 'ok' | 'throw' | 'hang' | 'emit' = 'ok';
    readonly data = new Map<string, unknown>();
    writes = 0;
    async #gate<T>(fn: () => T): Promise<T | undefined> {
      if (this.mode === 'throw') throw new Error('connection lost');
      if (this.mode === 'hang') return new Promise<never>(() => {});
      if (this.mode === 'emit') {
        this.emit('error', new Error('connection lost'));
        return undefined;
      }
      return fn();
    }
    get(key: string) {
      return this.#gate(() => this.data.get(key));
    }
    set(key: string, value: unknown) {
      return this.#gate(() => {
        this.writes++;
        this.data.set(key, value);
        return true;
      });
    }
    delete(key: string) {
      return this.#gate(() => this.data.delete(key));
    }
    clear() {
      return this.#gate(() => this.data.clear());
    }
  }

  for (const mode of ['throw', 'hang', 'emit'] as const) {
    it(`${mode}: STORAGE_UNAVAILABLE, nothing overwritten, no unhandled error`, async () => {
      const broken = new BrokenStore();
      const clock = new FakeClock();
      const keyv = new Keyv({ store: broken });
      const { manager } = setup(keyv, TEST_KEY, clock);
      const s = await manager.create('site', { credentials: creds });
      const snapshot = new Map(broken.data);
      const writes = broken.writes;
      broken.mode = mode;
      const calls = [
        manager.run(s.id, () => 1),
        manager.get(s.id),
        manager.update(s.id, { labels: { a: 'b' } }),
      ];
      if (mode === 'hang') {
        for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
        clock.advance(10_000);
      }
      for (const c of calls) expect(await codeOf(c)).toBe('STORAGE_UNAVAILABLE');
      expect(broken.writes).toBe(writes);
      expect(broken.data).toEqual(snapshot);
      broken.mode = 'ok';
      // The history write-behind also met the hanging store: let its store timeout fire too.
      if (mode === 'hang') await clock.advanceAsync(10_000);
      expect(await manager.run(s.id, () => 'back')).toBe('back');
    });
  }
});
