import { AuthSessionError } from '../errors.js';
import type { AuthSessionLock } from '../lock/lock.js';
import type { SessionStore } from '../store/session-store.js';

/** Lease of the claim lock: held only while the claim is read and written (two store calls). */
const CLAIM_LEASE_MS = 30_000;

/** Where the last round that validated a session is kept (a meta value of the store, with a TTL). */
export function claimKey(id: string): string {
  return `health/${id}`;
}

/**
 * Claims a session for one health round, so that of all the processes sharing the store exactly one validates
 * it in that round: the manager's lock (`waitMs: 0`: held → another process is claiming it, skip), then, under
 * it, the round last claimed is read from the store and, when older, this round is written. Holding the lock
 * for the whole round instead would keep a PostgreSQL connection per session busy; the stored round makes the
 * claim outlast the lock. Resolves true when this process won the session for `round`.
 */
export async function claimRound(
  deps: { readonly lock: AuthSessionLock; readonly store: Pick<SessionStore, 'getMeta' | 'setMeta'> },
  id: string,
  round: number,
  every: number,
  signal: AbortSignal,
): Promise<boolean> {
  let handle: Awaited<ReturnType<AuthSessionLock['acquire']>>;
  try {
    handle = await deps.lock.acquire(`health:${id}`, { leaseMs: CLAIM_LEASE_MS, waitMs: 0, signal });
  } catch (err) {
    if (err instanceof AuthSessionError && err.code === 'LOCK_TIMEOUT') return false;
    throw err;
  }
  try {
    const stored = await deps.store.getMeta(claimKey(id)).catch((err: unknown) => {
      // A damaged claim is overwritten; a store failure propagates.
      if (err instanceof AuthSessionError && err.code === 'CORRUPT_RECORD') return undefined;
      throw err;
    });
    const last = (stored as { round?: unknown } | undefined)?.round;
    if (typeof last === 'number' && last >= round) return false;
    // Kept two rounds: long enough for every process of this round, gone when nobody checks any more.
    await deps.store.setMeta(claimKey(id), { v: 1, round }, Math.min(2 * every, 2 ** 31 - 1));
    return true;
  } finally {
    await handle.release().catch(() => {});
  }
}
