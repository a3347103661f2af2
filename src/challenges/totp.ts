import { createGuardrails, generate } from 'otplib';
import { abortError } from '../browser/slots.js';
import type { Clock } from '../clock.js';
import { AuthSessionError } from '../errors.js';
import { delay } from '../server-calls.js';

/** TOTP step in seconds (RFC 6238 default, used by nearly every site). */
export const TOTP_PERIOD_SECONDS = 30;

/**
 * With less than this many seconds left in the current step, `totp()` waits for the next code: a code about
 * to roll over may be rejected by the time the form is submitted.
 */
export const TOTP_MIN_REMAINING_SECONDS = 5;

/** Margin after a step boundary before the next code is taken, so clocks a little apart agree. */
const BOUNDARY_MARGIN_MS = 50;

/**
 * Many sites still hand out 80-bit (10-byte) secrets, e.g. `JBSWY3DPEHPK3PXP`; otplib refuses anything under
 * 16 bytes by default. Generating a code for an existing secret is not the place to enforce that.
 */
const GUARDRAILS = createGuardrails({ MIN_SECRET_BYTES: 10 });

/** The TOTP parameters of a secret: from a bare base32 secret or an `otpauth://totp/…` URI. */
export interface TotpSettings {
  /** Base32 secret, upper case, without spaces or padding. */
  readonly secret: string;
  /** Step in seconds. @default 30 */
  readonly period: number;
  /** Code length. @default 6 */
  readonly digits: number;
  /** HMAC hash. @default 'sha1' */
  readonly algorithm: 'sha1' | 'sha256' | 'sha512';
}

/**
 * Reads a `totpSecret` credential: a base32 secret as sites show it (spaces, dashes, lower case and `=`
 * padding are ignored) or the `otpauth://totp/…?secret=…&period=…&digits=…&algorithm=…` URI of the QR code.
 * Throws `INVALID_CREDENTIALS` (never quoting the secret) when it is neither.
 *
 * @example
 * ```ts
 * parseTotpSecret('jbsw y3dp ehpk 3pxp'); // { secret: 'JBSWY3DPEHPK3PXP', period: 30, digits: 6, algorithm: 'sha1' }
 * ```
 */
export function parseTotpSecret(value: string): TotpSettings {
  const invalid = (why: string) =>
    new AuthSessionError('INVALID_CREDENTIALS', `The "totpSecret" credential ${why}`);
  let secret = value;
  let period = TOTP_PERIOD_SECONDS;
  let digits = 6;
  let algorithm: TotpSettings['algorithm'] = 'sha1';
  if (/^otpauth:/i.test(value.trim())) {
    let url: URL;
    try {
      url = new URL(value.trim());
    } catch {
      throw invalid('is not a valid otpauth:// URI');
    }
    if (url.host.toLowerCase() !== 'totp') throw invalid('is an otpauth URI, but not of type totp');
    secret = url.searchParams.get('secret') ?? '';
    const p = url.searchParams.get('period');
    const d = url.searchParams.get('digits');
    const a = url.searchParams.get('algorithm');
    if (p !== null) period = Number(p);
    if (d !== null) digits = Number(d);
    if (a !== null) algorithm = a.toLowerCase() as TotpSettings['algorithm'];
    if (!Number.isInteger(period) || period < 1 || period > 3600) throw invalid('has an invalid period');
    if (!Number.isInteger(digits) || digits < 6 || digits > 8)
      throw invalid('has an invalid number of digits');
    if (!['sha1', 'sha256', 'sha512'].includes(algorithm)) throw invalid('names an unsupported algorithm');
  }
  secret = secret.replace(/[\s-]/g, '').replace(/=+$/, '').toUpperCase();
  if (!/^[A-Z2-7]+$/.test(secret)) throw invalid('is not a base32 TOTP secret');
  return { secret, period, digits, algorithm };
}

/**
 * The current TOTP code for `secret` (a base32 secret or an `otpauth://` URI) at the clock's time, waiting
 * (abortably, on the injected clock) for the next step when the current one has less than
 * {@link TOTP_MIN_REMAINING_SECONDS} left.
 *
 * @example
 * ```ts
 * const code = await currentTotp('JBSWY3DPEHPK3PXP', systemClock);
 * ```
 */
export async function currentTotp(secret: string, clock: Clock, signal?: AbortSignal): Promise<string> {
  const settings = parseTotpSecret(secret);
  const periodMs = settings.period * 1000;
  const remainingMs = periodMs - (clock.now() % periodMs);
  if (remainingMs < TOTP_MIN_REMAINING_SECONDS * 1000 && remainingMs < periodMs / 2) {
    await delay(remainingMs + BOUNDARY_MARGIN_MS, clock, signal);
  }
  if (signal?.aborted) throw abortError(signal);
  try {
    return await generate({
      secret: settings.secret,
      epoch: Math.floor(clock.now() / 1000),
      period: settings.period,
      digits: settings.digits,
      algorithm: settings.algorithm,
      guardrails: GUARDRAILS,
    });
  } catch {
    // The secret itself must never reach a message.
    throw new AuthSessionError(
      'INVALID_CREDENTIALS',
      'The "totpSecret" credential is not a valid TOTP secret (base32, at least 10 bytes)',
    );
  }
}

/**
 * Builds the `totp()` of a hook context from the session's credentials: the code for their `totpSecret`.
 *
 * @example
 * ```ts
 * const totp = totpFactory({ totpSecret: 'JBSWY3DPEHPK3PXP' }, systemClock, AbortSignal.timeout(60_000));
 * const code = await totp();
 * ```
 */
export function totpFactory(credentials: unknown, clock: Clock, signal: AbortSignal): () => Promise<string> {
  return async () => {
    const secret = (credentials as { totpSecret?: unknown } | null)?.totpSecret;
    if (typeof secret !== 'string' || secret.trim().length === 0) {
      throw new AuthSessionError(
        'INVALID_CREDENTIALS',
        'totp() needs a "totpSecret" credential; add totpSecret to the auth\'s credentials schema and the session',
      );
    }
    return currentTotp(secret, clock, signal);
  };
}
