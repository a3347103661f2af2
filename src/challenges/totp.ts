import { generate } from 'otplib';
import { abortError } from '../browser/slots.js';
import type { Clock } from '../clock.js';
import { AuthSessionError } from '../errors.js';

/** TOTP step in seconds (RFC 6238 default, used by nearly every site). */
export const TOTP_PERIOD_SECONDS = 30;

/**
 * With less than this many seconds left in the current step, `totp()` waits for the next code: a code about
 * to roll over may be rejected by the time the form is submitted.
 */
export const TOTP_MIN_REMAINING_SECONDS = 5;

/**
 * The current TOTP code for `secret` at the clock's time, waiting (abortably, on the injected clock) for
 * the next step when the current one is about to roll over.
 *
 * @example
 * ```ts
 * const code = await currentTotp('JBSWY3DPEHPK3PXP', systemClock);
 * ```
 */
export async function currentTotp(secret: string, clock: Clock, signal?: AbortSignal): Promise<string> {
  const nowSeconds = clock.now() / 1000;
  const remaining = TOTP_PERIOD_SECONDS - (nowSeconds % TOTP_PERIOD_SECONDS);
  if (remaining < TOTP_MIN_REMAINING_SECONDS) await sleepOn(clock, Math.ceil(remaining * 1000) + 50, signal);
  try {
    return await generate({ secret, epoch: Math.floor(clock.now() / 1000), period: TOTP_PERIOD_SECONDS });
  } catch {
    // The secret itself must never reach a message.
    throw new AuthSessionError(
      'INVALID_CREDENTIALS',
      'The "totpSecret" credential is not a valid base32 TOTP secret',
    );
  }
}

/** Builds the `totp()` of a hook context from the session's credentials. */
export function totpFactory(credentials: unknown, clock: Clock, signal: AbortSignal): () => Promise<string> {
  return async () => {
    const secret = (credentials as { totpSecret?: unknown } | null)?.totpSecret;
    if (typeof secret !== 'string' || secret.length === 0) {
      throw new AuthSessionError(
        'INVALID_CREDENTIALS',
        'totp() needs a "totpSecret" credential; add totpSecret to the auth\'s credentials schema and the session',
      );
    }
    return currentTotp(secret, clock, signal);
  };
}

function sleepOn(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const onAbort = () => {
      clock.clearTimeout(timer);
      reject(abortError(signal));
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
