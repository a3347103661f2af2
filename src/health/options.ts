import { durationOption } from '../duration.js';
import { AuthSessionError } from '../errors.js';
import { assertKnownOptions, HEALTH_OPTION_NAMES } from '../option-names.js';

/**
 * Options of `manager.startHealthChecks(options)`.
 *
 * @example
 * ```ts
 * const health = manager.startHealthChecks({ every: 5 * 60_000, refreshAhead: 10 * 60_000, concurrency: 2 });
 * ```
 */
export interface HealthCheckOptions<N extends string = string> {
  /**
   * Milliseconds between two validations of a session. Rounds are aligned on the clock (every process
   * sharing the store counts the same rounds) and each session has its own fixed offset in the round
   * (jitter), so checks spread over the round instead of starting all at once.
   */
  readonly every: number;
  /**
   * A credentials session whose login lapses within this many milliseconds is logged in again before it
   * does (a recorder session is announced with an `expiring` event instead). Keep it above `every`, so a
   * round always falls inside the window, and below the login's lifetime. 0 turns refresh ahead off.
   */
  readonly refreshAhead: number;
  /**
   * Sessions validated at once by this process (each takes a browser context, within the browser's own
   * limit, so runs keep the rest).
   * @default 1
   */
  readonly concurrency?: number;
  /** Only sessions of this auth. */
  readonly auth?: N;
  /** Only sessions carrying all these labels. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Stops the health checks when aborted (as `stop()` does). */
  readonly signal?: AbortSignal;
  /**
   * Fraction of `every` over which the sessions' offsets are spread (0: every session at the start of the
   * round).
   * @default 0.5
   */
  readonly jitter?: number;
}

/** Options after validation. */
export interface ResolvedHealthOptions {
  readonly every: number;
  readonly refreshAhead: number;
  readonly concurrency: number;
  readonly auth: string | undefined;
  readonly labels: Readonly<Record<string, string>>;
  readonly signal: AbortSignal | undefined;
  readonly jitter: number;
}

const WHERE = 'startHealthChecks(options)';

/** Validates the options once; a bad one throws `INVALID_OPTIONS` naming it. */
export function resolveHealthOptions(options: HealthCheckOptions): ResolvedHealthOptions {
  if (typeof options !== 'object' || options === null) {
    throw new AuthSessionError('INVALID_OPTIONS', `${WHERE}: options must be an object with "every"`);
  }
  assertKnownOptions(options, HEALTH_OPTION_NAMES, WHERE);
  if (options.every === undefined) {
    throw new AuthSessionError('INVALID_OPTIONS', `${WHERE}: "every" (milliseconds) is required`);
  }
  const every = durationOption(options.every, `${WHERE}: "every"`);
  const refreshAhead = durationOption(options.refreshAhead ?? 0, `${WHERE}: "refreshAhead"`, { zero: true });
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1000) {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      `${WHERE}: "concurrency" must be an integer from 1 to 1000, got ${String(concurrency)}`,
    );
  }
  const jitter = options.jitter ?? 0.5;
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1)) {
    throw new AuthSessionError('INVALID_OPTIONS', `${WHERE}: "jitter" must be a number from 0 to 1`);
  }
  if (options.auth !== undefined && typeof options.auth !== 'string') {
    throw new AuthSessionError('INVALID_OPTIONS', `${WHERE}: "auth" must be an auth name`);
  }
  const labels = options.labels ?? {};
  if (
    typeof labels !== 'object' ||
    labels === null ||
    Object.values(labels).some((v) => typeof v !== 'string')
  ) {
    throw new AuthSessionError('INVALID_OPTIONS', `${WHERE}: "labels" must map names to strings`);
  }
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw new AuthSessionError('INVALID_OPTIONS', `${WHERE}: "signal" must be an AbortSignal`);
  }
  return {
    every,
    refreshAhead,
    concurrency,
    auth: options.auth,
    labels: { ...labels },
    signal: options.signal,
    jitter,
  };
}
