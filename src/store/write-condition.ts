import { AuthSessionError } from '../errors.js';
import type { SessionRecord } from '../session/record.js';

/** A conditional write: it happens only if the stored record still has these values. */
export interface WriteCondition {
  /** The stored record's revision must equal this (fencing: -1 means "must not exist"). */
  readonly revision?: number;
  /** The stored record's generation must equal this. */
  readonly generation?: number;
}

/** The record with a revision above the stored one (revisions only grow, so `revision` conditions stay sound). */
export function aboveRevision(record: SessionRecord, current: SessionRecord | undefined): SessionRecord {
  return current && current.revision >= record.revision
    ? { ...record, revision: current.revision + 1 }
    : record;
}

/** Whether a record satisfies a write condition (see {@link assertCondition}). */
export function meetsCondition(current: SessionRecord, condition: WriteCondition): boolean {
  return (
    (condition.revision === undefined || current.revision === condition.revision) &&
    (condition.generation === undefined || current.generation === condition.generation)
  );
}

/** Throws `STALE_WRITE` when the stored record does not satisfy a write condition. */
export function assertCondition(
  id: string,
  current: SessionRecord | undefined,
  condition: WriteCondition,
): void {
  const revision = current ? current.revision : -1;
  if (condition.revision !== undefined && revision !== condition.revision) {
    throw new AuthSessionError('STALE_WRITE', `Session "${id}" changed meanwhile`, { sessionId: id });
  }
  if (condition.generation !== undefined && current?.generation !== condition.generation) {
    throw new AuthSessionError('STALE_WRITE', `Session "${id}" was renewed meanwhile`, { sessionId: id });
  }
}
