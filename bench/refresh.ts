/**
 * Benchmark 4: 1,000 concurrent `run()` calls on one expired session (fake browser): how many refreshes,
 * and how long the callers wait for the renewed session compared with one refresh.
 */
import { performance } from 'node:perf_hooks';
import {
  AuthSessionManager,
  type BrowserProvider,
  type ContextLease,
  type ContextRequest,
  createMemoryStore,
} from '../src/index.js';
import { FakeBrowserProvider, FakeSite } from '../src/testing/index.js';
import { BENCH_KEY, fakeSiteBenchAuth } from './fixtures.js';
import { type BenchReport, median, ms, progress, quantile, ratio } from './lib.js';

export interface RefreshBenchOptions {
  /** Concurrent runs. */
  readonly runs: number;
  /** What the create hook waits, on top of the fake login, to make a refresh take a realistic time. */
  readonly refreshMs: number;
  /** Rounds (each: expire the session, start every run at once). */
  readonly rounds: number;
}

interface Round {
  readonly refreshes: number;
  readonly logins: number;
  readonly failed: number;
  /** Wall time of the one refresh: from the first failed check to the `refreshed` event. */
  readonly refreshMs: number;
  /** Per caller: from the refresh starting to the renewed session reaching the caller. */
  readonly waits: number[];
  /** Per run: from the call to the moment its task starts. */
  readonly latencies: number[];
  readonly wallMs: number;
}

/**
 * Delegates to the fake and notes when contexts are asked for after the refresh. Each caller asks for exactly
 * one then (the renewed session needs no check), the moment the renewed session has reached it: these times
 * are the callers' waits, without tagging callers (AsyncLocalStorage would slow every promise down).
 */
class TimedProvider implements BrowserProvider {
  refreshedAt = Number.POSITIVE_INFINITY;
  readonly renewed: number[] = [];
  constructor(readonly inner: BrowserProvider) {}
  newContext(request: ContextRequest): Promise<ContextLease> {
    const now = performance.now();
    if (now >= this.refreshedAt) this.renewed.push(now);
    return this.inner.newContext(request);
  }
  stats() {
    return this.inner.stats();
  }
  close() {
    return this.inner.close();
  }
}

export async function benchRefresh(options: RefreshBenchOptions): Promise<BenchReport> {
  const started = Date.now();
  progress('4. one refresh alone');
  const alone = await round({ ...options, runs: 1 });
  const rounds: Round[] = [];
  for (let i = 0; i < options.rounds; i++) {
    progress(`4. ${options.runs} concurrent runs on an expired session, round ${i + 1}/${options.rounds}`);
    rounds.push(await round(options));
  }
  const all = (pick: (r: Round) => number[]) => rounds.flatMap(pick);
  const refreshMs = median(rounds.map((r) => r.refreshMs));
  const waits = all((r) => r.waits);
  const p99Wait = quantile(waits, 0.99);
  // Ratios round by round (each round's waits against that round's refresh), then their median.
  const roundRatios = rounds.map((r) => quantile(r.waits, 0.99) / r.refreshMs);
  const waitRatio = median(roundRatios);
  const latencies = all((r) => r.latencies);
  const p99Latency = quantile(latencies, 0.99);
  const refreshes = rounds.map((r) => r.refreshes);
  const oneRefresh = refreshes.every((n) => n === 1) && rounds.every((r) => r.logins === 1);
  const failed = rounds.reduce((n, r) => n + r.failed, 0);
  const waited = rounds.reduce((n, r) => n + r.waits.length, 0);
  return {
    id: 4,
    title: `${options.runs.toLocaleString('en')} concurrent runs on one expired session`,
    seconds: (Date.now() - started) / 1000,
    method: [
      '`FakeBrowserProvider` (64 contexts at once) over a `FakeSite` whose sessions were all just expired, a memory',
      "store, `warmContexts: false` (a context per run, so each caller's wait can be seen),",
      `the system clock. The \`create\` hook logs in through the site's form and then waits ${options.refreshMs} ms,`,
      `so one refresh takes a realistic, known time. ${options.runs} \`run()\` calls start at once; the first checks`,
      'find the session logged out and start the refresh; every other caller waits for that one refresh (callers',
      'still queued for a browser slot stop queueing and wait for it too). Refreshes are counted by `refreshed`',
      "events and by the site's login counter. _One refresh_: from the first failed check to the `refreshed` event",
      'in the same round (the event loop is shared with the 1,000 callers, so it is longer than the same refresh',
      'alone, also shown). _Wait_: per caller, from the refresh starting to the renewed session reaching it, seen',
      'as the one browser context each caller asks for after the refresh (every caller was called before the',
      "refresh started). _Latency_: from the call to the task starting, which also holds the callers' own work",
      '(reading the record, a fake context, the check, and after the refresh a context for the task, 64 at a',
      'time) on one event loop.',
      `${options.rounds} rounds.`,
    ].join('\n'),
    figures: [
      {
        item: '4',
        figure: 'refreshes per round (site logins)',
        value: `${refreshes.join(', ')} (${rounds.map((r) => r.logins).join(', ')}); ${failed} of ${options.runs * options.rounds} runs failed`,
        target: '1, all succeed',
        holds: oneRefresh && failed === 0,
      },
      {
        item: '4',
        figure: 'one refresh: in the round (median) / alone',
        value: `${ms(refreshMs)} / ${ms(alone.refreshMs)}`,
        target: '',
      },
      {
        item: '4',
        figure: 'p99 wait for the renewed session / one refresh (median of rounds)',
        value: `${ratio(waitRatio)} (rounds: ${roundRatios.map(ratio).join(', ')}; p99 ${ms(p99Wait)}, median ${ms(median(waits))}, ${waited} callers)`,
        target: '≤ 1.2×',
        holds: waitRatio <= 1.2 && waited === options.runs * options.rounds,
      },
      {
        item: '4',
        figure: 'latency call → task: p50 / p99',
        value: `${ms(median(latencies))} / ${ms(p99Latency)} (p99 = ${ratio(p99Latency / refreshMs)} one refresh)`,
        target: '',
      },
      {
        item: '4',
        figure: 'all runs done (median of rounds)',
        value: ms(median(rounds.map((r) => r.wallMs))),
        target: '',
      },
    ],
  };
}

async function round(options: RefreshBenchOptions): Promise<Round> {
  const site = new FakeSite({ sessionTtlMs: 24 * 3600_000 });
  site.addUser('alice', 'pw-alice-1');
  const fake = new FakeBrowserProvider({ site, maxContexts: 64 });
  const browser = new TimedProvider(fake);
  const manager = new AuthSessionManager({
    auths: [fakeSiteBenchAuth(site, { createDelayMs: options.refreshMs })],
    store: createMemoryStore(),
    key: BENCH_KEY,
    browser,
    // A context per run: the wait is seen as the context each caller asks for after the refresh.
    warmContexts: false,
  });
  try {
    const session = await manager.create('bench', {
      credentials: { username: 'alice', password: 'pw-alice-1' },
    });
    site.expireSessions();
    const logins = site.counters.logins;
    let refreshes = 0;
    let refreshStart = Number.POSITIVE_INFINITY;
    manager.on('checked', (e) => {
      if (!e.ok) refreshStart = Math.min(refreshStart, performance.now());
    });
    let refreshedAt = Number.NaN;
    manager.on('refreshed', () => {
      refreshes++;
      refreshedAt = performance.now();
      browser.refreshedAt = refreshedAt;
    });
    const t0 = performance.now();
    const starts: number[] = [];
    const settled = await Promise.allSettled(
      Array.from({ length: options.runs }, () =>
        manager.run(session.id, () => {
          starts.push(performance.now());
          return undefined;
        }),
      ),
    );
    const wallMs = performance.now() - t0;
    const latencies = starts.map((t) => t - t0);
    const waits = browser.renewed.map((t) => t - refreshStart);
    return {
      refreshes,
      logins: site.counters.logins - logins,
      failed: settled.filter((s) => s.status === 'rejected').length,
      refreshMs: refreshedAt - refreshStart,
      waits,
      latencies,
      wallMs,
    };
  } finally {
    await manager.close();
    await browser.close();
  }
}
