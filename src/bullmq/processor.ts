import type { ConnectionOptions, Job, Queue } from 'bullmq';
import { durationOption } from '../duration.js';
import { AuthSessionError } from '../errors.js';
import type { RunContext, RunOptions } from '../lifecycle/engine.js';
import type { AuthSessionManager } from '../manager.js';
import { isGoneError, isHoldError } from '../queue/hold.js';
import { parkedKey, type QueueHandle, releaseParked } from './parking.js';
import { DelayedError, Queue as QueueClass, UnrecoverableError } from './peer.js';
import { defaultOnError, onSessionReleasable } from './watch.js';

/**
 * The job data `createSessionProcessor` expects by default: the id of the session to run with. Never put
 * credentials, cookies or tokens in job data: the session id is all a worker needs.
 *
 * @example
 * ```ts
 * await queue.add('scrape', { sessionId: session.id, url: 'https://crm.example/reports' });
 * ```
 */
export interface SessionJobData {
  readonly sessionId: string;
}

/**
 * What a session job processor receives: the `manager.run` context (a logged-in page and its context, the
 * session, an abort signal) plus the BullMQ job and its lock token.
 *
 * @example
 * ```ts
 * const process = async ({ page, job }: SessionJobContext<{ sessionId: string; url: string }>) => {
 *   await page.goto(job.data.url);
 *   return page.title();
 * };
 * ```
 */
export interface SessionJobContext<T = SessionJobData, R = unknown, N extends string = string>
  extends RunContext {
  readonly job: Job<T, R, N>;
  /** The worker's lock token for the job (undefined outside a worker). */
  readonly token: string | undefined;
}

/**
 * A job processor that runs with a logged-in session.
 *
 * @example
 * ```ts
 * const processor: SessionJobProcessor<{ sessionId: string; url: string }, string> = async ({ page, job }) => {
 *   await page.goto(job.data.url);
 *   return page.title();
 * };
 * ```
 */
export type SessionJobProcessor<T = SessionJobData, R = unknown, N extends string = string> = (
  context: SessionJobContext<T, R, N>,
) => Promise<R> | R;

/**
 * Options of {@link createSessionProcessor} (and of `SessionWorker`, which passes its own connection).
 *
 * @example
 * ```ts
 * const options: SessionProcessorOptions = { connection: { host: '127.0.0.1', port: 6379 }, parkMs: 60_000 };
 * ```
 */
export interface SessionProcessorOptions<T = SessionJobData> {
  /**
   * Redis connection (as BullMQ's) used to keep track of parked jobs and release them.
   */
  readonly connection: ConnectionOptions;
  /**
   * Where the session id is in a job.
   * @default (job) => job.data.sessionId
   */
  readonly sessionIdOf?: (job: Job<T>) => string;
  /**
   * How long (ms) a parked job waits before it looks at its session again by itself, in case nobody
   * released it (the session was made active by a process without a watcher). Each look costs a store read
   * and a few Redis calls, no browser.
   * @default 60000
   */
  readonly parkMs?: number;
  /** `manager.run` options for every job (e.g. `checkInterval`, `isAuthError`). */
  readonly run?: Omit<RunOptions, 'signal'>;
  /** Told when a job is parked (e.g. to tell the user that work waits for a new login). */
  readonly onParked?: (job: Job<T>, sessionId: string) => void;
  /** Gets failures of releasing parked jobs. @default a process warning */
  readonly onError?: (error: unknown, sessionId: string) => void;
}

/**
 * A BullMQ processor (pass it to `new Worker(name, processor, …)`) that runs each job with its session;
 * `close()` when the worker is closed.
 *
 * @example
 * ```ts
 * const processor = createSessionProcessor(manager, async ({ page, job }) => scrape(page, job.data));
 * const worker = new Worker('scrape', processor, { connection });
 * // …
 * await worker.close();
 * await processor.close();
 * ```
 */
export interface SessionProcessor<T = SessionJobData, R = unknown, N extends string = string> {
  (job: Job<T, R, N>, token?: string, signal?: AbortSignal): Promise<R>;
  /** Releases the parked jobs of a session in the queues this processor has seen. */
  releaseParked(sessionId: string): Promise<number>;
  /** Stops listening to the manager and closes the Redis handles it opened. Idempotent. */
  close(): Promise<void>;
}

const DEFAULT_PARK_MS = 60_000;

/**
 * Makes a BullMQ processor that runs each job with its session through `manager.run` (job data carries
 * `sessionId`, never secrets).
 *
 * A job whose session is expired (or being logged in again) is **parked**, not failed: it moves to
 * BullMQ's delayed set without using up an attempt (`moveToDelayed` + `DelayedError`), and is marked in
 * a per-session Redis hash. It is released (moved back to waiting, for any worker on any machine) as soon
 * as the session is active again: by this processor when its own manager sees the session become active,
 * by {@link watchSessions} in the process that made it active, or by {@link releaseParked}. Failing all
 * that, it looks at its session again after `parkMs`. Repeatable and scheduled jobs are parked the same
 * way: an occurrence that fires while the session is expired waits and runs once the session is active.
 *
 * As with `manager.queue`, a job that hit the expiry either never started its work or started it, found
 * itself logged out (`AuthSessionInvalidError`) and could not be logged in again: it then runs again from
 * the start. A job whose session does not exist fails at once with BullMQ's `UnrecoverableError` (no
 * retries) whose message starts with `SESSION_NOT_FOUND`. Any other failure is the job's own, with
 * BullMQ's usual attempts and backoff. Note that BullMQ counts every start in `attemptsStarted`: don't
 * combine parking with the worker option `maxStartedAttempts`.
 *
 * @example
 * ```ts
 * const processor = createSessionProcessor(manager, async ({ page, job }) => {
 *   await page.goto(job.data.url);
 *   return page.title();
 * }, { connection });
 * const worker = new Worker('scrape', processor, { connection, concurrency: 4 });
 * ```
 */
export function createSessionProcessor<T = SessionJobData, R = unknown, N extends string = string>(
  manager: AuthSessionManager,
  processor: SessionJobProcessor<T, R, N>,
  options: SessionProcessorOptions<T>,
): SessionProcessor<T, R, N> {
  if (typeof options !== 'object' || options === null || options.connection === undefined) {
    throw new AuthSessionError('INVALID_OPTIONS', 'createSessionProcessor: "connection" is required');
  }
  const { connection } = options;
  const handles = new Map<string, Queue>();
  const built = buildSessionProcessor(manager, processor, options, (job) => {
    const id = `${job.prefix}\u0000${job.queueName}`;
    let handle = handles.get(id);
    if (!handle) {
      handle = new QueueClass(job.queueName, { connection, prefix: job.prefix });
      // Connection trouble surfaces on the calls that need Redis; an unheard 'error' would crash the process.
      handle.on('error', () => {});
      handles.set(id, handle);
    }
    return handle;
  });
  const close = built.close;
  built.close = async () => {
    await close();
    const all = [...handles.values()];
    handles.clear();
    await Promise.allSettled(all.map((h) => h.close()));
  };
  return built;
}

/**
 * The processor, with the queue handle used for bookkeeping supplied by the caller (`SessionWorker`
 * uses its own worker).
 *
 * @example
 * ```ts
 * const processor = buildSessionProcessor(manager, fn, { parkMs: 60_000 }, () => worker);
 * ```
 */
export function buildSessionProcessor<T, R, N extends string>(
  manager: AuthSessionManager,
  processor: SessionJobProcessor<T, R, N>,
  options: Omit<SessionProcessorOptions<T>, 'connection'>,
  handleFor: (job: Job<T, R, N>) => QueueHandle,
): SessionProcessor<T, R, N> {
  if (typeof processor !== 'function') {
    throw new AuthSessionError('INVALID_OPTIONS', 'createSessionProcessor: processor must be a function');
  }
  const parkMs = options.parkMs ?? DEFAULT_PARK_MS;
  durationOption(parkMs, 'createSessionProcessor: "parkMs"');
  const sessionIdOf =
    options.sessionIdOf ??
    ((job: Job<T>) => (job.data as Partial<SessionJobData> | undefined)?.sessionId as string);
  const onError = options.onError ?? defaultOnError;
  const seen = new Set<QueueHandle>();

  const releaseEverywhere = async (sessionId: string): Promise<number> => {
    let total = 0;
    for (const handle of seen) total += await releaseParked(handle, sessionId);
    return total;
  };
  const stop = onSessionReleasable(manager, (sessionId) => {
    releaseEverywhere(sessionId).catch((err: unknown) => onError(err, sessionId));
  });

  const park = async (job: Job<T, R, N>, token: string, sessionId: string, handle: QueueHandle) => {
    const client = await handle.client;
    const key = parkedKey(job.queueQualifiedName, sessionId);
    const jobId = job.id as string;
    await client.hset(key, { [jobId]: Date.now() });
    await job.moveToDelayed(Date.now() + parkMs, token);
    options.onParked?.(job as unknown as Job<T>, sessionId);
    // A release that ran between the failed run and the move found no delayed job to promote: look again.
    let info: Awaited<ReturnType<AuthSessionManager['get']>> | null;
    try {
      info = await manager.get(sessionId);
    } catch {
      info = null; // unknown: stay parked until a release or the re-check
    }
    if (info === undefined || info?.state === 'active') {
      await client.hdel(key, jobId);
      await job.promote().catch(() => {});
    }
  };

  // Three declared parameters: BullMQ passes its cancellation signal only to processors that take one.
  async function processJob(job: Job<T, R, N>, token?: string, signal?: AbortSignal): Promise<R> {
    const sessionId = sessionIdOf(job as unknown as Job<T>);
    if (typeof sessionId !== 'string' || sessionId.length === 0) {
      throw new UnrecoverableError(`INVALID_OPTIONS: job ${job.id} has no session id (job.data.sessionId)`);
    }
    const handle = handleFor(job);
    seen.add(handle);
    if (job.id !== undefined) {
      const client = await handle.client;
      await client.hdel(parkedKey(job.queueQualifiedName, sessionId), job.id);
    }
    try {
      return await manager.run(sessionId, (ctx) => processor({ ...ctx, job, token }), {
        ...options.run,
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      if (isHoldError(err, sessionId) && token !== undefined && job.id !== undefined && !signal?.aborted) {
        await park(job, token, sessionId, handle);
        throw new DelayedError(`Parked until session "${sessionId}" is active again`);
      }
      if (isGoneError(err, sessionId)) throw new UnrecoverableError(`SESSION_NOT_FOUND: ${err.message}`);
      throw err;
    }
  }

  let closed = false;
  return Object.assign(processJob, {
    releaseParked: releaseEverywhere,
    close: async () => {
      if (closed) return;
      closed = true;
      stop();
    },
  });
}
