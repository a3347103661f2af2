/**
 * A login that never finishes (its process stalled or died) leaves the session `pending`. Another manager
 * over the same store logs it in again with `update`, and the stalled login, should it end after all, must
 * not undo that: neither its clean-up after an abort nor its failure may touch the newer record.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuthSessionManager, createMemoryStore } from '../../src/index.js';
import { FakeBrowserProvider, FakeClock, FakeSite } from '../../src/testing/index.js';
import { managerOver, siteAuth, TEST_KEY } from './helpers.js';

const alice = { username: 'alice', password: 'pw-alice-1' };
const managers: AuthSessionManager[] = [];

afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.close()));
});

function setup() {
  const clock = new FakeClock();
  const site = new FakeSite({ clock, sessionTtlMs: 60 * 60_000 });
  site.addUser('alice', 'pw-alice-1');
  const store = createMemoryStore();
  const browser = new FakeBrowserProvider({ sites: [site], maxContexts: 8 });
  // The stalled login: its create hook waits until told how to end.
  let finish: (how: 'abort' | 'throw') => void = () => {};
  const stalledEnds = new Promise<'abort' | 'throw'>((resolve) => {
    finish = resolve;
  });
  const stalled = new AuthSessionManager({
    auths: [
      siteAuth(site, {
        createAttempts: 1,
        async create() {
          if ((await stalledEnds) === 'throw') throw new Error('the stalled login gave up');
        },
      }),
    ],
    store,
    key: TEST_KEY,
    browser,
    clock,
  });
  const other = managerOver({ site, browser, clock }, { store });
  managers.push(stalled, other);
  return { stalled, other, finish };
}

describe('a login that never finished', () => {
  for (const how of ['abort', 'throw'] as const) {
    it(`leaves the session pending; update() logs it in again; the stalled login ending (${how}) changes nothing`, async () => {
      const { stalled, other, finish } = setup();
      const controller = new AbortController();
      const creating = stalled.create('site', { id: 'acme', credentials: alice, signal: controller.signal });
      creating.catch(() => {});
      await vi.waitFor(async () => expect((await other.get('acme'))?.state).toBe('pending'));

      await expect(other.run('acme', () => 1)).rejects.toMatchObject({ code: 'INVALID_STATE' });
      await expect(other.create('site', { id: 'acme', credentials: alice })).rejects.toMatchObject({
        code: 'SESSION_EXISTS',
      });
      expect((await other.update('acme', { credentials: alice })).state).toBe('active');

      if (how === 'abort') controller.abort();
      finish(how);
      await expect(creating).rejects.toMatchObject({ code: how === 'abort' ? 'ABORTED' : 'CREATE_FAILED' });

      const after = await other.get('acme');
      expect(after?.state).toBe('active');
      expect(await other.run('acme', () => 'ok')).toBe('ok');
    });
  }
});
