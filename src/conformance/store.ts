import type { StoreAdapter } from '../store/contract.js';
import { type ConformanceClock, type ConformanceRunner, eventually, uniqueKey } from './runner.js';

/**
 * One fresh store for one case, as {@link StoreConformanceOptions.makeStore} returns it.
 *
 * @example
 * ```ts
 * const fixture: StoreFixture = { store, connect: () => openAnother(), cleanup: () => dropTable() };
 * ```
 */
export interface StoreFixture {
  /** The store under test, empty (or at least without the keys the cases use). */
  readonly store: StoreAdapter;
  /**
   * Another instance over the same data (its own connection, as another process would have). The
   * concurrency cases race instances made here; without it they race calls on `store`.
   */
  readonly connect?: () => StoreAdapter | Promise<StoreAdapter>;
  /** Closes what `makeStore` and `connect` opened. */
  readonly cleanup?: () => unknown;
}

/**
 * Options of {@link storeConformance}.
 *
 * @example
 * ```ts
 * storeConformance({ describe, it, expect, name: 'my store', makeStore: async () => ({ store: await open() }) });
 * ```
 */
export interface StoreConformanceOptions extends ConformanceRunner {
  /** Name of the suite. @default 'store conformance' */
  readonly name?: string;
  /** A fresh store per case. */
  readonly makeStore: () => StoreFixture | Promise<StoreFixture>;
  /**
   * The clock the store counts TTLs on, when it takes one: the TTL case moves it instead of waiting.
   * Without it the TTL case waits for real (fine where a server's clock decides).
   */
  readonly clock?: ConformanceClock;
  /** Entries the listing case writes under one prefix: choose more than one page of the store. @default 1100 */
  readonly scanSize?: number;
  /** TTL used by the expiry case. @default 300 */
  readonly ttlMs?: number;
  /** Milliseconds each case may take. @default 30000 */
  readonly timeoutMs?: number;
}

/** Values that must come back exactly (escaping traps of serialisers, JSON fields, Lua and SQL). */
const AWKWARD_VALUES = [
  '',
  ' ',
  '{"v":1,"id":"a"}',
  'plain text',
  ':starts with a colon',
  ':base64:AAAA',
  '"quoted"',
  "it's",
  'back\\slash \\" \\\\ \\u0041',
  'line\nbreak\ttab\r',
  'null',
  'undefined',
  '0',
  'ünïcödé — 日本語 — 😀 — \u2028\u2029',
  '{"value":"nested","expires":1}',
  'x'.repeat(70_000),
];

/**
 * Registers the store conformance cases on the given runner: what every {@link StoreAdapter} must do for
 * the session store to keep its promise that no acknowledged write is lost. Runs against the library's own
 * adapters in its test suite; run it against yours the same way.
 *
 * @example
 * ```ts
 * import { describe, expect, it } from 'vitest';
 * import { storeConformance } from 'auth-sessions/conformance';
 *
 * storeConformance({
 *   describe, it, expect,
 *   name: 'my DynamoDB store',
 *   makeStore: async () => {
 *     const table = await createTempTable();
 *     return { store: new DynamoStore(table), cleanup: () => table.drop() };
 *   },
 * });
 * ```
 */
export function storeConformance(options: StoreConformanceOptions): void {
  const { describe, it, expect, makeStore, clock } = options;
  const timeout = options.timeoutMs ?? 30_000;
  const scanSize = options.scanSize ?? 1100;
  const ttlMs = options.ttlMs ?? 300;

  const withStore = (
    name: string,
    fn: (f: StoreFixture, peers: (n: number) => Promise<StoreAdapter[]>) => Promise<void>,
  ) =>
    it(
      name,
      async () => {
        const fixture = await makeStore();
        const peers = async (n: number) =>
          Promise.all(
            Array.from({ length: n }, async () => (fixture.connect ? fixture.connect() : fixture.store)),
          );
        try {
          await fn(fixture, peers);
        } finally {
          await fixture.cleanup?.();
        }
      },
      timeout,
    );

  describe(options.name ?? 'store conformance', () => {
    withStore('reads a missing key as undefined', async ({ store }) => {
      expect(await store.read(uniqueKey('missing'))).toBe(undefined);
    });

    withStore('creates only if absent (expected undefined)', async ({ store }) => {
      const key = uniqueKey('create');
      expect(await store.compareAndSet(key, undefined, 'first')).toBe(true);
      expect(await store.read(key)).toBe('first');
      expect(await store.compareAndSet(key, undefined, 'second')).toBe(false);
      expect(await store.read(key)).toBe('first');
    });

    withStore('lets exactly one of several concurrent creators win', async (_f, peers) => {
      const key = uniqueKey('creators');
      const stores = await peers(10);
      const outcomes = await Promise.all(
        stores.map((s, i) => s.compareAndSet(key, undefined, `creator ${i}`)),
      );
      expect(outcomes.filter(Boolean).length).toBe(1);
      expect(await stores[0]!.read(key)).toBe(`creator ${outcomes.indexOf(true)}`);
    });

    withStore('replaces a value only while it is the expected one', async ({ store }) => {
      const key = uniqueKey('swap');
      await store.compareAndSet(key, undefined, 'a');
      expect(await store.compareAndSet(key, 'a', 'b')).toBe(true);
      expect(await store.read(key)).toBe('b');
      // Lost: the value changed since it was read.
      expect(await store.compareAndSet(key, 'a', 'c')).toBe(false);
      expect(await store.read(key)).toBe('b');
      // Lost: the key is gone.
      const absent = uniqueKey('absent');
      expect(await store.compareAndSet(absent, 'a', 'c')).toBe(false);
      expect(await store.read(absent)).toBe(undefined);
      // A prefix or an extension of the stored value is not the stored value.
      expect(await store.compareAndSet(key, 'b ', 'c')).toBe(false);
      expect(await store.compareAndSet(key, '', 'c')).toBe(false);
      expect(await store.read(key)).toBe('b');
    });

    withStore('deletes unconditionally, saying whether there was a value', async ({ store }) => {
      const key = uniqueKey('delete');
      await store.compareAndSet(key, undefined, 'a');
      expect(await store.delete(key)).toBe(true);
      expect(await store.read(key)).toBe(undefined);
      expect(await store.delete(key)).toBe(false);
      // Gone means gone: it can be created again.
      expect(await store.compareAndSet(key, undefined, 'again')).toBe(true);
    });

    withStore(
      'deletes conditionally (next undefined) only while the value is the expected one',
      async ({ store }) => {
        const key = uniqueKey('delete-if');
        await store.compareAndSet(key, undefined, 'a');
        expect(await store.compareAndSet(key, 'other', undefined)).toBe(false);
        expect(await store.read(key)).toBe('a');
        expect(await store.compareAndSet(key, 'a', undefined)).toBe(true);
        expect(await store.read(key)).toBe(undefined);
        expect(await store.compareAndSet(key, 'a', undefined)).toBe(false);
        expect(await store.compareAndSet(key, undefined, undefined)).toBe(true);
      },
    );

    withStore('writes metadata unconditionally', async ({ store }) => {
      const key = uniqueKey('write');
      await store.write(key, 'one');
      expect(await store.read(key)).toBe('one');
      await store.write(key, 'two');
      expect(await store.read(key)).toBe('two');
      expect(await store.compareAndSet(key, 'two', 'three')).toBe(true);
      expect(await store.read(key)).toBe('three');
    });

    withStore('round-trips awkward values exactly (read, compare-and-set, scan)', async ({ store }) => {
      const prefix = `${uniqueKey('awkward')}/`;
      for (const [i, value] of AWKWARD_VALUES.entries()) {
        const key = `${prefix}${i}`;
        expect(await store.compareAndSet(key, undefined, value)).toBe(true);
        expect(await store.read(key)).toBe(value);
        // The stored value is recognised as the expected one, and replaced by another awkward one.
        const other = AWKWARD_VALUES[(i + 1) % AWKWARD_VALUES.length]!;
        expect(await store.compareAndSet(key, value, other)).toBe(true);
        expect(await store.read(key)).toBe(other);
        expect(await store.compareAndSet(key, other, value)).toBe(true);
      }
      const listed = new Map<string, string>();
      for await (const [key, value] of store.scan(prefix)) listed.set(key, value);
      expect(AWKWARD_VALUES.map((_, i) => listed.get(`${prefix}${i}`))).toEqual(AWKWARD_VALUES);
    });

    withStore('scans every key with the prefix and none without, over several pages', async ({ store }) => {
      const base = uniqueKey('scan');
      const prefix = `${base}/a/`;
      const inside = Array.from({ length: scanSize }, (_, i) => `${prefix}${String(i).padStart(5, '0')}`);
      inside.push(`${prefix}\u00ff-last`, `${prefix}`);
      // Neighbours that share characters with the prefix, or sort right next to its range.
      const outside = [`${base}/a`, `${base}/a0`, `${base}/b/1`, `${base}/`, `${base}`, `x${prefix}1`];
      for (let i = 0; i < inside.length; i += 100) {
        await Promise.all(
          inside.slice(i, i + 100).map((key) => store.compareAndSet(key, undefined, `v:${key}`)),
        );
      }
      for (const key of outside) await store.compareAndSet(key, undefined, 'outside');
      const seen = new Map<string, string>();
      for await (const [key, value] of store.scan(prefix)) seen.set(key, value);
      expect([...seen.keys()].sort()).toEqual([...inside].sort());
      expect([...seen].every(([key, value]) => value === `v:${key}`)).toBe(true);
      // Removed keys are no longer listed.
      await store.delete(inside[0]!);
      let found = false;
      for await (const [key] of store.scan(prefix)) if (key === inside[0]) found = true;
      expect(found).toBe(false);
    });

    withStore(
      'loses no update: many concurrent compare-and-set increments end with the exact count',
      async (_f, peers) => {
        const key = uniqueKey('counter');
        const stores = await peers(8);
        await stores[0]!.compareAndSet(key, undefined, '0');
        const perWorker = 10;
        await Promise.all(
          stores.map(async (s) => {
            for (let done = 0; done < perWorker; ) {
              const current = await s.read(key);
              if (await s.compareAndSet(key, current, String(Number(current) + 1))) done++;
            }
          }),
        );
        expect(await stores[0]!.read(key)).toBe(String(stores.length * perWorker));
      },
    );

    withStore('expires metadata after its TTL, for every method', async ({ store }) => {
      const prefix = `${uniqueKey('ttl')}/`;
      const key = `${prefix}short`;
      const kept = `${prefix}kept`;
      await store.write(key, 'soon gone', ttlMs);
      await store.write(kept, 'stays');
      expect(await store.read(key)).toBe('soon gone');
      if (clock) {
        clock.advance(ttlMs + 1);
        expect(await store.read(key)).toBe(undefined);
      } else {
        expect(await eventually(async () => (await store.read(key)) === undefined, ttlMs + 10_000)).toBe(
          true,
        );
      }
      const listed: string[] = [];
      for await (const [k] of store.scan(prefix)) listed.push(k);
      expect(listed).toEqual([kept]);
      expect(await store.read(kept)).toBe('stays');
      // An expired entry counts as absent: it can be created again, and is not the expected value.
      expect(await store.compareAndSet(key, 'soon gone', 'x')).toBe(false);
      expect(await store.compareAndSet(key, undefined, 'new')).toBe(true);
      expect(await store.read(key)).toBe('new');
    });
  });
}
