import type { Worker, WorkerOptions } from 'bullmq';
import type { AuthSessionManager } from '../manager.js';
import { parkedJobIds, releaseParked } from './parking.js';
import { Worker as WorkerClass } from './peer.js';
import {
  buildSessionProcessor,
  type SessionJobData,
  type SessionJobProcessor,
  type SessionProcessor,
  type SessionProcessorOptions,
} from './processor.js';

/**
 * Options of {@link SessionWorker}: BullMQ's `WorkerOptions` (`connection`, `concurrency`, `prefix`…) plus
 * the session options of `createSessionProcessor` (`sessionIdOf`, `parkMs`, `run`, `onParked`, `onError`).
 *
 * @example
 * ```ts
 * const options: SessionWorkerOptions = { connection: { host: '127.0.0.1', port: 6379 }, concurrency: 4 };
 * ```
 */
export interface SessionWorkerOptions<T = SessionJobData>
  extends WorkerOptions,
    Omit<SessionProcessorOptions<T>, 'connection'> {}

/**
 * A BullMQ `Worker` whose jobs run with their session (see `createSessionProcessor`): jobs whose session
 * expired are parked without using up an attempt and released when the session is active again, on any
 * machine. Its own Redis connection keeps track of parked jobs; `close()` closes the worker (waiting for
 * running jobs, as BullMQ does) and stops listening to the manager. Close it before the manager.
 *
 * @example
 * ```ts
 * const worker = new SessionWorker('scrape', manager, async ({ page, job }) => {
 *   await page.goto(job.data.url);
 *   return page.title();
 * }, { connection: { host: '127.0.0.1', port: 6379 }, concurrency: 4 });
 * // … on shutdown:
 * await worker.close();
 * await manager.close();
 * ```
 */
export class SessionWorker<T = SessionJobData, R = unknown, N extends string = string> {
  /** The BullMQ worker (listen to its `completed`, `failed`, `error` events). */
  readonly worker: Worker<T, R, N>;
  readonly #processor: SessionProcessor<T, R, N>;

  constructor(
    name: string,
    manager: AuthSessionManager,
    processor: SessionJobProcessor<T, R, N>,
    options: SessionWorkerOptions<T>,
  ) {
    const { sessionIdOf, parkMs, run, onParked, onError, ...workerOptions } = options;
    let worker: Worker<T, R, N> | undefined;
    this.#processor = buildSessionProcessor(
      manager,
      processor,
      {
        ...(sessionIdOf ? { sessionIdOf } : {}),
        ...(parkMs === undefined ? {} : { parkMs }),
        ...(run ? { run } : {}),
        ...(onParked ? { onParked } : {}),
        ...(onError ? { onError } : {}),
      },
      () => worker as Worker<T, R, N>,
    );
    worker = new WorkerClass<T, R, N>(name, this.#processor, workerOptions);
    this.worker = worker;
  }

  /**
   * Releases the parked jobs of a session in this worker's queue now; returns how many.
   *
   * @example
   * ```ts
   * await worker.releaseParked(sessionId);
   * ```
   */
  releaseParked(sessionId: string): Promise<number> {
    return releaseParked(this.worker, sessionId);
  }

  /**
   * Ids of the session's parked jobs in this worker's queue.
   *
   * @example
   * ```ts
   * console.log(`${(await worker.parkedJobIds(sessionId)).length} jobs wait for a new login`);
   * ```
   */
  parkedJobIds(sessionId: string): Promise<string[]> {
    return parkedJobIds(this.worker, sessionId);
  }

  /**
   * Closes the worker (running jobs finish first unless `force`) and stops listening to the manager.
   *
   * @example
   * ```ts
   * await worker.close();
   * ```
   */
  async close(force = false): Promise<void> {
    try {
      await this.worker.close(force);
    } finally {
      await this.#processor.close();
    }
  }
}
