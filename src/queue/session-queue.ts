import { inspect } from 'node:util';
import PQueue from 'p-queue';
import { validateAuthOptions } from '../define.js';
import { AuthSessionError } from '../errors.js';
import type { RunTask } from '../lifecycle/engine.js';
import type { AuthSessionInfo } from '../session/info.js';
import { isGoneError, isHoldError } from './hold.js';
import { abortedError, closedError, deletedError } from './queue-errors.js';
import { hooksOf, type SessionQueueDeps } from './queue-hooks.js';
import {
  checkConcurrency,
  checkQueueOptions,
  type SessionQueueOptions,
  type SessionTaskOptions,
} from './queue-options.js';
import { QueuePause, type QueuePauseReason } from './queue-pause.js';
import { type Entry, type SessionTaskInfo, taskIdError, taskInfo } from './queue-task.js';
import { TaskList, type TaskListOptions } from './task-list.js';
import { Waiters } from './waiters.js';

export {
  queueHooks,
  type SessionQueueDeps,
  type SessionQueueHooks,
} from './queue-hooks.js';
export type { SessionQueueOptions, SessionTaskOptions } from './queue-options.js';
export type { QueuePauseReason } from './queue-pause.js';
export type { SessionTaskInfo } from './queue-task.js';

/**
 * The task queue of one session (from `manager.queue(sessionId, options)`), on p-queue: tasks run through
 * `manager.run` with the session, at most `concurrency` at once, in the order they were added.
 *
 * When the session expires (an `expired` event, or a task's run failing with `SESSION_EXPIRED`), the queue
 * pauses and keeps every unfinished task, including the ones that hit the expiry: they go back to the front
 * of the line, neither failed nor run twice. When the session is active again (`update`, `record`,
 * `importState` in this process, or a re-read of the store every `recheckIntervalMs` for other processes)
 * the queue goes on by itself. `queue:paused` and `queue:resumed` events tell how many tasks wait.
 *
 * A task whose run throws `SESSION_EXPIRED` did not complete: either it never started (the session was
 * expired already, or the check before it failed and the refresh failed too), or it started, found itself
 * logged out and threw `AuthSessionInvalidError`, and the refresh that followed failed. Only in that last
 * case may it have done something before noticing; it then runs again from the start. Make such tasks
 * idempotent, or have them check the login before their first side effect.
 *
 * Deleting the session fails its waiting tasks with `SESSION_NOT_FOUND` (and emits a `warning`);
 * `manager.close()` fails every unfinished task with `CLOSED`; any other failure rejects that task's
 * promise and the queue goes on. `size`, `pending`, `isPaused`, `onIdle()`, `onEmpty()`,
 * `onSizeLessThan()`, `pause()` and `start()` behave as in p-queue; `clear()` rejects the tasks it removes
 * with `ABORTED` instead of leaving their promises pending forever.
 *
 * @example
 * ```ts
 * const queue = manager.queue(session.id, { concurrency: 2 });
 * manager.on('queue:paused', (e) => notify(e.sessionId, `${e.waiting} tasks wait for you to log in again`));
 * const results = await Promise.all(urls.map((url) => queue.add(async ({ page }) => {
 *   await page.goto(url);
 *   return page.title();
 * })));
 * ```
 */
export class SessionQueue {
  /** The session whose tasks this queue runs. */
  readonly sessionId: string;
  readonly #d: SessionQueueDeps;
  readonly #pq: PQueue<TaskList, TaskListOptions>;
  readonly #list: TaskList;
  /** Unfinished tasks by id, in order of adding. */
  readonly #entries = new Map<string, Entry>();
  readonly #waiters = new Waiters();
  readonly #pause: QueuePause;
  #seq = 0;
  #closed = false;

  /** @internal Made by `manager.queue(sessionId)`; one per session id and manager. */
  constructor(sessionId: string, options: SessionQueueOptions, deps: SessionQueueDeps) {
    this.sessionId = sessionId;
    this.#d = deps;
    let list: TaskList | undefined;
    class OwnedList extends TaskList {
      constructor() {
        super();
        list = this;
      }
    }
    this.#pq = new PQueue<TaskList, TaskListOptions>({ concurrency: 1, queueClass: OwnedList });
    this.#list = list!;
    this.#pause = new QueuePause({
      sessionId,
      pq: this.#pq,
      deps,
      closed: () => this.#closed,
      gone: () => this.#gone(undefined),
    });
    this.#configure(options);
    const notify = () => this.#notify();
    this.#pq.on('next', notify);
    this.#pq.on('empty', notify);
    this.#pq.on('idle', notify);
    hooksOf.set(this, {
      expired: (session) => this.#pause.hold(session),
      active: (session) => this.#pause.activate(session),
      gone: (session) => this.#gone(session),
      closed: () => this.#shutdown(),
      configure: (o) => this.#configure(o),
    });
  }

  /**
   * Adds a task; returns its promise (the task's result, or its failure). While the session is expired the
   * task waits; it is never failed because of the expiry.
   *
   * @example
   * ```ts
   * const title = await queue.add(async ({ page }) => { await page.goto(url); return page.title(); });
   * ```
   */
  add<T>(task: RunTask<T>, options: SessionTaskOptions = {}): Promise<T> {
    if (this.#closed || this.#d.closed.aborted) return Promise.reject(closedError(this.sessionId));
    if (typeof task !== 'function') {
      return Promise.reject(
        new AuthSessionError('INVALID_OPTIONS', 'queue.add(task): task must be a function'),
      );
    }
    const { signal, id: givenId, ...runOptions } = options ?? {};
    try {
      validateAuthOptions(runOptions, 'queue.add');
    } catch (err) {
      return Promise.reject(err);
    }
    const seq = ++this.#seq;
    const id = givenId ?? `t${seq}`;
    const idError = taskIdError(id, this.#entries.has(id), this.sessionId);
    if (idError) return Promise.reject(idError);
    if (signal?.aborted) return Promise.reject(this.#abortedError(id, signal.reason));
    return new Promise<T>((resolve, reject) => {
      const entry: Entry = {
        id,
        seq,
        task: task as RunTask<unknown>,
        runOptions,
        addedAt: this.#d.clock.now(),
        state: 'waiting',
        runs: 0,
        attempt: undefined,
        settled: false,
        resolve: resolve as (value: unknown) => void,
        reject,
        detach: () => {},
      };
      if (signal) {
        const onAbort = () => this.#cancel(entry, signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        entry.detach = () => signal.removeEventListener('abort', onAbort);
      }
      this.#entries.set(id, entry);
      this.#enqueue(entry);
    });
  }

  /**
   * Adds several tasks; resolves with all results (rejects with the first failure, as `Promise.all`).
   *
   * @example
   * ```ts
   * const titles = await queue.addAll(urls.map((url) => async ({ page }) => (await page.goto(url), page.title())));
   * ```
   */
  addAll<T>(tasks: readonly RunTask<T>[], options: Omit<SessionTaskOptions, 'id'> = {}): Promise<T[]> {
    return Promise.all(tasks.map((task) => this.add(task, options)));
  }

  /**
   * Cancels an unfinished task: a waiting one leaves the queue, a running one is aborted. Its promise
   * rejects with `ABORTED`. False when there is no such unfinished task.
   *
   * @example
   * ```ts
   * for (const t of queue.tasks()) if (t.state === 'waiting') queue.cancel(t.id);
   * ```
   */
  cancel(taskId: string): boolean {
    const entry = this.#entries.get(taskId);
    if (!entry) return false;
    this.#cancel(entry, undefined);
    return true;
  }

  /**
   * The unfinished tasks: running ones first, then waiting ones in the order they will run.
   *
   * @example
   * ```ts
   * console.table(queue.tasks());
   * ```
   */
  tasks(): SessionTaskInfo[] {
    const running = [...this.#entries.values()].filter((e) => e.state === 'running');
    const waiting = this.#list.ids().flatMap((id) => {
      const entry = this.#entries.get(id);
      return entry ? [entry] : [];
    });
    return [...running, ...waiting].map(taskInfo);
  }

  /**
   * Tasks waiting to run (p-queue's `size`).
   * @example
   * ```ts
   * console.log(`${queue.size} waiting`);
   * ```
   */
  get size(): number {
    return this.#pq.size;
  }

  /**
   * Tasks running now (p-queue's `pending`).
   * @example
   * ```ts
   * console.log(`${queue.pending} running`);
   * ```
   */
  get pending(): number {
    return this.#pq.pending;
  }

  /**
   * Whether the queue is paused (its session expired, or `pause()`).
   * @example
   * ```ts
   * if (queue.isPaused) console.log(queue.pauseReason);
   * ```
   */
  get isPaused(): boolean {
    return this.#pq.isPaused;
  }

  /**
   * Why the queue is paused, or undefined when it runs. `'expired'` wins over `'manual'`.
   * @example
   * ```ts
   * if (queue.pauseReason === 'expired') askUserToLogIn();
   * ```
   */
  get pauseReason(): QueuePauseReason | undefined {
    return this.#pause.reason;
  }

  /**
   * Tasks run at once; can be changed at any time.
   * @example
   * ```ts
   * queue.concurrency = 4;
   * ```
   */
  get concurrency(): number {
    return this.#pq.concurrency;
  }

  set concurrency(value: number) {
    this.#pq.concurrency = checkConcurrency(value);
  }

  /**
   * Holds back tasks that have not started (running ones finish). Emits `queue:paused` (`reason: 'manual'`).
   *
   * @example
   * ```ts
   * queue.pause();
   * ```
   */
  pause(): void {
    this.#pause.pause();
  }

  /**
   * Starts (or resumes) running tasks. On a queue paused because its session expired it forces a new try:
   * the next task runs, and if the session is still expired the queue pauses again at once.
   *
   * @example
   * ```ts
   * queue.start();
   * ```
   */
  start(): this {
    this.#pause.start();
    return this;
  }

  /**
   * Removes every waiting task; their promises reject with `ABORTED` (p-queue would leave them pending
   * forever). Running tasks go on.
   *
   * @example
   * ```ts
   * queue.clear();
   * ```
   */
  clear(): void {
    for (const id of this.#list.clear()) {
      const entry = this.#entries.get(id);
      if (entry) this.#settle(entry, false, this.#abortedError(id, undefined, 'cleared'));
    }
    this.#notify();
  }

  /**
   * Resolves when no task waits and none runs. While the session is expired, waiting tasks keep it pending
   * (as a paused p-queue does); deleting the session or closing the manager settles them.
   *
   * @example
   * ```ts
   * await queue.onIdle();
   * ```
   */
  onIdle(): Promise<void> {
    return this.#until(() => this.size === 0 && this.pending === 0);
  }

  /**
   * Resolves when no task waits (some may still run).
   * @example
   * ```ts
   * await queue.onEmpty();
   * ```
   */
  onEmpty(): Promise<void> {
    return this.#until(() => this.size === 0);
  }

  /**
   * Resolves when fewer than `limit` tasks wait.
   * @example
   * ```ts
   * await queue.onSizeLessThan(100);
   * queue.add(task);
   * ```
   */
  onSizeLessThan(limit: number): Promise<void> {
    return this.#until(() => this.size < limit);
  }

  /** Readable in the REPL. */
  [inspect.custom](): string {
    return `SessionQueue ${inspect(this.toJSON())}`;
  }

  /**
   * A plain view of the queue.
   * @example
   * ```ts
   * console.log(JSON.stringify(queue));
   * ```
   */
  toJSON(): {
    sessionId: string;
    size: number;
    pending: number;
    isPaused: boolean;
    pauseReason?: QueuePauseReason;
    concurrency: number;
  } {
    const reason = this.pauseReason;
    return {
      sessionId: this.sessionId,
      size: this.size,
      pending: this.pending,
      isPaused: this.isPaused,
      ...(reason === undefined ? {} : { pauseReason: reason }),
      concurrency: this.concurrency,
    };
  }

  // ——— internals ———

  #enqueue(entry: Entry): void {
    entry.state = 'waiting';
    // #execute never rejects: each task's own promise carries its outcome.
    this.#pq.add(() => this.#execute(entry), { id: entry.id, seq: entry.seq }).catch(() => {});
  }

  /** One attempt of a task; never rejects (the task's own promise carries the outcome). */
  async #execute(entry: Entry): Promise<void> {
    if (entry.settled) return;
    entry.state = 'running';
    const attempt = new AbortController();
    entry.attempt = attempt;
    const epoch = this.#pause.epoch;
    try {
      const value = await this.#d.run(
        this.sessionId,
        (ctx) => {
          entry.runs++;
          return entry.task(ctx);
        },
        { ...entry.runOptions, signal: attempt.signal },
      );
      this.#settle(entry, true, value);
    } catch (err) {
      if (entry.settled) return;
      if (!attempt.signal.aborted && !this.#closed && isHoldError(err, this.sessionId)) {
        // An expiry seen by an attempt that started before the session was active again is stale.
        if (epoch === this.#pause.epoch) this.#pause.hold(undefined);
        this.#enqueue(entry);
        return;
      }
      this.#settle(entry, false, err);
      if (isGoneError(err, this.sessionId)) this.#gone(undefined);
    } finally {
      if (entry.attempt === attempt) entry.attempt = undefined;
    }
  }

  #settle(entry: Entry, ok: boolean, outcome: unknown): void {
    if (entry.settled) return;
    entry.settled = true;
    entry.detach();
    this.#entries.delete(entry.id);
    if (ok) entry.resolve(outcome);
    else entry.reject(outcome);
  }

  #cancel(entry: Entry, reason: unknown): void {
    if (entry.settled) return;
    const error = this.#abortedError(entry.id, reason);
    if (entry.state === 'waiting') this.#list.remove(entry.id);
    else entry.attempt?.abort(error);
    this.#settle(entry, false, error);
    this.#notify();
  }

  #gone(session: AuthSessionInfo | undefined): void {
    const dropped = this.#list.clear();
    for (const id of dropped) {
      const entry = this.#entries.get(id);
      if (!entry) continue;
      this.#settle(entry, false, deletedError(this.sessionId, id, entry.runs));
    }
    this.#pause.release();
    if (dropped.length > 0) {
      this.#d.events.emit('warning', {
        ...(session ? { session } : {}),
        error: {
          code: 'SESSION_NOT_FOUND',
          message: `Session "${this.sessionId}" was deleted: ${dropped.length} waiting task(s) of its queue failed with SESSION_NOT_FOUND`,
        },
      });
    }
    this.#notify();
  }

  #shutdown(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pause.stop();
    this.#list.clear();
    for (const entry of [...this.#entries.values()]) {
      const error = closedError(this.sessionId);
      entry.attempt?.abort(error);
      this.#settle(entry, false, error);
    }
    this.#notify();
  }

  #configure(options: SessionQueueOptions): void {
    // Validate everything before changing anything.
    const { concurrency, recheckMs } = checkQueueOptions(options);
    if (concurrency !== undefined) this.#pq.concurrency = concurrency;
    if (recheckMs !== undefined) this.#pause.setRecheck(recheckMs);
  }

  #until(test: () => boolean): Promise<void> {
    return this.#waiters.until(test);
  }

  #notify(): void {
    this.#waiters.notify();
  }

  #abortedError(id: string, reason: unknown, how = 'cancelled'): AuthSessionError {
    return abortedError(this.sessionId, id, reason, how);
  }
}
