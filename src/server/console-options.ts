import type { Clock } from '../clock.js';
import { AuthSessionError } from '../errors.js';
import { assertKnownOptions } from '../option-names.js';
import { randomToken } from './security.js';

/**
 * Options of {@link createConsole}.
 *
 * @example
 * ```ts
 * const web = createConsole(manager, { token: process.env.CONSOLE_TOKEN, basePath: '/auth' });
 * ```
 */
export interface ConsoleOptions {
  /**
   * The secret an operator signs in with (`?token=` on any console URL, or the sign-in form). Compared in
   * constant time; never shown by the console. At least 16 characters.
   * @default a random token, readable as {@link WebConsole.token}
   */
  readonly token?: string;
  /** Path the console is served under when mounted in a larger app, e.g. `/auth`. @default '' (the root) */
  readonly basePath?: string;
  /**
   * The console's public origin and path as people reach it (behind a proxy), e.g. `https://ops.example/auth`:
   * connect links are made with it.
   * @default the URL `listen()` serves on
   */
  readonly publicUrl?: string;
  /** Time source of console sessions, the sign-in rate limit, the charts and link expiry. @default the system clock */
  readonly clock?: Clock;
  /**
   * Timeouts of the connect pages' live view: `recordTimeoutMs` bounds a whole recording (default 10
   * minutes), `leaveTimeoutMs` ends one nobody watches any more (default 60 s).
   * @default {}
   */
  readonly connect?: { readonly recordTimeoutMs?: number; readonly leaveTimeoutMs?: number };
}

export const CONSOLE_OPTION_NAMES: readonly string[] = Object.keys({
  token: true,
  basePath: true,
  publicUrl: true,
  clock: true,
  connect: true,
} satisfies { readonly [K in keyof Required<ConsoleOptions>]: true });

/** What {@link checkConsoleOptions} found in the options (with the defaults the console makes). */
export interface CheckedConsoleOptions {
  /** The sign-in token: the one given, or a random one. */
  readonly token: string;
  /** The base path, normalised (`''` for the root). */
  readonly base: string;
  /** The public URL, without a trailing `/`, when given. */
  readonly publicUrl: string | undefined;
}

/** Checks the options of `createConsole` (the first wrong one throws `INVALID_OPTIONS`). */
export function checkConsoleOptions(options: ConsoleOptions): CheckedConsoleOptions {
  assertKnownOptions(options, CONSOLE_OPTION_NAMES, 'createConsole(manager, options)');
  if (options.token !== undefined && (typeof options.token !== 'string' || options.token.length < 16)) {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      'createConsole(manager, options): "token" must be a string of at least 16 characters (e.g. 32 random bytes in base64url)',
    );
  }
  const token = options.token ?? randomToken();
  const base = normaliseBasePath(options.basePath);
  const publicUrl = publicUrlOption(options.publicUrl);
  return { token, base, publicUrl };
}

/** `basePath`, checked, without a trailing `/` (`''` for the root). */
export function normaliseBasePath(basePath: string | undefined): string {
  if (basePath === undefined || basePath === '' || basePath === '/') return '';
  if (!/^\/[A-Za-z0-9._~\-/]*$/.test(basePath) || basePath.includes('//')) {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      'createConsole(manager, options): "basePath" must be a path such as "/auth" (letters, digits, "-", "_", ".", "/")',
    );
  }
  return basePath.replace(/\/+$/, '');
}

/** `publicUrl`, checked (an absolute http(s) URL), without a trailing `/`. */
export function publicUrlOption(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      'createConsole(manager, options): "publicUrl" must be an absolute URL',
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      'createConsole(manager, options): "publicUrl" must be http(s)',
    );
  }
  return url.href.replace(/\/+$/, '');
}
