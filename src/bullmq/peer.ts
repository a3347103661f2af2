import type * as BullMQ from 'bullmq';
import { importPeer } from '../peers.js';

// Loaded before the modules that use it run (top-level await): a missing bullmq is one clear error.
const bullmq: typeof BullMQ = await importPeer('auth-sessions/bullmq', 'bullmq', () => import('bullmq'));

/** BullMQ's classes the integration constructs (the application's own copy of bullmq). */
export const { Worker, Queue, Job, DelayedError, UnrecoverableError } = bullmq;
