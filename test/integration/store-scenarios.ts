/**
 * Session-store scenarios every shared store must pass (Redis and PostgreSQL run them): fenced writes that
 * re-check after a write slipped in between, and records that cannot be read are never written over.
 */
import type Keyv from 'keyv';
import { expect } from 'vitest';
import type { SessionRecord } from '../../src/session/record.js';
import type { StoreAdapter } from '../../src/store/contract.js';
import { registerStoreAdapter, storeAdapterFor } from '../../src/store/registry.js';
import { SessionStore } from '../../src/store/session-store.js';
import { codeOf } from '../shared.js';

/**
 * A fenced write (on the generation) whose compare-and-set meets a record another writer saved in between:
 * it reads again, re-checks the fence, lands above the other write's revision, and a writer fenced on the
 * revision it skipped fails. `keyv` holds session `id`; `newStore` opens another connection.
 */
export async function fencedWriteRechecks(newStore: () => Keyv, keyv: Keyv, id: string): Promise<void> {
  const original = storeAdapterFor(keyv);
  const base = (await new SessionStore(keyv).read(id))!;
  let sneaked = false;
  // A run saving its cookies slips in between our read and our compare-and-set.
  const slipping: StoreAdapter = {
    ...original,
    atomic: original.atomic,
    read: (key) => original.read(key),
    delete: (key) => original.delete(key),
    scan: (prefix) => original.scan(prefix),
    write: (key, value, ttlMs) => original.write(key, value, ttlMs),
    async compareAndSet(key, expected, next) {
      if (!sneaked) {
        sneaked = true;
        await new SessionStore(newStore()).write(
          { ...base, revision: base.revision + 1, labels: { by: 'run' } },
          { revision: base.revision },
        );
      }
      return original.compareAndSet(key, expected, next);
    },
  };
  registerStoreAdapter(keyv, slipping);
  const sessions = new SessionStore(keyv);
  const refreshed: SessionRecord = {
    ...base,
    revision: base.revision + 1,
    generation: base.generation + 1,
    labels: { by: 'refresh' },
  };
  const written = await sessions.write(refreshed, { generation: base.generation });
  registerStoreAdapter(keyv, original);
  expect(sneaked).toBe(true);
  const stored = (await sessions.read(id))!;
  expect(stored.labels).toEqual({ by: 'refresh' });
  // The run took revision base+1; the refresh went above it, so a writer fenced on base+1 now fails.
  expect(stored.revision).toBe(base.revision + 2);
  expect(written.revision).toBe(base.revision + 2);
  expect(
    await codeOf(sessions.write({ ...base, revision: base.revision + 2 }, { revision: base.revision + 1 })),
  ).toBe('STALE_WRITE');
}

/** A stored record that does not validate is CORRUPT_RECORD for a fenced write, and stays as it was. */
export async function unreadableRecordIsNeverOverwritten(keyv: Keyv, id: string): Promise<void> {
  const sessions = new SessionStore(keyv);
  const base = (await sessions.read(id))!;
  const broken = '{"v":1,"broken":true}';
  await storeAdapterFor(keyv).write(`session/${id}`, broken);
  expect(
    await codeOf(sessions.write({ ...base, revision: base.revision + 1 }, { revision: base.revision })),
  ).toBe('CORRUPT_RECORD');
  expect(await codeOf(sessions.read(id))).toBe('CORRUPT_RECORD');
  expect(await storeAdapterFor(keyv).read(`session/${id}`)).toBe(broken);
}
