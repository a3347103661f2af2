/**
 * The store adapters over Keyv: the Keyv a user passes in is left as it was, entries keep Keyv's format in
 * both directions, and a store that only emits its errors still fails the call.
 */
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Keyv from 'keyv';
import { afterEach, describe, expect, it } from 'vitest';
import { createSqliteStore } from '../../src/store/default-store.js';
import { storeAdapterFor } from '../../src/store/registry.js';
import { SessionStore } from '../../src/store/session-store.js';
import { FakeClock } from '../../src/testing/index.js';
import { codeOf } from '../shared.js';

const dirs: string[] = [];
const keyvs: Keyv[] = [];
afterEach(async () => {
  for (const k of keyvs.splice(0)) await k.disconnect();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function sqlite(): Keyv {
  const dir = mkdtempSync(join(tmpdir(), 'as-adapters-'));
  dirs.push(dir);
  const keyv = createSqliteStore(join(dir, 's.sqlite'));
  keyvs.push(keyv);
  return keyv;
}

/** An async Map-like Keyv storage adapter: the fallback runs over it. */
class EmittingAdapter extends EventEmitter {
  readonly data = new Map<string, unknown>();
  failing = false;
  async get(key: string) {
    if (this.failing) {
      this.emit('error', new Error('connection lost'));
      return undefined;
    }
    return this.data.get(key);
  }
  async set(key: string, value: unknown) {
    this.data.set(key, value);
    return true;
  }
  async delete(key: string) {
    return this.data.delete(key);
  }
  async clear() {
    this.data.clear();
  }
}

describe('the Keyv passed in', () => {
  for (const [name, make] of [
    ['memory', () => new Keyv()],
    ['SQLite', sqlite],
    ['another store (fallback)', () => new Keyv({ store: new EmittingAdapter() })],
  ] as const) {
    it(`${name}: no option set, no listener left behind`, async () => {
      const keyv = make();
      const listeners = keyv.listeners('error').length;
      const sessions = new SessionStore(keyv);
      await sessions.setMeta('x', { a: 1 });
      expect(await sessions.getMeta('x')).toEqual({ a: 1 });
      expect(keyv.throwOnErrors).toBe(false);
      expect(keyv.listeners('error').length).toBe(listeners);
    });

    it(`${name}: Keyv reads what the adapter wrote, and the adapter what Keyv wrote`, async () => {
      const keyv = make();
      const store = storeAdapterFor(keyv);
      const awkward = ':colon "quotes" \\ ünïcödé 😀';
      expect(await store.compareAndSet('k/1', undefined, awkward)).toBe(true);
      expect(await keyv.get('k/1')).toBe(awkward);
      await keyv.set('k/2', awkward);
      expect(await store.read('k/2')).toBe(awkward);
      expect(await store.compareAndSet('k/2', awkward, 'next')).toBe(true);
      expect(await keyv.get('k/2')).toBe('next');
      await store.write('k/3', 'with ttl', 60_000);
      expect(await keyv.get('k/3')).toBe('with ttl');
    });
  }

  it('fallback: an error the storage adapter only emits fails the call, and the listener goes away', async () => {
    const adapter = new EmittingAdapter();
    const keyv = new Keyv({ store: adapter });
    const sessions = new SessionStore(keyv);
    await sessions.setMeta('x', 1);
    adapter.failing = true;
    expect(await codeOf(sessions.getMeta('x'))).toBe('STORAGE_UNAVAILABLE');
    expect(keyv.listeners('error').length).toBe(0);
    expect(storeAdapterFor(keyv).atomic).toBe(false);
  });
});

describe('claimMeta: a meta value created only if absent, with a TTL', () => {
  for (const [name, make] of [
    ['memory', () => new Keyv()],
    ['SQLite', sqlite],
    ['another store (fallback)', () => new Keyv({ store: new EmittingAdapter() })],
  ] as const) {
    it(`${name}: one claim of many wins, the value stays the winner's until its TTL passes`, async () => {
      const clock = new FakeClock();
      const sessions = new SessionStore(make(), { clock });
      const results = await Promise.all(
        ['a', 'b', 'c'].map((by) => sessions.claimMeta('claims/1', { by }, 60_000)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = ['a', 'b', 'c'][results.indexOf(true)];
      expect(await sessions.claimMeta('claims/1', { by: 'late' }, 60_000)).toBe(false);
      clock.advance(60_000);
      expect(await sessions.getMeta('claims/1')).toEqual({ by: winner });
      clock.advance(1);
      expect(await sessions.getMeta('claims/1')).toBeUndefined();
      expect(await sessions.claimMeta('claims/1', { by: 'next' })).toBe(true);
      expect(await sessions.getMeta('claims/1')).toEqual({ by: 'next' });
    });
  }
});
