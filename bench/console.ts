/**
 * Benchmark 6: the web console's pages over a SQLite store of many sessions, served on a port and fetched as a
 * browser would (signed in, full response body read): the sessions list (first page, a label filter, a deep
 * page), a session page and the JSON listing.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { AuthSessionManager, createSqliteStore } from '../src/index.js';
import { createConsole } from '../src/server/index.js';
import { FakeBrowserProvider, FakeSite } from '../src/testing/index.js';
import { BENCH_KEY, fakeSiteBenchAuth, tempDir } from './fixtures.js';
import { type BenchReport, median, ms, progress, quantile } from './lib.js';
import { type Store, seed } from './sqlite.js';

export interface ConsoleBenchOptions {
  readonly sessions: number;
  readonly samples: number;
}

/** A Next link's cursor: how many sessions come before the page, and the id of the last of them. */
function cursor(offset: number, afterId: string): string {
  return `${offset.toString(36)}.${Buffer.from(afterId).toString('base64url')}`;
}

/** The target of every console page: loaded in under this many milliseconds (median). */
const TARGET_MS = 300;

export async function benchConsole(options: ConsoleBenchOptions): Promise<BenchReport> {
  const started = Date.now();
  const tmp = tempDir();
  const site = new FakeSite({ sessionTtlMs: 24 * 3600_000 });
  site.addUser('alice', 'pw-alice-1');
  const browser = new FakeBrowserProvider({ site });
  const keyv = createSqliteStore(join(tmp.dir, 'console.sqlite'));
  const manager = new AuthSessionManager({
    auths: [fakeSiteBenchAuth(site)],
    store: keyv,
    key: BENCH_KEY,
    browser,
  });
  const store: Store = { keyv, manager, ids: [] };
  const token = 'bench-console-token-0123456789';
  const web = createConsole(manager, { token });
  try {
    const template = await manager.create('bench', {
      id: 'template',
      credentials: { username: 'alice', password: 'pw-alice-1' },
    });
    const raw = String(await keyv.get(`session/${template.id}`));
    await manager.delete(template.id);
    progress(`7. seeding ${options.sessions.toLocaleString('en')} sessions`);
    await seed(store, raw, options.sessions);
    const server = await web.listen({ port: 0, host: '127.0.0.1' });
    const signIn = await fetch(`${server.url}?token=${token}`, { redirect: 'manual' });
    const cookie = signIn.headers.get('set-cookie')?.split(';')[0];
    if (signIn.status !== 303 || cookie === undefined) throw new Error('could not sign in to the console');
    const middle = store.ids[Math.floor(store.ids.length / 2)]!;
    const deep = Math.floor(options.sessions / 2);
    const pages: Array<[string, string, string]> = [
      ['sessions list, first page', '', 's-0000049'],
      ['sessions list, label filter (1% match)', '?labels=customer%3Dc7', 's-0000007'],
      [
        `sessions list, page after session ${deep.toLocaleString('en')} (Next link)`,
        `?cursor=${cursor(deep, store.ids[deep - 1]!)}`,
        'rel="next"',
      ],
      [
        `the same page when the session before it is gone (counted)`,
        `?cursor=${cursor(deep, 'gone')}`,
        'rel="next"',
      ],
      ['session page (history, stats, actions)', `sessions/${middle}`, middle],
      ['JSON listing, first page', 'api/sessions', 's-0000049'],
    ];
    const figures: BenchReport['figures'][number][] = [];
    for (const [name, path, expect] of pages) {
      progress(`7. ${name}`);
      const samples: number[] = [];
      for (let i = 0; i < options.samples + 3; i++) {
        const t0 = performance.now();
        const response = await fetch(`${server.url}${path}`, { headers: { cookie } });
        const body = await response.text();
        const took = performance.now() - t0;
        if (response.status !== 200 || !body.includes(expect)) {
          throw new Error(
            `${name}: status ${response.status}, "${expect}" ${body.includes(expect) ? '' : 'not '}found`,
          );
        }
        if (i >= 3) samples.push(took);
      }
      const med = median(samples);
      const informational = name.includes('gone');
      figures.push({
        item: '7. console pages',
        figure: `${name} (median; p95 ${ms(quantile(samples, 0.95))})`,
        value: ms(med),
        target: informational ? '' : `< ${TARGET_MS} ms`,
        holds: informational ? undefined : med < TARGET_MS,
      });
    }
    await server.close();
    const n = options.sessions.toLocaleString('en');
    return {
      id: 7,
      title: `Console pages with ${n} sessions`,
      seconds: (Date.now() - started) / 1000,
      method: [
        `A \`createSqliteStore()\` file seeded with ${n} session records (copies of one real session, signed with the`,
        'key, labels `customer: c0 … c99`), the console served by `listen()` on 127.0.0.1 and each page fetched',
        `${options.samples} times after 3 warm-ups, signed in, the whole body read. A page reached by its Next link`,
        'starts after the last session of the page before: `manager.sessions({ after })` skips the sessions before',
        'it without decoding them (SQLite lists in key order) and reads the page plus one. When that session is',
        'gone, the page is found by counting, which decodes every session before it (the informational figure).',
        'A label filter reads only what the SQLite index names. The figures are absolute times, not ratios: the',
        'target is a page load a person does not wait for.',
      ].join('\n'),
      figures,
    };
  } finally {
    await web.close();
    await manager.close();
    await keyv.disconnect();
    await browser.close();
    tmp.remove();
  }
}
