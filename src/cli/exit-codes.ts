/**
 * Exit codes of the `auth-sessions` CLI (stable, documented in `auth-sessions --help` and the README).
 *
 * @example
 * ```sh
 * auth-sessions validate acme || [ $? -eq 4 ] && notify "acme must log in again"
 * ```
 */
export const EXIT = {
  /** Success. */
  OK: 0,
  /** The operation failed (login failed, check failed, decryption failed, some records not re-sealed…). */
  FAILURE: 1,
  /** Usage or configuration error: bad arguments, missing or invalid config, malformed input file. */
  USAGE: 2,
  /** Not found: no such session (or auth). */
  NOT_FOUND: 3,
  /** The session is expired (or never logged in): it must be updated or recorded again. */
  EXPIRED: 4,
  /** Infrastructure unavailable: site unreachable, proxy error, storage down, browser missing, lock timeout. */
  UNAVAILABLE: 5,
  /** Interrupted (Ctrl-C). */
  INTERRUPTED: 130,
} as const;

/** One of {@link EXIT}. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A bad command line: printed with a hint to `--help`, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A problem with the config file (missing, failing, wrong export): exit code 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The person stopped a prompt (Ctrl-C, Ctrl-D): exit code 130. */
export class InterruptedError extends Error {
  override name = 'InterruptedError';
}

const BY_CODE: Readonly<Record<string, ExitCode>> = {
  SESSION_NOT_FOUND: EXIT.NOT_FOUND,
  OPERATION_NOT_FOUND: EXIT.NOT_FOUND,
  UNKNOWN_AUTH: EXIT.NOT_FOUND,
  SESSION_EXPIRED: EXIT.EXPIRED,
  INVALID_OPTIONS: EXIT.USAGE,
  INVALID_CREDENTIALS: EXIT.USAGE,
  TARGET_UNREACHABLE: EXIT.UNAVAILABLE,
  PROXY_ERROR: EXIT.UNAVAILABLE,
  STORAGE_UNAVAILABLE: EXIT.UNAVAILABLE,
  BROWSER_UNAVAILABLE: EXIT.UNAVAILABLE,
  LOCK_TIMEOUT: EXIT.UNAVAILABLE,
};

/** The exit code for an error thrown by a command. */
export function exitCodeFor(err: unknown, interrupted: boolean): ExitCode {
  if (err instanceof UsageError || err instanceof ConfigError) return EXIT.USAGE;
  if (err instanceof InterruptedError || interrupted) return EXIT.INTERRUPTED;
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return (typeof code === 'string' && BY_CODE[code]) || EXIT.FAILURE;
}
