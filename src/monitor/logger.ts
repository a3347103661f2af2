import { AuthSessionError } from '../errors.js';

/**
 * A logger the manager reports its lifecycle to: pino's shape (`logger.info(obj, msg)`), so a pino logger
 * (or a child of one) fits as is; anything with these four methods works. The object logged carries the
 * session id, auth, state, duration and error code only: never a credential, cookie, token, proxy password or
 * label value, and never an error message (messages are for people; codes are for log queries).
 *
 * Levels: `debug` for every step (run start/end, checks, transitions), `info` for creations, refreshes,
 * updates and deletions, `warn` for expirations, failed creations, failed runs and warnings.
 *
 * @example
 * ```ts
 * import pino from 'pino';
 * const manager = new AuthSessionManager({ auths, logger: pino({ level: 'debug' }).child({ lib: 'auth-sessions' }) });
 * ```
 */
export interface AuthSessionLogger {
  debug(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

/** A log level of {@link AuthSessionLogger}. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** Throws `INVALID_OPTIONS` unless `logger` has the four methods (`undefined` means no logger). */
export function validateLogger(logger: unknown): AuthSessionLogger | undefined {
  if (logger === undefined) return undefined;
  if (typeof logger !== 'object' || logger === null) {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      '"logger" must be an object with debug, info, warn and error methods (e.g. a pino logger)',
    );
  }
  for (const level of LEVELS) {
    if (typeof (logger as Record<string, unknown>)[level] !== 'function') {
      throw new AuthSessionError(
        'INVALID_OPTIONS',
        `"logger" has no ${level}() method; pass a pino-compatible logger ({ debug, info, warn, error })`,
      );
    }
  }
  return logger as AuthSessionLogger;
}
