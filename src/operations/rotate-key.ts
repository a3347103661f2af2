import { AuthSessionError } from '../errors.js';
import type { Lifecycle } from '../lifecycle/engine.js';
import { resealed } from '../session/changes.js';
import type { SessionRecord } from '../session/record.js';

/** What `rotateKey` did. */
export interface RotateKeyResult {
  /** Records re-sealed with the current key. */
  readonly resealed: number;
  /** Records already sealed with the current key only. */
  readonly current: number;
  /** Records that cannot be opened with any key of the keyring (or are damaged); left as they are. */
  readonly failed: number;
}

const SEALED_FIELDS = ['credentials', 'state', 'proxy'] as const;

/**
 * `manager.rotateKey`: every record re-sealed with the current key, each as one change of the latest record
 * (a run or refresh writing meanwhile makes it re-read and re-seal, never lose the race). Afterwards every
 * record that could be opened opens with the current key alone.
 */
export async function rotateKey(lifecycle: Lifecycle): Promise<RotateKeyResult> {
  const d = lifecycle.deps;
  const keyring = (await d.codec()).keyring;
  let resealedCount = 0;
  let current = 0;
  let failed = 0;
  const ids: string[] = [];
  for await (const record of d.store.records(() => failed++)) ids.push(record.id);
  const reseal = (record: SessionRecord): SessionRecord['sealed'] | undefined => {
    const stale = SEALED_FIELDS.filter(
      (f) => record.sealed[f] !== undefined && !keyring.isCurrent(record.sealed[f]),
    );
    if (stale.length === 0) return undefined;
    const sealed = { ...record.sealed };
    for (const f of stale)
      sealed[f] = keyring.seal(record.id, f, keyring.open(record.id, f, record.sealed[f]));
    return sealed;
  };
  for (const id of ids) {
    try {
      const { record, written } = await lifecycle.commit(id, resealed(reseal));
      if (written) resealedCount++;
      else if (record) current++;
    } catch (err) {
      if (
        err instanceof AuthSessionError &&
        (err.code === 'DECRYPT_FAILED' || err.code === 'CORRUPT_RECORD')
      ) {
        failed++;
        continue;
      }
      throw err;
    }
  }
  return { resealed: resealedCount, current, failed };
}
