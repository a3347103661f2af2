/**
 * Several worker processes share one Redis, one session and, when the site's login lapses, one login.
 *
 *   tsx examples/multi-process/main.ts [--workers 3] [--runs 4] [--browser chromium|fake] [--redis redis://127.0.0.1:6379]
 *
 * It starts the demo site, creates a session (login 1), makes the site forget that login, then starts the
 * workers at once: every one of them finds the login lapsed, exactly one logs in again under the Redis lock,
 * the others wait and reuse it. At the end it prints the logins the site counted: 2 in all (1 to create, 1
 * refresh), however many workers and runs. `--browser fake` uses the fake browser of `auth-sessions/testing`
 * with a login over plain HTTP (no Chromium needed, and fast); the default drives real headless Chromium.
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
// In your own code: `from 'auth-sessions'` and `from 'auth-sessions/redis'`.
import { AuthSessionManager } from '../../src/index.js';
import { createRedisStore, RedisLock } from '../../src/redis/index.js';
import { FakeBrowserProvider } from '../../src/testing/index.js';
import { startDemoSite } from '../demo-site/server.js';
import { httpLoginAuth } from './http-auth.js';
import type { ExampleWorkerConfig, ExampleWorkerReport } from './worker.js';

const USAGE =
  'usage: tsx examples/multi-process/main.ts [--workers 3] [--runs 4] [--browser chromium|fake] [--redis redis://127.0.0.1:6379]';

function parse() {
  const { values } = parseArgs({
    options: {
      workers: { type: 'string', default: '3' },
      runs: { type: 'string', default: '4' },
      browser: { type: 'string', default: 'chromium' },
      redis: { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
    },
    strict: true,
  });
  const workers = Number(values.workers);
  const runs = Number(values.runs);
  const browser = values.browser;
  if (!(Number.isInteger(workers) && workers > 0 && Number.isInteger(runs) && runs > 0))
    throw new Error(USAGE);
  if (browser !== 'chromium' && browser !== 'fake') throw new Error(USAGE);
  return { workers, runs, browser, redisUrl: values.redis } as const;
}

function runWorker(config: ExampleWorkerConfig, key: string): Promise<ExampleWorkerReport> {
  const child = fork(fileURLToPath(new URL('./worker.ts', import.meta.url)), [JSON.stringify(config)], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, AUTH_SESSIONS_KEY: key },
  });
  return new Promise((resolve, reject) => {
    let report: ExampleWorkerReport | undefined;
    child.on('message', (m: ExampleWorkerReport) => {
      report = m;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (report) resolve(report);
      else reject(new Error(`${config.name} exited with code ${code} without a report`));
    });
  });
}

async function main(): Promise<void> {
  const options = parse();
  // One key for every process: in production it comes from your secret store, e.g. AUTH_SESSIONS_KEY.
  const key = process.env.AUTH_SESSIONS_KEY ?? randomBytes(32).toString('base64');
  const namespace = `auth-sessions-example-${randomBytes(4).toString('hex')}`;
  const site = await startDemoSite({ sessionTtlSeconds: 3600 });
  const store = createRedisStore(options.redisUrl, { namespace });
  const lock = new RedisLock({ url: options.redisUrl, prefix: `${namespace}:lock:` });
  const manager = new AuthSessionManager({
    auths: [httpLoginAuth(site.url, { name: 'demo' })],
    store,
    lock,
    key,
    browser: new FakeBrowserProvider(),
  });
  try {
    // The session is created here once; with --browser chromium the workers log in through real pages,
    // which the site counts the same way.
    const session = await manager.create('demo', {
      credentials: { username: 'alice', password: 'wonderland-42' },
    });
    console.log(`created session ${session.id} (site logins so far: ${site.stats().logins})`);
    site.expireAllSessions();
    console.log(`the site forgot every login; starting ${options.workers} workers × ${options.runs} runs`);
    const before = site.stats().logins;
    const reports = await Promise.all(
      Array.from({ length: options.workers }, (_, i) =>
        runWorker(
          {
            name: `worker-${i + 1}`,
            redisUrl: options.redisUrl,
            namespace,
            siteUrl: site.url,
            sessionId: session.id,
            runs: options.runs,
            browser: options.browser,
          },
          key,
        ),
      ),
    );
    for (const r of reports) {
      console.log(
        `${r.name}: ${r.ok} ok, ${r.failed.length} failed, ${r.refreshes} login(s) by this worker, saw ${r.users.join(', ')}`,
      );
      for (const f of r.failed) console.log(`  ${f}`);
    }
    const logins = site.stats().logins - before;
    const ok = reports.every((r) => r.failed.length === 0);
    console.log(
      `logins at the site while the workers ran: ${logins} (expected 1); total: ${site.stats().logins}`,
    );
    if (logins !== 1 || !ok) process.exitCode = 1;
    await manager.delete(session.id);
  } finally {
    await manager.close();
    await lock.close();
    await store.disconnect();
    await site.close();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
