/**
 * `auth-sessions/bullmq`: run BullMQ jobs with auth sessions. Jobs whose session expired are parked (no
 * attempt used up) and released when the session is active again, on any machine.
 *
 * @example
 * ```ts
 * import { Queue } from 'bullmq';
 * import { SessionWorker, watchSessions } from 'auth-sessions/bullmq';
 *
 * const connection = { host: '127.0.0.1', port: 6379 };
 * const worker = new SessionWorker('scrape', manager, async ({ page, job }) => {
 *   await page.goto(job.data.url);
 *   return page.title();
 * }, { connection });
 * const queue = new Queue('scrape', { connection });
 * await queue.add('report', { sessionId: session.id, url: 'https://crm.example/reports' });
 * const watcher = watchSessions(manager, { queues: [queue] }); // in the process that calls update/record
 * ```
 *
 * @module
 */

export { parkedJobIds, parkedKey, type QueueHandle, releaseParked } from './parking.js';
export {
  createSessionProcessor,
  type SessionJobContext,
  type SessionJobData,
  type SessionJobProcessor,
  type SessionProcessor,
  type SessionProcessorOptions,
} from './processor.js';
export { type SessionWatcher, type WatchSessionsOptions, watchSessions } from './watch.js';
export { SessionWorker, type SessionWorkerOptions } from './worker.js';
