import { afterEach, describe, expect, it } from 'vitest';
import {
  AuthSessionError,
  type AuthSessionEvents,
  AuthSessionInvalidError,
  createMemoryStore,
  type RunContext,
} from '../../src/index.js';
import { deferred } from '../shared.js';
import { type Harness, harness, managerOver } from './helpers.js';

const ALICE = { username: 'alice', password: 'pw-alice-1' };
const ALICE_NEW = { username: 'alice', password: 'pw-alice-2' };

/** Polls a condition (the fake browser settles in microtasks and immediates), bounded in real time. */
async function eventually(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

function record<E extends keyof AuthSessionEvents>(h: Harness, event: E): AuthSessionEvents[E][] {
  const out: AuthSessionEvents[E][] = [];
  h.manager.on(event, (payload) => out.push(payload));
  return out;
}

/** A task that works on the site's account page, notices a logout, and counts its completed executions. */
function accountTask(h: Harness, executions: Map<number, number>, n: number, afterCount?: () => void) {
  return async ({ page }: RunContext) => {
    await page.goto(`${h.site.origin}/account`);
    if (new URL(page.url()).pathname !== '/account') throw new AuthSessionInvalidError();
    executions.set(n, (executions.get(n) ?? 0) + 1);
    afterCount?.();
    return n;
  };
}

let current: Harness | undefined;
afterEach(async () => {
  await current?.manager.close();
  current = undefined;
});

async function setup(options: Parameters<typeof harness>[0] = {}): Promise<Harness> {
  current = harness(options);
  await current.manager.create('site', { id: 's1', credentials: ALICE });
  return current;
}

describe('manager.queue: pause on expiry, resume when active', () => {
  it('100 tasks, the session expires after 30: the other 70 wait; after update all 70 run exactly once', async () => {
    const h = await setup();
    const queue = h.manager.queue('s1');
    const paused = record(h, 'queue:paused');
    const resumed = record(h, 'queue:resumed');
    const executions = new Map<number, number>();
    const results = Array.from({ length: 100 }, (_, n) =>
      queue.add(
        accountTask(h, executions, n, () => {
          // The site's password changes right after the 30th task: the next check fails, the refresh too.
          if (executions.size === 30 && n === 29) h.site.changePassword('alice', ALICE_NEW.password);
        }),
      ),
    );
    const settled = new Set<number>();
    for (const [n, p] of results.entries()) {
      void p.then(() => settled.add(n));
    }

    await eventually(
      () => queue.isPaused && queue.pending === 0 && queue.size === 70,
      'queue paused with 70',
    );
    expect(executions.size).toBe(30);
    expect(queue.pauseReason).toBe('expired');
    expect((await h.manager.get('s1'))?.state).toBe('expired');
    expect(paused).toHaveLength(1);
    expect(paused[0]).toMatchObject({ sessionId: 's1', waiting: 70, reason: 'expired' });
    expect(paused[0]?.session?.state).toBe('expired');
    const waiting = queue.tasks();
    expect(waiting).toHaveLength(70);
    expect(waiting.every((t) => t.state === 'waiting')).toBe(true);
    // The task that hit the expiry is back at the front and never started (the check failed first).
    expect(waiting[0]).toMatchObject({ id: 't31', runs: 0 });
    expect(waiting.map((t) => t.id)).toEqual(Array.from({ length: 70 }, (_, i) => `t${i + 31}`));
    // Nothing failed, nothing settled beyond the 30.
    await new Promise((r) => setTimeout(r, 20));
    expect(settled.size).toBe(30);
    const runsWhilePaused = h.count('run:start');
    await new Promise((r) => setTimeout(r, 20));
    expect(h.count('run:start')).toBe(runsWhilePaused);

    await h.manager.update('s1', { credentials: ALICE_NEW });
    expect(resumed).toHaveLength(1);
    expect(resumed[0]).toMatchObject({ sessionId: 's1', reason: 'active' });
    expect(resumed[0]?.waiting).toBe(70);
    await queue.onIdle();
    expect(await Promise.all(results)).toEqual(Array.from({ length: 100 }, (_, n) => n));
    expect(executions.size).toBe(100);
    expect([...executions.values()].every((count) => count === 1)).toBe(true);
    expect(queue.isPaused).toBe(false);
    expect(queue.size).toBe(0);
  });

  it('with concurrency 4 and tasks that notice the logout mid-task: none is lost or run twice', async () => {
    const h = await setup();
    const queue = h.manager.queue('s1', { concurrency: 4 });
    const executions = new Map<number, number>();
    const results = Array.from({ length: 100 }, (_, n) =>
      queue.add(
        accountTask(h, executions, n, () => {
          if (executions.size === 30 && n === 29) h.site.changePassword('alice', ALICE_NEW.password);
        }),
        // No check before each task: running tasks find the logout themselves (AuthSessionInvalidError).
        { checkInterval: 3_600_000 },
      ),
    );
    await eventually(() => queue.isPaused && queue.pending === 0, 'queue paused and drained');
    const done = executions.size;
    expect(done).toBeGreaterThanOrEqual(30);
    expect(done + queue.size).toBe(100);
    const waiting = queue.tasks();
    // The tasks that hit the expiry mid-task came back, in their original order, at the front.
    const ids = waiting.map((t) => Number(t.id.slice(1)));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(waiting.some((t) => t.runs === 1)).toBe(true);

    await h.manager.update('s1', { credentials: ALICE_NEW });
    await queue.onIdle();
    expect(await Promise.all(results)).toHaveLength(100);
    expect(executions.size).toBe(100);
    expect([...executions.entries()].filter(([, c]) => c !== 1)).toEqual([]);
  });

  it('pauses on the expired event even when the expiry came from outside the queue; added tasks wait', async () => {
    const h = await setup();
    const queue = h.manager.queue('s1');
    h.site.changePassword('alice', ALICE_NEW.password);
    await expect(h.manager.run('s1', () => 'x')).rejects.toMatchObject({ code: 'SESSION_EXPIRED' });
    expect(queue.isPaused).toBe(true);
    expect(queue.pauseReason).toBe('expired');
    const runs = h.count('run:start');
    const a = queue.add(() => 'a');
    const b = queue.add(() => 'b');
    await new Promise((r) => setTimeout(r, 10));
    expect(h.count('run:start')).toBe(runs);
    expect(queue.size).toBe(2);
    await h.manager.update('s1', { credentials: ALICE_NEW });
    expect(await Promise.all([a, b])).toEqual(['a', 'b']);
  });

  it('resumes when another process made the session active (re-reads the store every recheckIntervalMs)', async () => {
    const store = createMemoryStore();
    const h = await setup({ store });
    const other = managerOver(h, { store });
    try {
      const queue = h.manager.queue('s1', { recheckIntervalMs: 10_000 });
      h.site.changePassword('alice', ALICE_NEW.password);
      const task = queue.add(() => 'done');
      await eventually(() => queue.isPaused && queue.pending === 0, 'paused');
      await other.update('s1', { credentials: ALICE_NEW });
      await h.clock.advanceAsync(5_000);
      expect(queue.isPaused).toBe(true);
      await h.clock.advanceAsync(5_000);
      await eventually(() => !queue.isPaused, 'resumed by the re-read');
      expect(await task).toBe('done');
    } finally {
      await other.close();
    }
  });
});

describe('manager.queue: deleted sessions, close, failures', () => {
  it('deleting a paused session fails its waiting tasks with SESSION_NOT_FOUND, says so, nothing hangs', async () => {
    const h = await setup();
    const queue = h.manager.queue('s1');
    const warnings = record(h, 'warning');
    h.site.changePassword('alice', ALICE_NEW.password);
    const tasks = Array.from({ length: 7 }, (_, n) => queue.add(() => n));
    const outcomes = Promise.allSettled(tasks);
    await eventually(() => queue.isPaused && queue.size === 7 && queue.pending === 0, 'paused with 7');
    await h.manager.delete('s1');
    const settled = await outcomes;
    expect(settled.every((r) => r.status === 'rejected')).toBe(true);
    for (const r of settled) {
      const reason = (r as PromiseRejectedResult).reason;
      expect(reason).toBeInstanceOf(AuthSessionError);
      expect(reason).toMatchObject({ code: 'SESSION_NOT_FOUND', sessionId: 's1' });
    }
    expect(
      warnings.some((w) => w.error.code === 'SESSION_NOT_FOUND' && /7 waiting task/.test(w.error.message)),
    ).toBe(true);
    await queue.onIdle();
    expect(queue.isPaused).toBe(false);
    // Later work fails fast instead of waiting forever.
    await expect(queue.add(() => 1)).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' });
  });

  it('deleting a session while a task runs fails the waiting ones; the running one settles; onIdle resolves', async () => {
    const h = await setup();
    const queue = h.manager.queue('s1');
    const gate = deferred();
    const first = queue.add(async () => {
      await gate.promise;
      return 'first';
    });
    const rest = Array.from({ length: 5 }, () => queue.add(() => 'never'));
    const restOutcomes = Promise.allSettled(rest);
    await eventually(() => queue.pending === 1, 'first running');
    await h.manager.delete('s1');
    const settled = await restOutcomes;
    expect(settled.map((r) => r.status === 'rejected' && (r.reason as AuthSessionError).code)).toEqual(
      Array(5).fill('SESSION_NOT_FOUND'),
    );
    gate.resolve();
    await Promise.allSettled([first]);
    await queue.onIdle();
  });

  it('a task added before the session exists fails with SESSION_NOT_FOUND and does not pause', async () => {
    current = harness();
    const queue = current.manager.queue('nope');
    await expect(queue.add(() => 1)).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' });
    expect(queue.isPaused).toBe(false);
  });

  it('manager.close() rejects waiting tasks with CLOSED', async () => {
    const h = await setup();
    const queue = h.manager.queue('s1');
    h.site.changePassword('alice', ALICE_NEW.password);
    const tasks = Array.from({ length: 3 }, () => queue.add(() => 1));
    const outcomes = Promise.allSettled(tasks);
    await eventually(() => queue.isPaused && queue.pending === 0, 'paused');
    await h.manager.close();
    const settled = await outcomes;
    expect(settled.map((r) => r.status === 'rejected' && (r.reason as AuthSessionError).code)).toEqual([
      'CLOSED',
      'CLOSED',
      'CLOSED',
    ]);
    await queue.onIdle();
    await expect(queue.add(() => 1)).rejects.toMatchObject({ code: 'CLOSED' });
    expect(() => h.manager.queue('s1')).toThrow(expect.objectContaining({ code: 'CLOSED' }));
  });

  it('a task failing for another reason rejects its promise and the queue goes on', async () => {
    const h = await setup();
    const queue = h.manager.queue('s1');
    const boom = new Error('boom');
    const a = queue.add(() => {
      throw boom;
    });
    const b = queue.add(() => 'b');
    await expect(a).rejects.toBe(boom);
    expect(await b).toBe('b');
    expect(queue.isPaused).toBe(false);
  });
});

describe('manager.queue: p-queue behaviour, listing and cancelling', () => {
  it('one queue per session; options given again apply; bad options throw INVALID_OPTIONS', async () => {
    const h = await setup();
    const q = h.manager.queue('s1');
    expect(q.concurrency).toBe(1);
    expect(h.manager.queue('s1')).toBe(q);
    expect(h.manager.queue('s1', { concurrency: 3 })).toBe(q);
    expect(q.concurrency).toBe(3);
    expect(() => h.manager.queue('s1', { concurrency: 0 })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTIONS' }),
    );
    expect(() => h.manager.queue('s1', { recheckIntervalMs: -1 })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTIONS' }),
    );
    expect(JSON.parse(JSON.stringify(q))).toEqual({
      sessionId: 's1',
      size: 0,
      pending: 0,
      isPaused: false,
      concurrency: 3,
    });
  });

  it('size, pending, onEmpty, onIdle, onSizeLessThan and concurrency behave as in p-queue', async () => {
    const h = await setup();
    const queue = h.manager.queue('s1', { concurrency: 2 });
    const gates = Array.from({ length: 5 }, () => deferred());
    const tasks = gates.map((g, i) =>
      queue.add(async () => {
        await g.promise;
        return i;
      }),
    );
    await eventually(() => queue.pending === 2, 'two running');
    expect(queue.size).toBe(3);
    let empty = false;
    let idle = false;
    let below3 = false;
    void queue.onEmpty().then(() => {
      empty = true;
    });
    void queue.onIdle().then(() => {
      idle = true;
    });
    void queue.onSizeLessThan(3).then(() => {
      below3 = true;
    });
    expect(below3).toBe(false);
    gates[0]!.resolve();
    await eventually(() => below3, 'size < 3');
    expect(queue.size).toBe(2);
    expect(empty).toBe(false);
    gates[1]!.resolve();
    gates[2]!.resolve();
    await eventually(() => empty, 'empty');
    expect(idle).toBe(false);
    gates[3]!.resolve();
    gates[4]!.resolve();
    await eventually(() => idle, 'idle');
    expect(await Promise.all(tasks)).toEqual([0, 1, 2, 3, 4]);
    await queue.onIdle();
  });

  it('lists tasks, cancels waiting and running ones (ABORTED), by id and by signal; clear rejects the rest', async () => {
    const h = await setup();
    const queue = h.manager.queue('s1');
    const gate = deferred();
    let sawAbort = false;
    const running = queue.add(
      async ({ signal }) => {
        signal.addEventListener('abort', () => {
          sawAbort = true;
        });
        await gate.promise;
        return 'ran';
      },
      { id: 'long' },
    );
    const controller = new AbortController();
    const bySignal = queue.add(() => 'x', { signal: controller.signal });
    const byId = queue.add(() => 'y', { id: 'mine' });
    const cleared = [queue.add(() => 1), queue.add(() => 2)];
    await expect(queue.add(() => 'dup', { id: 'mine' })).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    await eventually(() => queue.tasks()[0]?.runs === 1, 'long running');

    const list = queue.tasks();
    expect(list.map((t) => [t.id, t.state])).toEqual([
      ['long', 'running'],
      ['t2', 'waiting'],
      ['mine', 'waiting'],
      ['t4', 'waiting'],
      ['t5', 'waiting'],
    ]);
    expect(list[0]?.runs).toBe(1);
    expect(list[1]?.runs).toBe(0);
    expect(new Date(list[0]!.addedAt).getTime()).toBe(h.clock.now());

    controller.abort();
    await expect(bySignal).rejects.toMatchObject({ code: 'ABORTED' });
    expect(queue.cancel('mine')).toBe(true);
    expect(queue.cancel('mine')).toBe(false);
    await expect(byId).rejects.toMatchObject({ code: 'ABORTED' });
    expect(queue.size).toBe(2);

    queue.clear();
    for (const p of cleared) await expect(p).rejects.toMatchObject({ code: 'ABORTED' });
    expect(queue.size).toBe(0);

    expect(queue.cancel('long')).toBe(true);
    await expect(running).rejects.toMatchObject({ code: 'ABORTED' });
    expect(sawAbort).toBe(true);
    gate.resolve();
    await queue.onIdle();
    expect(queue.tasks()).toEqual([]);
  });

  it('pause() and start() as in p-queue, with queue:paused / queue:resumed events (reason manual)', async () => {
    const h = await setup();
    const paused = record(h, 'queue:paused');
    const resumed = record(h, 'queue:resumed');
    const queue = h.manager.queue('s1');
    queue.pause();
    expect(queue.isPaused).toBe(true);
    expect(queue.pauseReason).toBe('manual');
    const t = queue.add(() => 'ok');
    await new Promise((r) => setTimeout(r, 10));
    expect(queue.size).toBe(1);
    expect(paused).toEqual([{ sessionId: 's1', waiting: 0, reason: 'manual' }]);
    queue.start();
    expect(resumed).toEqual([{ sessionId: 's1', waiting: 1, reason: 'manual' }]);
    expect(await t).toBe('ok');
  });

  it('a manual pause survives the session becoming active again; start() on an expired queue retries once', async () => {
    const h = await setup();
    const queue = h.manager.queue('s1');
    h.site.changePassword('alice', ALICE_NEW.password);
    const t = queue.add(() => 'ok');
    await eventually(() => queue.isPaused && queue.pending === 0, 'paused');
    // start() forces a try: the session is still expired, so the queue pauses again and keeps the task.
    const paused = record(h, 'queue:paused');
    queue.start();
    expect(queue.isPaused).toBe(false);
    await eventually(() => queue.isPaused && queue.pending === 0 && paused.length === 1, 'paused again');
    expect(paused[0]?.reason).toBe('expired');
    expect(queue.size).toBe(1);
    queue.pause();
    await h.manager.update('s1', { credentials: ALICE_NEW });
    expect(queue.isPaused).toBe(true);
    expect(queue.pauseReason).toBe('manual');
    queue.start();
    expect(await t).toBe('ok');
  });
});
