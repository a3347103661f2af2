import { AuthSessionError } from './errors.js';

/**
 * The longest duration a timer can wait: Node (like browsers) stores timer delays in a signed 32-bit
 * integer and fires a longer one after 1 ms. Every duration option is checked against it, so no timer is
 * ever clamped silently.
 */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/** What {@link durationOption} accepts besides a number of milliseconds above 0 and up to {@link MAX_DURATION_MS}. */
export interface DurationRule {
  /** `0` is allowed (e.g. "no delay", "always check"). @default false */
  readonly zero?: boolean;
  /** `Infinity` is allowed and means "no limit" (documented on the option). @default false */
  readonly infinity?: boolean;
}

/**
 * Checks one duration option: a number of milliseconds above 0 (or 0 itself when `rule.zero`) up to
 * {@link MAX_DURATION_MS}, or `Infinity` when `rule.infinity`. Returns `value` unchanged (undefined stays
 * undefined); otherwise throws `INVALID_OPTIONS` naming the option and the accepted range.
 *
 * @example
 * ```ts
 * const waitMs = durationOption(options.lockWaitMs, 'lockWaitMs', { infinity: true }) ?? 180_000;
 * ```
 */
export function durationOption<T>(
  value: T,
  option: string,
  rule: DurationRule = {},
): T & (number | undefined) {
  if (value === undefined) return value as T & undefined;
  const ok =
    typeof value === 'number' &&
    ((rule.infinity === true && value === Number.POSITIVE_INFINITY) ||
      (Number.isFinite(value) && (rule.zero ? value >= 0 : value > 0) && value <= MAX_DURATION_MS));
  if (ok) return value as T & number;
  const range = `${rule.zero ? '0' : 'above 0'} up to ${MAX_DURATION_MS}`;
  const infinity = rule.infinity ? ', or Infinity for no limit' : '';
  throw new AuthSessionError(
    'INVALID_OPTIONS',
    `${option} must be a number of milliseconds from ${range}${infinity}; got ${describeValue(value)}`,
  );
}

/** A short, safe description of a rejected option value: numbers as they are, anything else by its type. */
function describeValue(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (value === null) return 'null';
  return `a ${typeof value}`;
}
