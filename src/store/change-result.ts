import type { SessionRecord } from '../session/record.js';

/** What {@link SessionStore.change} did. */
export interface ChangeResult {
  /** The record written, or the latest one read when nothing was written (undefined: there is none). */
  readonly record: SessionRecord | undefined;
  /** Whether the change wrote. */
  readonly written: boolean;
}

/** The record to write: revision one above the stored one (revisions only grow), `updatedAt` now. */
export function stamped(next: SessionRecord, current: SessionRecord | undefined, now: number): SessionRecord {
  const out: SessionRecord = {
    ...next,
    revision: current === undefined ? Math.max(next.revision, 0) : current.revision + 1,
    updatedAt: new Date(now).toISOString(),
  };
  for (const key of Object.keys(out) as (keyof SessionRecord)[]) {
    if (out[key] === undefined) delete out[key];
  }
  return out;
}
