/**
 * The conformance suites against the in-process implementations: the memory, SQLite and fallback store
 * adapters, and LocalLock, all on a fake clock.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Keyv from 'keyv';
import { describe, expect, it } from 'vitest';
import { lockConformance, storeConformance } from '../../src/conformance/index.js';
import { LocalLock } from '../../src/lock/lock.js';
import { createSqliteStore } from '../../src/store/default-store.js';
import { storeAdapterFor } from '../../src/store/registry.js';
import { FakeClock } from '../../src/testing/index.js';

const clock = new FakeClock();

storeConformance({
  describe,
  it,
  expect,
  clock,
  name: 'memory (new Keyv())',
  makeStore: () => {
    const keyv = new Keyv({ namespace: 'conformance' });
    return { store: storeAdapterFor(keyv, { clock }), connect: () => storeAdapterFor(keyv, { clock }) };
  },
});

storeConformance({
  describe,
  it,
  expect,
  clock,
  name: 'SQLite (@keyv/sqlite, a temporary file, one connection per instance)',
  exactIndex: true,
  // Pages of 100 rows: the listing case crosses several without writing a thousand rows to a file.
  scanSize: 250,
  makeStore: () => {
    const dir = mkdtempSync(join(tmpdir(), 'as-conformance-'));
    const file = join(dir, 'sessions.sqlite');
    const opened: Keyv[] = [];
    const open = () => {
      const keyv = createSqliteStore(file, { iterationLimit: 100 });
      opened.push(keyv);
      return storeAdapterFor(keyv, { clock });
    };
    return {
      store: open(),
      connect: open,
      cleanup: async () => {
        await Promise.all(opened.map((k) => k.disconnect()));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});

/**
 * A Keyv storage adapter the library has no atomic adapter for: a Map behind asynchronous calls, with an
 * iterator (as Keyv's iterable adapters have), so the check-then-write fallback is what runs.
 */
class MapLikeAdapter {
  readonly data = new Map<string, unknown>();
  namespace?: string;
  async get(key: string) {
    await Promise.resolve();
    return this.data.get(key);
  }
  async set(key: string, value: unknown) {
    await Promise.resolve();
    this.data.set(key, value);
    return true;
  }
  async delete(key: string) {
    await Promise.resolve();
    return this.data.delete(key);
  }
  async clear() {
    this.data.clear();
  }
  async *iterator(): AsyncGenerator<[string, unknown]> {
    for (const entry of this.data) yield entry;
  }
  on() {
    return this;
  }
}

storeConformance({
  describe,
  it,
  expect,
  clock,
  name: 'fallback (a Keyv over a custom Map-like adapter)',
  makeStore: () => {
    const keyv = new Keyv({ store: new MapLikeAdapter(), namespace: 'conformance' });
    const store = storeAdapterFor(keyv, { clock });
    return { store, connect: () => storeAdapterFor(keyv, { clock }) };
  },
});

describe('which adapter a Keyv gets', () => {
  it('atomic for memory and SQLite, the fallback (not atomic) for any other store', async () => {
    expect(storeAdapterFor(new Keyv()).atomic).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'as-conformance-'));
    const sqlite = createSqliteStore(join(dir, 's.sqlite'));
    expect(storeAdapterFor(sqlite).atomic).toBe(true);
    await sqlite.disconnect();
    rmSync(dir, { recursive: true, force: true });
    expect(storeAdapterFor(new Keyv({ store: new MapLikeAdapter() })).atomic).toBe(false);
  });
});

lockConformance({
  describe,
  it,
  expect,
  clock,
  name: 'LocalLock',
  makeLock: () => ({ lock: new LocalLock({ clock }) }),
});
