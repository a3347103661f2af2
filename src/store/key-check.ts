import { isAuthSessionError } from '../errors.js';
import type { RecordAuthenticator } from '../session/authenticity.js';
import type { SessionRecord } from '../session/record.js';
import type { StoreAdapter } from './contract.js';
import { decodeRecord } from './decode-record.js';

/**
 * Checks the first record listed under `prefix` with a newly resolved authenticator: a store whose records
 * were written with another key throws `KEY_MISMATCH`, before anything is written that the other workers
 * cannot open. A damaged record, or none, passes (it is reported when it is read). `call` bounds each
 * store call.
 */
export async function checkKeyOnFirstRecord(
  store: StoreAdapter,
  prefix: string,
  authenticator: RecordAuthenticator,
  call: <T>(what: string, fn: () => Promise<T>) => Promise<T>,
): Promise<void> {
  const iterator = store.scan(prefix)[Symbol.asyncIterator]();
  try {
    const first = await call('list', () => iterator.next());
    if (!first.done) {
      const [key, raw] = first.value;
      let record: SessionRecord | undefined;
      try {
        record = decodeRecord(raw, key.slice(prefix.length));
      } catch {
        // A damaged record says nothing about the key; it is reported when it is read.
      }
      try {
        if (record) authenticator.verify(record);
      } catch (err) {
        if (isAuthSessionError(err, 'KEY_MISMATCH')) throw err;
      }
    }
  } finally {
    await iterator.return?.()?.catch(() => {});
  }
}
