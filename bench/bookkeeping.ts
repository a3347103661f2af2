/**
 * Benchmark 3: the library's bookkeeping per `run()` (fake browser, SQLite store, encryption on) against a
 * raw Keyv get + set of the same record.
 */
import { join } from 'node:path';
import type Keyv from 'keyv';
import { AuthSessionManager, createSqliteStore, type RunTask } from '../src/index.js';
import { FakeBrowserProvider, FakeSite } from '../src/testing/index.js';
import { BENCH_KEY, fakeSiteBenchAuth, tempDir } from './fixtures.js';
import {
  alternate,
  type BenchReport,
  median,
  ms,
  type PairsResult,
  progress,
  quantile,
  ratio,
} from './lib.js';

const RAW_KEY = 'bench/raw-copy';

export interface BookkeepingOptions {
  readonly batches: number;
  readonly perBatch: number;
}

interface Setup {
  readonly store: Keyv;
  readonly manager: AuthSessionManager;
  readonly browser: FakeBrowserProvider;
  readonly id: string;
  readonly close: () => Promise<void>;
}

async function setup(file: string, wal: boolean): Promise<Setup> {
  const site = new FakeSite({ sessionTtlMs: 24 * 3600_000 });
  site.addUser('alice', 'pw-alice-1');
  const browser = new FakeBrowserProvider({ site, maxContexts: 8 });
  // `wal`: the write-ahead log, no fsync on every commit.
  const store = createSqliteStore(file, { wal });
  const manager = new AuthSessionManager({
    auths: [fakeSiteBenchAuth(site, { check: () => true })],
    store,
    key: BENCH_KEY,
    browser,
  });
  const session = await manager.create('bench', {
    credentials: { username: 'alice', password: 'pw-alice-1' },
  });
  // The baseline works on a copy of the session's record (outside the `session/` keys the library lists).
  await store.set(RAW_KEY, await store.get(`session/${session.id}`));
  return {
    store,
    manager,
    browser,
    id: session.id,
    close: async () => {
      await manager.close();
      await browser.close();
      await store.disconnect();
    },
  };
}

export async function benchBookkeeping(options: BookkeepingOptions): Promise<BenchReport> {
  const started = Date.now();
  const tmp = tempDir();
  const plain = await setup(join(tmp.dir, 'sessions.sqlite'), false);
  const wal = await setup(join(tmp.dir, 'sessions-wal.sqlite'), true);
  try {
    /** What a hand-written loop does with its record: read it, write it back changed (the library always changes it). */
    const raw = (s: Setup) => {
      let n = 0;
      return async () => {
        for (let i = 0; i < options.perBatch; i++) {
          const value = (await s.store.get<string>(RAW_KEY)) ?? '';
          // A changed value, as the library writes one (SQLite skips the disk for an identical value).
          await s.store.set(RAW_KEY, value.replace(/"revision":\d+/, `"revision":${n++}`));
        }
      };
    };
    const run =
      (s: Setup, runOptions: { checkInterval?: number } = {}, task: RunTask<unknown> = noop) =>
      async () => {
        for (let i = 0; i < options.perBatch; i++) await s.manager.run(s.id, task, runOptions);
      };
    const common = { pairs: options.batches, warmup: 3, per: options.perBatch };
    progress(`3. bookkeeping: ${options.batches} batch pairs of ${options.perBatch} runs`);
    // The default: a check before every run, its time saved with the record: one read, one conditional write.
    const checked = await alternate({ ...common, a: raw(plain), b: run(plain) });
    // checkInterval: no check, the state unchanged, so nothing is written.
    const interval = await alternate({
      ...common,
      a: raw(plain),
      b: run(plain, { checkInterval: 3600_000 }),
    });
    // The site rolled a cookie during the task: the state is re-sealed and written.
    let n = 0;
    const rolling = await alternate({
      ...common,
      a: raw(plain),
      b: run(plain, { checkInterval: 3600_000 }, async ({ context }) => {
        await context.addCookies([{ name: 'roll', value: `v${n++}`, url: 'https://bench.test' }]);
      }),
    });
    // A store that does not fsync every commit, so the library's CPU work shows.
    const walChecked = await alternate({ ...common, a: raw(wal), b: run(wal) });
    const r = median(checked.ratios);
    const method = [
      'One `AuthSessionManager` over `FakeBrowserProvider` + `FakeSite`, `createSqliteStore()` on a temporary file',
      '(SQLite defaults: rollback journal, an fsync per commit), a random 32-byte key (every secret sealed).',
      '`check` returns `true` without navigating and the task does nothing, so what is timed is the library',
      "itself: read and validate the record, open the state, get the session's warm fake context and page (the",
      'defaults), run the hook under',
      'its timeout, capture and fingerprint the state, write the record (conditional: on SQLite one atomic',
      '`UPDATE … WHERE` the stored record is still the one read; no second read).',
      'Baseline: `keyv.get(key)` then `keyv.set(key, value)` of the same record on the same Keyv, the value',
      "changed (its revision), as the library's is: SQLite skips the disk for an identical value, which would",
      'time a no-op. Also shown: runs with `checkInterval` (no check; the state unchanged, so no write; or a',
      'rolled cookie, so a re-seal and a write), and the same on `createSqliteStore(file, { wal: true })`',
      '(`journal_mode=WAL` + `synchronous=NORMAL`: no fsync per commit), where mostly CPU work is left.',
      `Batches of ${options.perBatch} operations, ${options.batches} batch pairs in alternation (3 discarded).`,
    ].join('\n');
    return {
      id: 3,
      title: 'Library bookkeeping per run vs raw Keyv get+set',
      method,
      seconds: (Date.now() - started) / 1000,
      figures: [
        { item: '3', figure: 'raw Keyv get+set (median)', value: ms(median(checked.a)), target: '' },
        { item: '3', figure: 'run(), check every run (median)', value: ms(median(checked.b)), target: '' },
        {
          item: '3',
          figure: 'ratio run()/raw, check every run (median of pairs)',
          value: spread(checked, r),
          target: '≤ 2×',
          holds: r <= 2,
        },
        {
          item: '3',
          figure: 'ratio with checkInterval, state unchanged (no write)',
          value: `${ratio(median(interval.ratios))} (${ms(median(interval.b))} per run)`,
          target: '',
        },
        {
          item: '3',
          figure: 'ratio with checkInterval, cookie rolled (re-seal + write)',
          value: `${ratio(median(rolling.ratios))} (${ms(median(rolling.b))} per run)`,
          target: '',
        },
        {
          item: '3',
          figure: 'WAL store: ratio run()/raw, check every run',
          value: `${ratio(median(walChecked.ratios))} (${ms(median(walChecked.b))} vs ${ms(median(walChecked.a))})`,
          target: '',
        },
      ],
    };
  } finally {
    await plain.close();
    await wal.close();
    tmp.remove();
  }
}

function spread(result: PairsResult, r: number): string {
  return `${ratio(r)} (p25 ${ratio(quantile(result.ratios, 0.25))}, p75 ${ratio(quantile(result.ratios, 0.75))})`;
}

function noop(): void {}
