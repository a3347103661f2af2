import { randomUUID } from 'node:crypto';
import { type Job, Queue, Worker } from 'bullmq';
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createSessionProcessor,
  parkedJobIds,
  releaseParked,
  type SessionWatcher,
  SessionWorker,
  watchSessions,
} from '../../src/bullmq/index.js';
import { AuthSessionManager, createMemoryStore } from '../../src/index.js';
import { type Harness, harness, siteAuth, TEST_KEY } from '../unit/helpers.js';
import { CONNECTION, cleanup, obliterate, REDIS_URL, type Redis } from './bullmq-fixture.js';

const ALICE = { username: 'alice', password: 'pw-alice-1' };
const ALICE_NEW = { username: 'alice', password: 'pw-alice-2' };

async function waitFor(condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

let redis: Redis;
beforeAll(async () => {
  redis = createClient({ url: REDIS_URL });
  await redis.connect();
});
afterAll(async () => {
  await redis.quit();
});

interface Ctx {
  h: Harness;
  prefix: string;
  queue: Queue;
  worker: SessionWorker<{ sessionId: string; n?: number }, string>;
  executions: Map<string, number>;
  watcher?: SessionWatcher;
  extra: Array<() => Promise<unknown>>;
}
let ctx: Ctx | undefined;

afterEach(async () => {
  if (!ctx) return;
  const c = ctx;
  ctx = undefined;
  c.watcher?.close();
  await c.worker.close(true);
  for (const fn of c.extra) await fn();
  await c.queue.close();
  await obliterate('jobs', c.prefix);
  await cleanup(redis, [`${c.prefix}:*`]);
  await c.h.manager.close();
});

/** A manager on the fake site with session s1, a SessionWorker and a Queue under a unique prefix. */
async function setup(parkMs = 60_000, options: Parameters<typeof harness>[0] = {}): Promise<Ctx> {
  const h = harness(options);
  await h.manager.create('site', { id: 's1', credentials: ALICE });
  const prefix = `as-bullmq-${randomUUID().slice(0, 8)}`;
  const executions = new Map<string, number>();
  const worker = new SessionWorker<{ sessionId: string; n?: number }, string>(
    'jobs',
    h.manager,
    async ({ page, job }) => {
      await page.goto(`${h.site.origin}/account`);
      executions.set(String(job.id), (executions.get(String(job.id)) ?? 0) + 1);
      return 'ok';
    },
    { connection: CONNECTION, prefix, parkMs, concurrency: 2 },
  );
  worker.worker.on('error', () => {});
  const queue = new Queue('jobs', { connection: CONNECTION, prefix });
  ctx = { h, prefix, queue, worker, executions, extra: [] };
  return ctx;
}

describe('auth-sessions/bullmq (one process, real Redis)', () => {
  it('parks jobs whose session expired (no attempt used up) and releases them when it is active again', async () => {
    const c = await setup();
    c.watcher = watchSessions(c.h.manager, { queues: [c.queue] });
    await c.queue.add('work', { sessionId: 's1' }, { jobId: 'before', attempts: 1 });
    await waitFor(async () => (await c.queue.getCompletedCount()) === 1, 'first job');

    c.h.site.changePassword('alice', ALICE_NEW.password);
    for (let n = 0; n < 5; n++)
      await c.queue.add('work', { sessionId: 's1', n }, { jobId: `p${n}`, attempts: 1 });
    await waitFor(
      async () => (await parkedJobIds(c.queue, 's1')).length === 5 && (await c.queue.getDelayedCount()) === 5,
      '5 parked',
    );
    expect(await c.queue.getFailedCount()).toBe(0);
    expect((await c.h.manager.get('s1'))?.state).toBe('expired');
    const job = await c.queue.getJob('p0');
    expect(job?.attemptsMade).toBe(0);
    expect(await c.worker.parkedJobIds('s1')).toHaveLength(5);

    await c.h.manager.update('s1', { credentials: ALICE_NEW });
    await waitFor(async () => (await c.queue.getCompletedCount()) === 6, 'all completed');
    expect(await c.queue.getFailedCount()).toBe(0);
    expect([...c.executions.values()].every((n) => n === 1)).toBe(true);
    expect(c.executions.size).toBe(6);
    expect(await parkedJobIds(c.queue, 's1')).toEqual([]);
  });

  it('parked jobs look at their session again by themselves after parkMs (session made active elsewhere)', async () => {
    const store = createMemoryStore();
    const c = await setup(300, { store });
    const other = new AuthSessionManager({
      auths: [siteAuth(c.h.site)],
      store,
      key: TEST_KEY,
      browser: c.h.browser,
      clock: c.h.clock,
    });
    c.extra.push(() => other.close());
    c.h.site.changePassword('alice', ALICE_NEW.password);
    await c.queue.add('work', { sessionId: 's1' }, { jobId: 'x', attempts: 1 });
    await waitFor(async () => (await parkedJobIds(c.queue, 's1')).length === 1, 'parked');
    // Another process logs in again: no event reaches this one, no watcher; the job's re-check finds it.
    await other.update('s1', { credentials: ALICE_NEW });
    await waitFor(async () => (await c.queue.getCompletedCount()) === 1, 'completed after re-check');
    expect(c.executions.get('x')).toBe(1);
    expect(await c.queue.getFailedCount()).toBe(0);
  });

  it('deleting a session with parked jobs fails them at once with SESSION_NOT_FOUND (no retries, no hang)', async () => {
    const c = await setup();
    c.h.site.changePassword('alice', ALICE_NEW.password);
    for (let n = 0; n < 3; n++)
      await c.queue.add('work', { sessionId: 's1', n }, { jobId: `d${n}`, attempts: 5 });
    await waitFor(async () => (await parkedJobIds(c.queue, 's1')).length === 3, '3 parked');
    await c.h.manager.delete('s1');
    await waitFor(async () => (await c.queue.getFailedCount()) === 3, '3 failed');
    const failed = await c.queue.getFailed();
    for (const job of failed) {
      expect(job.failedReason).toMatch(/^SESSION_NOT_FOUND/);
      expect(job.attemptsMade).toBe(1);
    }
    expect(c.executions.size).toBe(0);
  });

  it('scheduled (repeatable) jobs that fire while the session is expired are parked, then run once each', async () => {
    const c = await setup();
    c.watcher = watchSessions(c.h.manager, { queues: [c.queue] });
    c.h.site.changePassword('alice', ALICE_NEW.password);
    await c.queue.upsertJobScheduler(
      'every-200ms-s1',
      { every: 200 },
      { name: 'tick', data: { sessionId: 's1' } },
    );
    await waitFor(async () => (await parkedJobIds(c.queue, 's1')).length >= 2, 'two parked occurrences');
    expect(c.executions.size).toBe(0);
    await c.h.manager.update('s1', { credentials: ALICE_NEW });
    await c.queue.removeJobScheduler('every-200ms-s1');
    await waitFor(async () => (await parkedJobIds(c.queue, 's1')).length === 0, 'released');
    await waitFor(async () => {
      const counts = await c.queue.getJobCounts('wait', 'delayed', 'active', 'prioritized', 'paused');
      return Object.values(counts).every((n) => n === 0);
    }, 'drained');
    const completed = await c.queue.getCompleted();
    expect(completed.length).toBeGreaterThanOrEqual(2);
    expect(await c.queue.getFailedCount()).toBe(0);
    for (const job of completed) expect(c.executions.get(String(job.id))).toBe(1);
  });

  it('createSessionProcessor works with a plain Worker; releaseParked releases by hand', async () => {
    const store = createMemoryStore();
    const c = await setup(60_000, { store });
    await c.worker.close();
    const seen: string[] = [];
    const parked: string[] = [];
    const processor = createSessionProcessor<{ sessionId: string }, string>(
      c.h.manager,
      async ({ job, session, page }) => {
        await page.goto(`${c.h.site.origin}/account`);
        seen.push(`${job.id}:${session.id}`);
        return 'done';
      },
      { connection: CONNECTION, onParked: (job: Job) => parked.push(String(job.id)) },
    );
    const plain = new Worker('jobs', processor, { connection: CONNECTION, prefix: c.prefix });
    plain.on('error', () => {});
    const other = new AuthSessionManager({
      auths: [siteAuth(c.h.site)],
      store,
      key: TEST_KEY,
      browser: c.h.browser,
      clock: c.h.clock,
    });
    c.extra.push(async () => {
      await plain.close(true);
      await processor.close();
      await other.close();
    });
    c.h.site.changePassword('alice', ALICE_NEW.password);
    await c.queue.add('work', { sessionId: 's1' }, { jobId: 'm1' });
    await waitFor(() => parked.length === 1, 'parked');
    expect(await parkedJobIds(c.queue, 's1')).toEqual(['m1']);
    // Another process logs in again (no event reaches this one); the job would wait parkMs: release by hand.
    await other.update('s1', { credentials: ALICE_NEW });
    expect(await releaseParked(c.queue, 's1')).toBe(1);
    await waitFor(async () => (await c.queue.getCompletedCount()) === 1, 'completed');
    expect(seen).toEqual(['m1:s1']);
    expect(parked).toEqual(['m1']);
  });
});
