import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

// A connect link carries its own description (what it connects, until when, a random nonce) and an HMAC of
// it, so a server can tell a link it made from a forged or edited one without keeping a list of links. No
// secret is in it: the nonce only names the link, and what proves it is the HMAC, made with a key derived
// from the manager's own key (see LINK_KEY_INFO): every process of one deployment checks the links of the
// others, and links outlive a restart.

/**
 * HKDF info under which the link keys are derived from each key of the manager's keyring
 * (`Keyring.purposeKeys`): they sign links and nothing else.
 */
export const LINK_KEY_INFO = 'auth-sessions connect links v1';

/** The most characters a link token may have: anything longer is refused before any work. */
export const MAX_TOKEN_CHARS = 8192;

const payloadSchema = z
  .object({
    /** Random id of the link (base64url of 16 bytes): single use is recorded against it. */
    n: z.string().regex(/^[A-Za-z0-9_-]{22}$/),
    /** Expiry, in milliseconds since the epoch. */
    e: z.number().int().nonnegative(),
    /** The target: a session id, or an auth name with labels. */
    t: z.union([
      z.object({ s: z.string().min(1).max(256) }).strict(),
      z.object({ a: z.string().min(1).max(256), l: z.record(z.string(), z.string()).optional() }).strict(),
    ]),
  })
  .strict();

/** What a link token says, once its signature checked out. */
export type LinkPayload = z.output<typeof payloadSchema>;

/**
 * Signs `payload` into the token that ends a connect link: `base64url(JSON).base64url(HMAC-SHA256)`.
 *
 * @example
 * ```ts
 * const token = signLink(secret, { n: nonce, e: Date.now() + 60_000, t: { s: 'acme-crm' } });
 * ```
 */
export function signLink(secret: Uint8Array, payload: LinkPayload): string {
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${body}.${mac(secret, body).toString('base64url')}`;
}

/**
 * Checks a token's signature in constant time and returns what it says, or `undefined` for anything not made
 * by {@link signLink} with one of `secrets` (edited, truncated, re-encoded, or signed with another key).
 * `secrets` are the link keys of every key of the ring, so a link signed before a key rotation checks until
 * its key leaves the ring. Expiry and single use are the caller's business.
 *
 * @example
 * ```ts
 * const payload = verifyLink([current, ...previous], token);
 * if (!payload || payload.e <= clock.now()) return forbidden();
 * ```
 */
export function verifyLink(secrets: readonly Uint8Array[], token: string): LinkPayload | undefined {
  if (token.length > MAX_TOKEN_CHARS) return undefined;
  const dot = token.indexOf('.');
  if (dot <= 0 || dot !== token.lastIndexOf('.')) return undefined;
  const body = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1), 'base64url');
  // Base64url has several spellings of the same bytes: only the canonical one is the link that was made.
  if (given.toString('base64url') !== token.slice(dot + 1)) return undefined;
  // Every key is tried (a handful at most), each comparison in constant time.
  let same = false;
  for (const secret of secrets) {
    const expected = mac(secret, body);
    // A different length is already a mismatch; comparing equal lengths keeps the comparison constant-time.
    if (given.length === expected.length && timingSafeEqual(given, expected)) same = true;
  }
  if (!same) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const parsed = payloadSchema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

/**
 * A value derived from the link for one purpose (the CSRF token of its pages): the same for every page of
 * one link on every process sharing the key, different for every link, unguessable without the key.
 *
 * @example
 * ```ts
 * const csrf = deriveToken(secret, 'csrf', payload.n);
 * ```
 */
export function deriveToken(secret: Uint8Array, purpose: string, nonce: string): string {
  return createHmac('sha256', secret).update(`${purpose}\0${nonce}`).digest('base64url');
}

/**
 * Compares two strings in constant time (for their length): a CSRF token or a visit cookie against the
 * expected one.
 *
 * @example
 * ```ts
 * if (!sameSecret(given, expected)) return forbidden();
 * ```
 */
export function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function mac(secret: Uint8Array, body: string): Buffer {
  return createHmac('sha256', secret).update(`connect-link\0${body}`).digest();
}
