/**
 * Benchmark 5: a SQLite store with few sessions against one with many: `get` latency, listing with a filter,
 * and the memory listing takes (it must not grow with the number of sessions).
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type Keyv from 'keyv';
import { storeAdapterFor } from '../src/conformance/index.js';
import { AuthSessionManager, createSqliteStore } from '../src/index.js';
import { keyringAuthenticator } from '../src/session/authenticity.js';
import type { SessionRecord } from '../src/session/record.js';
import { FakeBrowserProvider, FakeSite } from '../src/testing/index.js';
import { Keyring } from '../src/vault/keyring.js';
import { BENCH_KEY, fakeSiteBenchAuth, tempDir } from './fixtures.js';
import {
  alternate,
  type BenchReport,
  gcFunction,
  median,
  mib,
  ms,
  progress,
  quantile,
  ratio,
} from './lib.js';

export interface SqliteBenchOptions {
  readonly small: number;
  readonly large: number;
  readonly getPairs: number;
  readonly getsPerBatch: number;
}

/** Labels `customer: c0 … c99`: a label filter matches 1% of the sessions. */
const CUSTOMERS = 100;

export interface Store {
  readonly keyv: Keyv;
  readonly manager: AuthSessionManager;
  readonly ids: string[];
}

export async function benchSqlite(options: SqliteBenchOptions): Promise<BenchReport> {
  const started = Date.now();
  const gc = gcFunction();
  const tmp = tempDir();
  const site = new FakeSite({ sessionTtlMs: 24 * 3600_000 });
  site.addUser('alice', 'pw-alice-1');
  const browser = new FakeBrowserProvider({ site });
  const auth = fakeSiteBenchAuth(site);
  const open = (file: string): Store => {
    const keyv = createSqliteStore(join(tmp.dir, file));
    return {
      keyv,
      manager: new AuthSessionManager({ auths: [auth], store: keyv, key: BENCH_KEY, browser }),
      ids: [],
    };
  };
  const small = open('small.sqlite');
  const large = open('large.sqlite');
  try {
    // One real session (logged in through the fake site, its secrets sealed) is the template of every record.
    const template = await small.manager.create('bench', {
      id: 'template',
      credentials: { username: 'alice', password: 'pw-alice-1' },
    });
    const raw = String(await small.keyv.get(`session/${template.id}`));
    await small.manager.delete(template.id);
    progress(
      `5. seeding ${options.small.toLocaleString('en')} and ${options.large.toLocaleString('en')} sessions`,
    );
    const seedStarted = performance.now();
    await seed(small, raw, options.small);
    await seed(large, raw, options.large);
    const seedSeconds = (performance.now() - seedStarted) / 1000;

    // get: random ids; both stores read through the same code. The small store's records all fit in the
    // decoded-record cache (1,000), the large one's mostly do not: this favours the small store.
    progress(`5. get: ${options.getPairs} batch pairs of ${options.getsPerBatch}`);
    const getBatch = (s: Store) => async () => {
      for (let i = 0; i < options.getsPerBatch; i++) {
        const id = s.ids[Math.floor(Math.random() * s.ids.length)]!;
        if ((await s.manager.get(id)) === undefined) throw new Error(`missing ${id}`);
      }
    };
    const gets = await alternate({
      pairs: options.getPairs,
      warmup: 3,
      per: options.getsPerBatch,
      a: getBatch(small),
      b: getBatch(large),
    });

    progress('5. listing with a filter');
    const filter = { labels: { customer: 'c7' } };
    const listSmall = await listing(small, filter);
    const listLarge = await listing(large, filter);
    const expected = (n: number) => Math.ceil((n - 7) / CUSTOMERS);
    const listingOk =
      listSmall.matched === expected(options.small) && listLarge.matched === expected(options.large);
    // What the filtered listing reads: the entries the index names (the rest of the store is never read).
    let indexRead = 0;
    for await (const _ of storeAdapterFor(large.keyv).scanWhere!('session/', {
      field: 'label',
      name: 'customer',
      value: 'c7',
    })) {
      indexRead++;
    }
    progress('5. memory kept while listing');
    const every = Math.max(100, Math.floor(options.large / 50));
    const heapSmall = await retained(small.manager.sessions(), gc, Math.min(every, options.small / 4));
    const heapLarge = await retained(large.manager.sessions(), gc, every);
    // Keyv's own SQLite iterator (LIMIT/OFFSET pages, one recursion level per page), for comparison.
    progress("5. Keyv's own SQLite iterator on the large store, for comparison");
    const ours = await timed(large.manager.sessions());
    const keyvIterator = { ms: await timed(keyvEntries(large.keyv)), peakHeap: 0 };
    keyvIterator.peakHeap = await retained(keyvEntries(large.keyv), gc, every);

    const rGet = median(gets.ratios);
    const growth = heapLarge - heapSmall;
    // One page (500 records) is what listing holds; anything near the size of the store would be growth.
    const memoryFlat = heapLarge <= heapSmall + 8 * 2 ** 20;
    const n = (v: number) => v.toLocaleString('en');
    return {
      id: 5,
      title: `${n(options.small)} vs ${n(options.large)} sessions in SQLite`,
      seconds: (Date.now() - started) / 1000,
      method: [
        `Two \`createSqliteStore()\` files seeded with ${n(options.small)} and ${n(options.large)} session records (copies of`,
        'one real sealed record, ids and labels changed), written straight into the table in one transaction',
        `(${seedSeconds.toFixed(1)} s) rather than by logging in ${n(options.large)} times.`,
        options.large < 100_000
          ? `Quick mode uses ${n(options.large)} for the large store; \`--full\` uses 100,000.`
          : '',
        '`get`: `manager.get(id)` of random ids, batches in alternation between the two stores; the small store',
        "fits the library's decoded-record cache (1,000 records) and the large one does not, which favours the",
        'small one. Listing: `manager.sessions({ labels: { customer: "c7" } })` (1% match), timed; memory: what',
        'an unfiltered `manager.sessions()` keeps alive (`heapUsed` after a full GC, sampled 50 times, above the',
        'level before), so garbage not yet collected does not count. The library lists',
        'SQLite with keyset pages on the primary key (`WHERE key > ? ORDER BY key LIMIT 500`); a filter reads',
        "the keys a side table of (label | state | auth, key) names, kept by triggers on the table; Keyv's own",
        '`iterator()` (pages by `LIMIT/OFFSET` and recurses once per page) is shown for comparison.',
      ]
        .filter(Boolean)
        .join('\n'),
      figures: [
        {
          item: '5',
          figure: `get: ${n(options.small)} / ${n(options.large)} sessions (median)`,
          value: `${ms(median(gets.a))} / ${ms(median(gets.b))}`,
          target: '',
        },
        {
          item: '5',
          figure: `get ratio ${n(options.large)}/${n(options.small)} (median of pairs)`,
          value: `${ratio(rGet)} (p75 ${ratio(quantile(gets.ratios, 0.75))})`,
          target: '≤ 2×',
          holds: rGet <= 2,
        },
        {
          item: '5',
          figure: 'list with a label filter (1% match)',
          value: `${ms(listSmall.ms)} / ${ms(listLarge.ms)} (${n(listSmall.matched)} / ${n(listLarge.matched)} found; ${ms((listLarge.ms / options.large) * 1000)} per 1,000 sessions)`,
          target: 'correct',
          holds: listingOk,
        },
        {
          item: '5',
          figure: `records the 1% label filter reads, of ${n(options.large)} (SQLite index)`,
          value: `${n(indexRead)} (${n(listLarge.matched)} found)`,
          target: 'only the matching',
          holds: indexRead === listLarge.matched,
        },
        {
          item: '5',
          figure: 'heap kept while listing (after GC, peak)',
          value: `${mib(heapSmall)} / ${mib(heapLarge)} (growth ${mib(Math.max(0, growth))})`,
          target: 'flat',
          holds: memoryFlat,
        },
        {
          item: '5',
          figure: `every record of ${n(options.large)}: library / Keyv's own iterator (heap kept)`,
          value: `${ms(ours)} / ${ms(keyvIterator.ms)} (${mib(heapLarge)} / ${mib(keyvIterator.peakHeap)})`,
          target: '',
        },
      ],
    };
  } finally {
    await small.manager.close();
    await large.manager.close();
    await small.keyv.disconnect();
    await large.keyv.disconnect();
    await browser.close();
    tmp.remove();
  }
}

/** Writes `count` copies of a record straight into the SQLite table, in one transaction. */
export async function seed(store: Store, raw: string, count: number): Promise<void> {
  const adapter = store.keyv.store as {
    query: (sql: string, ...params: unknown[]) => Promise<unknown[]>;
    opts: { table: string };
  };
  const namespace = store.keyv.namespace;
  const serialize = store.keyv.serialize ?? JSON.stringify;
  const template = JSON.parse(raw) as SessionRecord;
  // Records are authenticated with the key: each copy is signed as the library signs what it writes.
  const signer = keyringAuthenticator(new Keyring({ current: Buffer.from(BENCH_KEY, 'base64') }));
  const rows = 400;
  await adapter.query('BEGIN');
  try {
    for (let start = 0; start < count; start += rows) {
      const values: unknown[] = [];
      for (let i = start; i < Math.min(count, start + rows); i++) {
        const id = `s-${String(i).padStart(7, '0')}`;
        store.ids.push(id);
        const record = signer.sign({
          ...template,
          id,
          labels: { customer: `c${i % CUSTOMERS}`, n: String(i) },
        });
        values.push(`${namespace}:session/${id}`, await serialize({ value: JSON.stringify(record) }));
      }
      const placeholders = Array.from({ length: values.length / 2 }, () => '(?, ?)').join(', ');
      await adapter.query(`INSERT INTO ${adapter.opts.table} (key, value) VALUES ${placeholders}`, ...values);
    }
    await adapter.query('COMMIT');
  } catch (err) {
    await adapter.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

interface Listing {
  readonly ms: number;
  readonly matched: number;
  readonly peakHeap: number;
}

async function timed(items: AsyncIterable<unknown>): Promise<number> {
  const t0 = performance.now();
  for await (const _ of items);
  return performance.now() - t0;
}

function keyvEntries(keyv: Keyv): AsyncIterable<unknown> {
  const iterator = keyv.iterator?.(undefined) as AsyncGenerator<[string, unknown]> | undefined;
  if (!iterator) throw new Error('this Keyv store cannot iterate');
  return iterator;
}

/** Time of a filtered listing, and how many sessions it found. */
async function listing(
  store: Store,
  filter: { labels: Record<string, string> },
): Promise<Omit<Listing, 'peakHeap'>> {
  const t0 = performance.now();
  let matched = 0;
  for await (const _ of store.manager.sessions(filter)) matched++;
  return { ms: performance.now() - t0, matched };
}

/**
 * What an iteration keeps alive: `heapUsed` after a full GC, every `every` items, above its level before
 * (garbage is collected first, so this is retained memory, not allocation).
 */
async function retained(items: AsyncIterable<unknown>, gc: () => void, every: number): Promise<number> {
  gc();
  const base = process.memoryUsage().heapUsed;
  let peak = 0;
  let seen = 0;
  for await (const _ of items) {
    if (++seen % every === 0) {
      gc();
      peak = Math.max(peak, process.memoryUsage().heapUsed - base);
    }
  }
  return peak;
}
