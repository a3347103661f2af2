import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parkedJobIds, type SessionWatcher, watchSessions } from '../../src/bullmq/index.js';
import {
  CONNECTION,
  cleanup,
  keys,
  obliterate,
  REDIS_URL,
  type Redis,
  setSitePassword,
  sharedManager,
} from './bullmq-fixture.js';

const FIXTURE = fileURLToPath(new URL('./bullmq-fixture.ts', import.meta.url));
const run = randomUUID().slice(0, 8);
const ns = `as-bullmq-mp-${run}`;
const prefix = `as-bullmq-mp-${run}`;
const queueName = 'jobs';
const key = randomBytes(32).toString('base64');

async function waitFor(condition: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function startWorker(name: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    env: { ...process.env, AS_NS: ns, AS_KEY: key, AS_QUEUE: queueName, AS_PREFIX: prefix, AS_WORKER: name },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker ${name} not ready: ${stderr}`)), 30_000);
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker ${name} exited (${code}): ${stderr}`));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

describe('auth-sessions/bullmq across two worker processes (real Redis)', () => {
  let redis: Redis;
  let shared: ReturnType<typeof sharedManager>;
  let queue: Queue;
  let watcher: SessionWatcher | undefined;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    redis = createClient({ url: REDIS_URL });
    await redis.connect();
    await redis.set(keys(ns).password, 'pw-1');
    await redis.set(keys(ns).epoch, '1');
    shared = sharedManager(redis, ns, key);
    await shared.ready();
    queue = new Queue(queueName, { connection: CONNECTION, prefix });
  });

  afterAll(async () => {
    watcher?.close();
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    }
    await Promise.race([Promise.all(children.map(exited)), new Promise((r) => setTimeout(r, 10_000))]);
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await queue.close();
    await obliterate(queueName, prefix);
    await shared.close();
    await cleanup(redis, [`${prefix}:*`, `${ns}:*`, `${ns}-store*`]);
    await redis.quit();
  });

  it('parked jobs survive a SIGKILLed worker; after the update every job completes exactly once', async () => {
    const { manager } = shared;
    await manager.create('shared', { id: 's1', credentials: { password: 'pw-1' } });
    const [a, b] = await Promise.all([startWorker('A'), startWorker('B')]);
    children.push(a!, b!);
    const k = keys(ns);

    // 10 jobs while the session is fine.
    for (let n = 0; n < 10; n++) {
      await queue.add('work', { sessionId: 's1', n }, { jobId: `j${n}`, attempts: 1 });
    }
    await waitFor(async () => (await redis.hLen(k.completions)) === 10, '10 completions');

    // The site's password changes: the session expires at the next job; 30 more jobs get parked.
    await setSitePassword(redis, ns, 'pw-2');
    for (let n = 10; n < 40; n++) {
      await queue.add('work', { sessionId: 's1', n }, { jobId: `j${n}`, attempts: 1 });
    }
    await waitFor(
      async () => (await parkedJobIds(queue, 's1')).length === 30 && (await queue.getDelayedCount()) === 30,
      '30 parked jobs',
    );
    expect((await manager.get('s1'))?.state).toBe('expired');
    expect(await redis.hLen(k.completions)).toBe(10);
    expect(await queue.getFailedCount()).toBe(0);
    const parked = await queue.getJob('j25');
    expect(await parked?.getState()).toBe('delayed');
    expect(parked?.attemptsMade).toBe(0);

    // One worker dies hard while the jobs wait.
    a!.kill('SIGKILL');
    await exited(a!);

    // The user logs in again (here, in the test process); the watcher releases the parked jobs in Redis.
    watcher = watchSessions(manager, { queues: [queue] });
    await manager.update('s1', { credentials: { password: 'pw-2' } });
    await waitFor(async () => (await redis.hLen(k.completions)) === 40, '40 completions');
    await waitFor(async () => (await queue.getCompletedCount()) === 40, '40 completed jobs');

    const counts = await redis.hGetAll(k.completions);
    expect(Object.keys(counts).sort()).toEqual(Array.from({ length: 40 }, (_, n) => `j${n}`).sort());
    expect(Object.values(counts).every((c) => c === '1')).toBe(true);
    expect(await queue.getFailedCount()).toBe(0);
    expect(await queue.getDelayedCount()).toBe(0);
    expect(await parkedJobIds(queue, 's1')).toEqual([]);
    // The 30 released jobs ran on the surviving worker.
    const log = await redis.lRange(k.log, 0, -1);
    const late = log.filter((entry) => Number(entry.split(':j')[1]) >= 10);
    expect(late).toHaveLength(30);
    expect(late.every((entry) => entry.startsWith('B:'))).toBe(true);
  }, 60_000);
});
