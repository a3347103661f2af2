/**
 * Delays before the 2nd, 3rd… delivery attempt of an event: 5 s, 30 s, 2 min, 5 min, 10 min, then every
 * 15 min, until the endpoint's retry window (default 1 hour) is spent: about 8 attempts in the first hour.
 */
export const RETRY_DELAYS_MS: readonly number[] = [5_000, 30_000, 120_000, 300_000, 600_000, 900_000];

/**
 * The delay after attempt number `attempts` (1 = the first attempt failed), with up to 10% added at random
 * (`random` in [0, 1)) so the retries of many events do not all fall at once.
 *
 * @example
 * ```ts
 * retryDelay(1, () => 0); // 5000
 * ```
 */
export function retryDelay(attempts: number, random: () => number = Math.random): number {
  const base = RETRY_DELAYS_MS[Math.min(Math.max(attempts, 1), RETRY_DELAYS_MS.length) - 1]!;
  return Math.round(base * (1 + 0.1 * random()));
}
