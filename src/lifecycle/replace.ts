import type { SessionRecord } from '../session/record.js';
import { type Lifecycle, nextRecord } from './engine.js';

// A new login (create, update, record) is written over the session as a `pending` record first, then either
// made active or undone (the previous session restored, or a new session's placeholder dropped), the same
// way whatever brought the login.

/**
 * Makes a pending session active with the login it just got: a new generation (runs still holding the
 * previous login notice it), the check time, no failure left. Saved only if the pending record is still the
 * stored one.
 */
export function activate(
  lifecycle: Lifecycle,
  pending: SessionRecord,
  sealed: SessionRecord['sealed'],
  checkedAt: string,
): Promise<SessionRecord> {
  const active = nextRecord(
    pending,
    {
      state: 'active',
      generation: pending.generation + 1,
      lastCheckedAt: checkedAt,
      expiredAt: undefined,
      failure: undefined,
      sealed,
    },
    lifecycle.now(),
  );
  return lifecycle.save(pending, active, { revision: pending.revision });
}

/**
 * After a failed login over an existing session: puts it back exactly as it was (its waiting work included),
 * only a newer revision, so nothing is lost. Saved only if the pending record is still the stored one.
 */
export function restore(
  lifecycle: Lifecycle,
  pending: SessionRecord,
  previous: SessionRecord,
): Promise<SessionRecord> {
  return lifecycle.save(
    pending,
    { ...previous, revision: pending.revision + 1, updatedAt: lifecycle.iso() },
    { revision: pending.revision },
  );
}

/**
 * After a new session's login was aborted: removes its pending placeholder, but only while it is still ours
 * (same revision, still pending). A record written meanwhile (another process took the session over with
 * `update`, say) stays.
 */
export async function dropPlaceholder(lifecycle: Lifecycle, pending: SessionRecord): Promise<void> {
  const { store, codec } = lifecycle.deps;
  const stored = await store.read(pending.id);
  if (stored?.revision !== pending.revision || stored.state !== 'pending') return;
  await store.delete(pending.id);
  (await codec()).forget(pending.id);
}
