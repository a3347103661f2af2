import { AuthSessionError, issuePaths } from '../errors.js';
import {
  parseJsonSafely,
  RECORD_VERSION,
  type SessionRecord,
  storedRecordSchema,
} from '../session/record.js';

/** Parses and validates one stored record; anything unexpected is `CORRUPT_RECORD`. */
export function decodeRecord(raw: unknown, id: string): SessionRecord {
  let value: unknown;
  try {
    value = typeof raw === 'string' ? parseJsonSafely(raw) : undefined;
  } catch (err) {
    throw corrupt(id, err);
  }
  const version = (value as { v?: unknown } | null | undefined)?.v;
  if (typeof version === 'number' && Number.isInteger(version) && version > RECORD_VERSION) {
    throw new AuthSessionError(
      'CORRUPT_RECORD',
      `The stored record of session "${id}" has layout version ${version}, written by a newer release of ` +
        `auth-sessions (this one reads version ${RECORD_VERSION}); upgrade this worker`,
      { sessionId: id },
    );
  }
  const parsed = storedRecordSchema.safeParse(value);
  if (!parsed.success) throw corrupt(id, new Error(issuePaths(parsed.error)));
  if (parsed.data.id !== id) throw corrupt(id, new Error('id mismatch'));
  // Unknown fields ride along at run time (see storedRecordSchema); the code only ever reads known ones.
  return parsed.data as SessionRecord;
}

/** The `CORRUPT_RECORD` error of a session whose stored record cannot be read. */
export function corrupt(id: string, cause: unknown): AuthSessionError {
  return new AuthSessionError(
    'CORRUPT_RECORD',
    `The stored record of session "${id}" is damaged or of an unknown shape`,
    {
      sessionId: id,
      cause,
    },
  );
}
