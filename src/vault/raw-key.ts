import { AuthSessionError } from '../errors.js';
import { decodeBase64 } from './base64.js';
import { KEY_LENGTH } from './keyring.js';

/** How to make a key, for error messages. */
export const MAKE_KEY_HINT = `Make one with: node -e "console.log(require('crypto').randomBytes(32).toString('base64'))"`;

/** `INVALID_OPTIONS` for a key that is not one; never repeats the key. */
export function invalidKey(subject: string, problem: string): AuthSessionError {
  return new AuthSessionError(
    'INVALID_OPTIONS',
    `${subject} is not a valid key: ${problem}; a key is exactly ${KEY_LENGTH} random bytes, base64-encoded ` +
      `(for a passphrase use { passphrase }). ${MAKE_KEY_HINT}`,
  );
}

/** Parses a base64 (or base64url, padding optional) 32-byte key; the message never repeats the text. */
export function parseRawKey(text: string, subject: string): Uint8Array {
  const trimmed = text.trim();
  if (trimmed === '') throw invalidKey(subject, 'it is empty');
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) throw invalidKey(subject, 'it looks like hex, base64 is expected');
  const standard = trimmed.replace(/-/g, '+').replace(/_/g, '/');
  const padded = standard + '='.repeat((4 - (standard.length % 4)) % 4);
  const key = /^[A-Za-z0-9+/]+=*$/.test(standard) ? decodeBase64(padded) : undefined;
  if (key === undefined) throw invalidKey(subject, 'it is not valid base64');
  if (key.length !== KEY_LENGTH) {
    key.fill(0);
    throw invalidKey(subject, `it decodes to ${key.length} bytes`);
  }
  return key;
}
