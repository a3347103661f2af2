import { z } from 'zod';

/**
 * The current (and only) envelope format version.
 *
 * @example
 * ```ts
 * if (envelope.v !== ENVELOPE_VERSION) reseal(envelope);
 * ```
 */
export const ENVELOPE_VERSION = 1;

/**
 * Zod schema of an {@link Envelope}. It checks the shape only (version, a plausible `kid`, string `nonce` and
 * `box`); the content (canonical base64, a 24-byte nonce, the authenticator) is checked by `Keyring.open`, so
 * that every kind of tampering reads the same way: `DECRYPT_FAILED`.
 *
 * @example
 * ```ts
 * const parsed = envelopeSchema.safeParse(JSON.parse(text));
 * if (!parsed.success) throw new AuthSessionError('CORRUPT_RECORD', 'Unreadable record');
 * ```
 */
export const envelopeSchema = z.strictObject({
  /** Format version, always 1. */
  v: z.literal(ENVELOPE_VERSION),
  /** Id of the key that sealed the box (a key check value, or a name given to a passphrase key). */
  kid: z.string().min(1).max(64),
  /** Base64 of the 24-byte XSalsa20 nonce. */
  nonce: z.string(),
  /** Base64 of the XSalsa20-Poly1305 box (ciphertext plus 16-byte authenticator). */
  box: z.string(),
});

/**
 * A sealed value as stored: tweetnacl `secretbox` output with the nonce and the id of the key that sealed it.
 * The record id and field name are bound inside the sealed payload, so an envelope moved elsewhere does not open.
 *
 * @example
 * ```ts
 * const envelope: Envelope = keyring.seal(session.id, 'credentials', credentials);
 * // { v: 1, kid: '3f1c…', nonce: 'base64 (24 bytes)', box: 'base64' }
 * ```
 */
export type Envelope = z.infer<typeof envelopeSchema>;
