import { AuthSessionError } from '../errors.js';
import type { SessionRecord } from './record.js';

/**
 * Signs and checks the clear part of session records with the key (see `Keyring.mac`): an attacker who can
 * write the store but has no key cannot rename a record's auth, change its labels or state, or drop one of
 * its sealed boxes without the record becoming `CORRUPT_RECORD`.
 */
export interface RecordAuthenticator {
  /** The record with its `mac` set for its current content. */
  sign(record: SessionRecord): SessionRecord;
  /**
   * Throws `CORRUPT_RECORD` when the record is not authentic (no tag, or a tag that does not match), and
   * `KEY_MISMATCH` when it was written with a key this manager does not hold.
   */
  verify(record: SessionRecord): void;
}

/** What a keyring offers for authenticating records. */
export interface MacKeyring {
  mac(text: string): { kid: string; tag: string };
  verifyMac(text: string, mac: { kid: string; tag: string }): 'ok' | 'unknown-key' | 'mismatch';
}

/**
 * The record as authenticated: every field but `mac`, keys sorted at every level, so the text does not
 * depend on the order in which fields were written or parsed.
 */
export function canonicalText(record: SessionRecord): string {
  const { mac: _mac, ...rest } = record;
  return JSON.stringify(sortKeys(rest));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== undefined) out[key] = sortKeys(v);
  }
  return out;
}

/** A {@link RecordAuthenticator} over the manager's keyring. */
export function keyringAuthenticator(keyring: MacKeyring): RecordAuthenticator {
  return {
    sign(record) {
      return { ...record, mac: keyring.mac(canonicalText(record)) };
    },
    verify(record) {
      if (record.proxy !== undefined && record.sealed.proxy === undefined) {
        throw notAuthentic(record.id, 'its proxy has no sealed settings');
      }
      if (record.mac === undefined) throw notAuthentic(record.id, 'it carries no authentication tag');
      const verdict = keyring.verifyMac(canonicalText(record), record.mac);
      if (verdict === 'unknown-key') {
        throw new AuthSessionError(
          'KEY_MISMATCH',
          `Session "${record.id}" was written with a key this manager does not have (key id "${record.mac.kid}"); ` +
            'configure the same key as the other workers (or add it as a previous key), instead of writing records they cannot open',
          { sessionId: record.id },
        );
      }
      if (verdict === 'mismatch') throw notAuthentic(record.id, 'it was changed without the key');
    },
  };
}

function notAuthentic(id: string, why: string): AuthSessionError {
  return new AuthSessionError(
    'CORRUPT_RECORD',
    `The stored record of session "${id}" is not authentic (${why}); it is not used`,
    { sessionId: id },
  );
}
