import { abortError } from '../browser/slots.js';
import type { Clock } from '../clock.js';

/**
 * A session's fixed offset in every health round: the same in every process (a hash of its id), so the
 * processes sharing a store try a session at the same moment and the first one takes it, and the same in
 * every round, so two validations of a session are `every` apart.
 */
export function roundOffset(id: string, every: number, jitter: number): number {
  // FNV-1a, 32 bits: cheap and well spread for ids.
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return Math.floor(((hash >>> 0) / 2 ** 32) * jitter * every);
}

/** The round a moment belongs to: rounds are aligned on the clock, so every process counts the same ones. */
export function roundAt(now: number, every: number): number {
  return Math.floor(now / every);
}

/** Waits `ms` on the clock; rejects with the signal's error when it aborts. */
export function wait(ms: number, clock: Clock, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(abortError(signal));
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clock.clearTimeout(timer);
      reject(abortError(signal));
    };
    const timer = clock.setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
