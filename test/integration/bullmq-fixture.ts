/**
 * Shared pieces of the BullMQ tests, and the worker process they spawn (`node --import tsx
 * test/integration/bullmq-fixture.ts`). The "site" is a pair of Redis keys every process sees: its current
 * password and a session epoch (changing the password bumps the epoch, which logs every browser out).
 * The auth logs in by putting the epoch into a cookie of the fake browser context; the check compares it.
 */
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { createClient } from 'redis';
import { z } from 'zod';
import { SessionWorker } from '../../src/bullmq/index.js';
import { AuthSessionManager, defineAuth } from '../../src/index.js';
import { createRedisStore, RedisLock } from '../../src/redis/index.js';
import { FakeBrowserProvider } from '../../src/testing/index.js';

export const REDIS_URL = 'redis://127.0.0.1:6379';
export const CONNECTION = { host: '127.0.0.1', port: 6379 } as const;
const ORIGIN = 'https://shared-site.test/';

export type Redis = ReturnType<typeof createClient>;

/** Keys of one test run. */
export function keys(ns: string) {
  return {
    password: `${ns}:site:password`,
    epoch: `${ns}:site:epoch`,
    completions: `${ns}:completions`,
    log: `${ns}:log`,
  };
}

/** Sets the shared site's password, logging everyone out. */
export async function setSitePassword(redis: Redis, ns: string, password: string): Promise<void> {
  const k = keys(ns);
  await redis.set(k.password, password);
  await redis.incr(k.epoch);
}

export function sharedSiteAuth(redis: Redis, ns: string) {
  const k = keys(ns);
  return defineAuth({
    name: 'shared',
    type: 'credentials',
    credentials: z.object({ password: z.string() }),
    retryDelay: 0,
    createAttempts: 1,
    checkAttempts: 1,
    async create({ context, credentials }) {
      if ((await redis.get(k.password)) !== credentials.password) throw new Error('wrong password');
      const epoch = (await redis.get(k.epoch)) ?? '0';
      await context.addCookies([{ name: 'sid', value: epoch, url: ORIGIN }]);
    },
    async check({ context }) {
      const epoch = (await redis.get(k.epoch)) ?? '0';
      const cookies = await context.cookies(ORIGIN);
      return cookies.some((c) => c.name === 'sid' && c.value === epoch);
    },
  });
}

/** A manager on the shared Redis store and lock, with the fake browser. */
export function sharedManager(redis: Redis, ns: string, key: string) {
  const store = createRedisStore(REDIS_URL, { namespace: `${ns}-store` });
  const lock = new RedisLock({ url: REDIS_URL });
  const manager = new AuthSessionManager({
    auths: [sharedSiteAuth(redis, ns)],
    store,
    lock,
    key,
    browser: new FakeBrowserProvider({ maxContexts: 16 }),
    lockWaitMs: 20_000,
    lockLeaseMs: 20_000,
  });
  return {
    manager,
    /** Waits until the store answers (its client connects in the background and fails fast until then). */
    async ready() {
      const deadline = Date.now() + 15_000;
      for (;;) {
        try {
          await manager.get('warm-up');
          return;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    },
    async close() {
      await manager.close();
      await lock.close();
      await store.disconnect();
    },
  };
}

/** Deletes every key of a test run (queue keys under the BullMQ prefix, the store's, the site's). */
export async function cleanup(redis: Redis, patterns: readonly string[]): Promise<void> {
  for (const match of patterns) {
    for await (const batch of redis.scanIterator({ MATCH: match, COUNT: 500 })) {
      const list = ([] as string[]).concat(batch as string | string[]);
      if (list.length > 0) await redis.del(list);
    }
  }
}

export async function obliterate(name: string, prefix: string): Promise<void> {
  const queue = new Queue(name, { connection: CONNECTION, prefix });
  try {
    await queue.obliterate({ force: true });
  } finally {
    await queue.close();
  }
}

/** The worker process: runs jobs of the queue, counting completions per job id in Redis. */
async function main(): Promise<void> {
  const env = (name: string) => {
    const v = process.env[name];
    if (!v) throw new Error(`missing ${name}`);
    return v;
  };
  const ns = env('AS_NS');
  const name = env('AS_WORKER');
  const redis: Redis = createClient({ url: REDIS_URL });
  await redis.connect();
  const shared = sharedManager(redis, ns, env('AS_KEY'));
  await shared.ready();
  const k = keys(ns);
  const worker = new SessionWorker<{ sessionId: string; n: number }>(
    env('AS_QUEUE'),
    shared.manager,
    async ({ job }) => {
      await new Promise((r) => setTimeout(r, 10));
      await redis.hIncrBy(k.completions, String(job.id), 1);
      await redis.rPush(k.log, `${name}:${job.id}`);
      return name;
    },
    { connection: CONNECTION, prefix: env('AS_PREFIX'), concurrency: 3, parkMs: 60_000 },
  );
  worker.worker.on('error', () => {});
  worker.worker.on('failed', (job, err) => {
    const cause = (err as { cause?: unknown }).cause;
    process.stderr.write(
      `job ${job?.id} failed: ${err.message} / ${cause instanceof Error ? cause.stack : String(cause)}\n`,
    );
  });
  await worker.worker.waitUntilReady();
  process.stdout.write('ready\n');
  const stop = async () => {
    await worker.close();
    await shared.close();
    await redis.quit();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`worker failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
