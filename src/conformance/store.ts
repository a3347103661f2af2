import type { IndexTerm, StoreAdapter } from '../store/contract.js';
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
  /**
   * For a store with `scanWhere`: whether its index names exactly the matching records. Otherwise the index
   * cases accept extra entries (the library filters them again) and check only that no match is missing.
   * @default false
   */
  readonly exactIndex?: boolean;
}

/** A value shaped like a session record, as far as the index looks (state, auth, labels). */
function recordText(id: string, state: string, auth: string, labels: Record<string, string>): string {
  return JSON.stringify({ v: 1, id, state, auth, labels, revision: 0, sealed: {} });
}

/** Whether the record text `value` carries `term` (what the library keeps after filtering). */
function carries(value: string, term: IndexTerm): boolean {
  let record: { state?: unknown; auth?: unknown; labels?: Record<string, unknown> };
  try {
    record = JSON.parse(value) as typeof record;
  } catch {
    return false;
  }
  if (typeof record !== 'object' || record === null) return false;
  if (term.field === 'label') {
    const labels = record.labels;
    return typeof labels === 'object' && labels !== null && Object.hasOwn(labels, term.name)
      ? labels[term.name] === term.value
      : false;
  }
  return record[term.field] === term.value;
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

  const exact = options.exactIndex ?? false;
  /** Every entry `scanWhere` yields for `term` under `prefix`, by key (a key yielded twice fails). */
  const listed = async (store: StoreAdapter, prefix: string, term: IndexTerm) => {
    const seen = new Map<string, string>();
    for await (const [key, value] of store.scanWhere!(prefix, term)) {
      expect(seen.has(key) ? `${key} twice` : key).toBe(key);
      seen.set(key, value);
    }
    return seen;
  };
  /** Compares what `scanWhere` yields for each term with what `model` (key → stored text) says matches. */
  const agrees = async (
    store: StoreAdapter,
    prefix: string,
    model: Map<string, string>,
    terms: IndexTerm[],
  ) => {
    for (const term of terms) {
      const seen = await listed(store, prefix, term);
      const matching = [...model].filter(([, value]) => carries(value, term)).map(([key]) => key);
      const found = [...seen.keys()].filter((key) => carries(seen.get(key)!, term));
      // Every match is there, with its stored value; nothing outside the prefix.
      expect({ term, keys: [...found].sort() }).toEqual({ term, keys: [...matching].sort() });
      expect([...seen].every(([key, value]) => key.startsWith(prefix) && model.get(key) === value)).toBe(
        true,
      );
      if (exact)
        expect({ term, keys: [...seen.keys()].sort() }).toEqual({ term, keys: [...matching].sort() });
    }
  };

  const indexCases = () => {
    const odd = 'odd key=with "quotes"';
    const terms: IndexTerm[] = [
      { field: 'state', value: 'active' },
      { field: 'state', value: 'pending' },
      { field: 'state', value: 'expired' },
      { field: 'auth', value: 'crm' },
      { field: 'auth', value: 'mail' },
      { field: 'label', name: 'customer', value: 'acme' },
      { field: 'label', name: 'customer', value: 'globex' },
      { field: 'label', name: 'team', value: 'red' },
      { field: 'label', name: odd, value: 'v=1' },
      // Near misses of the label above: the same characters split elsewhere between name and value.
      { field: 'label', name: 'odd key', value: 'with "quotes"=v=1' },
      { field: 'label', name: `${odd}=v`, value: '1' },
      { field: 'label', name: 'ünï 😀', value: '日本' },
      { field: 'label', name: 'customer', value: 'nobody' },
    ];

    withStore(
      'index (scanWhere): names the matching records after creates, updates and deletes',
      async ({ store }) => {
        if (!store.scanWhere) return;
        const base = uniqueKey('index');
        const prefix = `${base}/`;
        const model = new Map<string, string>();
        const put = async (key: string, value: string | undefined) => {
          expect(await store.compareAndSet(key, model.get(key), value)).toBe(true);
          if (value === undefined) model.delete(key);
          else model.set(key, value);
        };
        await put(`${prefix}a`, recordText('a', 'active', 'crm', { customer: 'acme', team: 'red' }));
        await put(`${prefix}b`, recordText('b', 'pending', 'crm', { customer: 'globex' }));
        await put(`${prefix}c`, recordText('c', 'active', 'mail', { customer: 'acme', [odd]: 'v=1' }));
        await put(`${prefix}d`, recordText('d', 'active', 'mail', { 'ünï 😀': '日本', team: 'red' }));
        await put(`${prefix}e`, recordText('e', 'failed', 'crm', {}));
        // Outside the prefix: never listed.
        for (const key of [`${base}`, `${base}0`, `x${prefix}a`]) {
          expect(
            await store.compareAndSet(key, undefined, recordText('x', 'active', 'crm', { customer: 'acme' })),
          ).toBe(true);
        }
        await agrees(store, prefix, model, terms);

        // Updates move a record between terms; a lost compare-and-set moves nothing.
        await put(`${prefix}a`, recordText('a', 'expired', 'crm', { customer: 'globex', team: 'red' }));
        await put(`${prefix}b`, recordText('b', 'active', 'crm', { customer: 'globex', [odd]: 'v=1' }));
        expect(
          await store.compareAndSet(
            `${prefix}c`,
            'not the stored value',
            recordText('c', 'expired', 'crm', {}),
          ),
        ).toBe(false);
        await agrees(store, prefix, model, terms);

        // Deleted (unconditionally, conditionally) and created again with other terms.
        expect(await store.delete(`${prefix}c`)).toBe(true);
        model.delete(`${prefix}c`);
        await put(`${prefix}d`, undefined);
        await agrees(store, prefix, model, terms);
        await put(`${prefix}c`, recordText('c', 'pending', 'mail', { customer: 'acme' }));
        await agrees(store, prefix, model, terms);
      },
    );

    withStore('index (scanWhere): lists every match over several pages', async ({ store }) => {
      if (!store.scanWhere) return;
      const prefix = `${uniqueKey('index-pages')}/`;
      const model = new Map<string, string>();
      const keys = Array.from({ length: scanSize }, (_, i) => `${prefix}${String(i).padStart(5, '0')}`);
      for (let i = 0; i < keys.length; i += 100) {
        await Promise.all(
          keys.slice(i, i + 100).map(async (key, j) => {
            const n = i + j;
            const value = recordText(key, n % 3 === 0 ? 'pending' : 'active', 'crm', {
              customer: n % 2 === 0 ? 'acme' : 'globex',
            });
            expect(await store.compareAndSet(key, undefined, value)).toBe(true);
            model.set(key, value);
          }),
        );
      }
      await agrees(store, prefix, model, [
        { field: 'label', name: 'customer', value: 'acme' },
        { field: 'state', value: 'active' },
        { field: 'auth', value: 'crm' },
      ]);
    });

    withStore(
      'index (scanWhere): never misses a record it cannot read (a lone surrogate)',
      async ({ store }) => {
        if (!store.scanWhere) return;
        const prefix = `${uniqueKey('index-odd')}/`;
        const key = `${prefix}s`;
        const value = recordText('s', 'active', 'crm', { customer: 'acme', broken: '\ud800 alone' });
        expect(await store.compareAndSet(key, undefined, value)).toBe(true);
        for (const term of [terms[0]!, terms[3]!, terms[5]!]) {
          expect((await listed(store, prefix, term)).get(key)).toBe(value);
        }
      },
    );
  };

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

    indexCases();

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
