/**
 * Benchmark 6, in real Chromium against the demo site's heavy page (a few MB of script, dozens of requests):
 * 5 and 50 concurrent `manager.run()` on one session with the defaults (and `checkInterval`), against the same
 * tasks run by hand in one warm, logged-in context with the same page budget (4 pages, each reused).
 */
import { join } from 'node:path';
import type Keyv from 'keyv';
import type { Browser, BrowserContextOptions, Page } from 'playwright-core';
import { HEAVY_BUNDLE_BYTES, HEAVY_BUNDLES, HEAVY_REQUESTS } from '../examples/demo-site/heavy.js';
import { startDemoSite } from '../examples/demo-site/server.js';
import { AuthSessionManager, ChromiumProvider, createSqliteStore } from '../src/index.js';
import { BENCH_KEY, DEMO_ALICE, demoAuth, demoLogin, tempDir } from './fixtures.js';
import { alternate, type BenchReport, median, ms, progress, ratio } from './lib.js';

export interface ConcurrencyBenchOptions {
  /** Rounds (pairs) of 5 concurrent runs. */
  readonly rounds5: number;
  /** Rounds (pairs) of 50 concurrent runs. */
  readonly rounds50: number;
}

/** The library's default page budget per warm context (`warmContexts.pagesPerContext`). */
const PAGES = 4;

/** Opens the heavy page and reads the signed-in user once its scripts and requests are done. */
async function heavyTask(page: Page, url: string): Promise<string | null> {
  await page.goto(`${url}/heavy`);
  await page.waitForSelector('#ready', { timeout: 60_000 });
  return page.textContent('#user');
}

export async function benchConcurrency(options: ConcurrencyBenchOptions): Promise<BenchReport> {
  const started = Date.now();
  const tmp = tempDir();
  const site = await startDemoSite({ sessionTtlSeconds: 24 * 3600 });
  const url = site.url;
  const provider = new ChromiumProvider({ maxContexts: 4 });
  const store = createSqliteStore(join(tmp.dir, 'sessions.sqlite'));
  const manager = new AuthSessionManager({
    store,
    key: BENCH_KEY,
    browser: provider,
    auths: [demoAuth(url)],
  });
  try {
    progress('6. launching Chromium and logging in');
    const probe = await provider.newContext({});
    const browser = probe.context.browser() as Browser;
    await probe.close();
    const session = await manager.create('demo', { credentials: DEMO_ALICE });
    const device = await deviceOf(store, session.id);

    // By hand: one logged-in context, opened once, with PAGES pages reused by PAGES workers.
    const hand = await browser.newContext(device);
    const login = await hand.newPage();
    await demoLogin(login, url, DEMO_ALICE.username, DEMO_ALICE.password);
    const handPages = [login];
    while (handPages.length < PAGES) handPages.push(await hand.newPage());

    let failures = 0;
    let runs = 0;
    const byHand = (n: number) => async () => {
      let next = 0;
      await Promise.all(
        handPages.map(async (page) => {
          while (next < n) {
            next++;
            if ((await heavyTask(page, url)) !== 'alice') throw new Error('by hand: task failed');
          }
        }),
      );
    };
    const viaLibrary = (n: number) => async () => {
      const results = await Promise.allSettled(
        Array.from({ length: n }, () =>
          manager.run(session.id, ({ page }) => heavyTask(page, url), { checkInterval: 3_600_000 }),
        ),
      );
      runs += n;
      failures += results.filter((r) => r.status === 'rejected' || r.value !== 'alice').length;
    };

    progress(`6. 5 concurrent runs, ${options.rounds5} rounds`);
    const five = await alternate({ pairs: options.rounds5, warmup: 1, a: byHand(5), b: viaLibrary(5) });
    progress(`6. 50 concurrent runs, ${options.rounds50} rounds`);
    const fifty = await alternate({ pairs: options.rounds50, warmup: 1, a: byHand(50), b: viaLibrary(50) });
    await hand.close();
    const r5 = median(five.ratios);
    const r50 = median(fifty.ratios);
    return {
      id: 6,
      title: 'Concurrent runs on a heavy page with the defaults vs by hand in one warm context',
      seconds: (Date.now() - started) / 1000,
      method: [
        `The demo site's \`/heavy\` page (signed in only): ${HEAVY_BUNDLES} script bundles of about`,
        `${Math.round(HEAVY_BUNDLE_BYTES / 1000)} KB (${((HEAVY_BUNDLES * HEAVY_BUNDLE_BYTES) / 1e6).toFixed(1)} MB of script to parse and run, cacheable), then ${HEAVY_REQUESTS} JSON requests; the`,
        'task opens it, waits for `#ready` and reads `#user`. Library: one session, a manager with the default',
        'options, N `run(id, task, { checkInterval: 3_600_000 })` started at once (SQLite store, encryption on).',
        `By hand: the same N tasks in one logged-in context opened once, on ${PAGES} pages opened once and reused`,
        `by ${PAGES} workers (the library's default page budget per warm context). Wall time of all N, rounds in`,
        `alternation (1 discarded): ${options.rounds5} rounds of 5, ${options.rounds50} of 50.`,
      ].join('\n'),
      figures: [
        {
          item: '6',
          figure: '5 concurrent: by hand / run() (median wall)',
          value: `${ms(median(five.a))} / ${ms(median(five.b))}`,
          target: '',
        },
        {
          item: '6',
          figure: '5 concurrent: ratio run()/by hand (median of rounds)',
          value: ratio(r5),
          target: '',
        },
        {
          item: '6',
          figure: '50 concurrent: by hand / run() (median wall)',
          value: `${ms(median(fifty.a))} / ${ms(median(fifty.b))}`,
          target: '',
        },
        {
          item: '6',
          figure: '50 concurrent: ratio run()/by hand (median of rounds)',
          value: ratio(r50),
          target: '≤ 1.5×',
          holds: r50 <= 1.5,
        },
        {
          item: '6',
          figure: 'runs that failed',
          value: `${failures} of ${runs}`,
          target: '0',
          holds: failures === 0,
        },
      ],
    };
  } finally {
    await manager.close();
    await provider.close();
    await site.close();
    await store.disconnect();
    tmp.remove();
  }
}

/** The device profile stored (in the clear) in the session's record, as Playwright context options. */
async function deviceOf(store: Keyv, id: string): Promise<BrowserContextOptions> {
  const raw = await store.get<string>(`session/${id}`);
  const record = JSON.parse(String(raw)) as { device?: BrowserContextOptions };
  return { ...record.device };
}
