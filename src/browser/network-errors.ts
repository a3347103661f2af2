import { AuthSessionError } from '../errors.js';

/**
 * What kind of infrastructure failure an error is: the proxy, or the network between the browser and the site.
 *
 * @example
 * ```ts
 * const kind: NetworkErrorKind | undefined = classifyNetworkError(err);
 * ```
 */
export type NetworkErrorKind = 'proxy' | 'network';

/**
 * What the caller knows about the context an error came from; it settles codes that are ambiguous on their own.
 *
 * @example
 * ```ts
 * classifyNetworkError(err, { proxy: session.proxy !== undefined });
 * ```
 */
export interface NetworkErrorHints {
  /**
   * The context went through a proxy. Chromium reports a proxy that asked for credentials it did not get as
   * `net::ERR_INVALID_AUTH_CREDENTIALS`, the same code a site's own HTTP authentication gives, so that code
   * counts as a proxy failure only when a proxy was in use.
   * @default false
   */
  readonly proxy?: boolean;
}

// Chromium net error names (net/base/net_error_list.h) that mean the proxy failed or refused us.
const PROXY_CODES = new Set([
  'ERR_PROXY_CONNECTION_FAILED',
  'ERR_TUNNEL_CONNECTION_FAILED',
  'ERR_PROXY_AUTH_UNSUPPORTED',
  'ERR_PROXY_AUTH_REQUESTED',
  'ERR_PROXY_AUTH_REQUESTED_WITH_NO_CONNECTION',
  'ERR_PROXY_CERTIFICATE_INVALID',
  'ERR_PROXY_HTTP_1_1_REQUIRED',
  'ERR_PROXY_UNABLE_TO_CONNECT_TO_DESTINATION',
  'ERR_PROXY_DELEGATE_CANCELED_CONNECT_REQUEST',
  'ERR_PROXY_DELEGATE_CANCELED_CONNECT_RESPONSE',
  'ERR_MANDATORY_PROXY_CONFIGURATION_FAILED',
  'ERR_SOCKS_CONNECTION_FAILED',
  'ERR_SOCKS_CONNECTION_HOST_UNREACHABLE',
  'ERR_UNEXPECTED_PROXY_AUTH',
  // Firefox, for users who bring their own provider.
  'NS_ERROR_PROXY_CONNECTION_REFUSED',
  'NS_ERROR_UNKNOWN_PROXY_HOST',
  'NS_ERROR_PROXY_AUTHENTICATION_FAILED',
]);

// Codes that mean the site could not be reached at all: no answer from it, so nothing about the login.
const NETWORK_CODES = new Set([
  'ERR_CONNECTION_REFUSED',
  'ERR_CONNECTION_RESET',
  'ERR_CONNECTION_CLOSED',
  'ERR_CONNECTION_ABORTED',
  'ERR_CONNECTION_FAILED',
  'ERR_CONNECTION_TIMED_OUT',
  'ERR_TIMED_OUT',
  'ERR_NAME_NOT_RESOLVED',
  'ERR_NAME_RESOLUTION_FAILED',
  'ERR_ADDRESS_UNREACHABLE',
  'ERR_ADDRESS_INVALID',
  'ERR_INTERNET_DISCONNECTED',
  'ERR_EMPTY_RESPONSE',
  'ERR_NETWORK_CHANGED',
  'ERR_NETWORK_IO_SUSPENDED',
  // Node's own socket errors (a fetch from a hook, a health probe).
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EPIPE',
  // Firefox.
  'NS_ERROR_CONNECTION_REFUSED',
  'NS_ERROR_UNKNOWN_HOST',
  'NS_ERROR_NET_TIMEOUT',
  'NS_ERROR_NET_RESET',
  'NS_ERROR_OFFLINE',
]);

const AMBIGUOUS_PROXY_CODES = new Set(['ERR_INVALID_AUTH_CREDENTIALS']);

const CODE_PATTERN = /\b(?:net::)?((?:ERR|NS_ERROR)_[A-Z0-9_]+|E[A-Z]{3,})\b/g;
const PROXY_407 =
  /\b407\b[^\n]{0,40}proxy authentication required|\bHTTP(?:\/\d(?:\.\d)?|\s+status)?\s*407\b/i;
const MAX_CAUSE_DEPTH = 8;

interface Finding {
  readonly kind: NetworkErrorKind;
  /** The code as shown to people: `net::ERR_…`, a Node `E…` code, or `HTTP 407`. */
  readonly label: string;
}

/**
 * Tells whether an error means the site or the proxy could not be reached, as opposed to an answer from the
 * site. Looks at Playwright's `net::ERR_…` messages, Node socket codes (`ECONNREFUSED`, `ENOTFOUND`, …), HTTP
 * 407 (a `status` of 407 or a "407 Proxy Authentication Required" message), and walks `cause` chains.
 * A proxy failure wins over a network failure found deeper in the same chain.
 *
 * Such failures say nothing about the login: the session must not be refreshed or expired because of them.
 * A Playwright timeout waiting for a selector or a navigation is not classified (the site answered slowly or
 * differently), nor is `net::ERR_HTTP_RESPONSE_CODE_FAILURE` (an empty error page from the site, or a tunnel
 * refused by a proxy: Chromium does not say which).
 *
 * @returns `'proxy'`, `'network'`, or `undefined` when the error is not an infrastructure failure.
 * @example
 * ```ts
 * try {
 *   await page.goto('https://crm.example/home');
 * } catch (err) {
 *   if (classifyNetworkError(err) === 'network') console.warn('site down, the session is kept');
 *   throw err;
 * }
 * ```
 */
export function classifyNetworkError(
  err: unknown,
  hints: NetworkErrorHints = {},
): NetworkErrorKind | undefined {
  return findNetworkError(err, hints)?.kind;
}

/**
 * Turns an infrastructure failure into the library's typed error: `PROXY_ERROR` or `TARGET_UNREACHABLE`
 * (status 503); `undefined` when {@link classifyNetworkError} does not classify `err`. The message names only
 * the failure code (never a URL, which may carry credentials), and the cause is the original error with any
 * `user:password@` removed from URLs in its message and stack.
 *
 * An `AuthSessionError` that already has one of these codes is returned unchanged.
 *
 * @example
 * ```ts
 * try {
 *   await page.goto(url);
 * } catch (err) {
 *   throw toInfrastructureError(err, session.id) ?? err;
 * }
 * ```
 */
export function toInfrastructureError(
  err: unknown,
  sessionId?: string,
  hints: NetworkErrorHints = {},
): AuthSessionError | undefined {
  if (err instanceof AuthSessionError && (err.code === 'PROXY_ERROR' || err.code === 'TARGET_UNREACHABLE')) {
    return err;
  }
  const finding = findNetworkError(err, hints);
  if (finding === undefined) return undefined;
  const options = { cause: redactCause(err), ...(sessionId === undefined ? {} : { sessionId }) };
  if (finding.kind === 'proxy') {
    return new AuthSessionError(
      'PROXY_ERROR',
      `The proxy failed or refused the connection (${finding.label}); the session is kept as it was`,
      options,
    );
  }
  return new AuthSessionError(
    'TARGET_UNREACHABLE',
    `The site could not be reached (${finding.label}); the session is kept as it was`,
    options,
  );
}

/**
 * Replaces the `user:password@` part of every URL in `text` with `***@`.
 *
 * @example
 * ```ts
 * stripUrlCredentials('at http://bob:hunter2@proxy.example:8080/'); // 'at http://***@proxy.example:8080/'
 * ```
 */
export function stripUrlCredentials(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]+@/gi, '$1***@');
}

function findNetworkError(err: unknown, hints: NetworkErrorHints): Finding | undefined {
  let network: Finding | undefined;
  const seen = new Set<unknown>();
  let current: unknown = err;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && current != null && !seen.has(current); depth++) {
    seen.add(current);
    for (const finding of findingsOf(current, hints)) {
      if (finding.kind === 'proxy') return finding;
      network ??= finding;
    }
    current = typeof current === 'object' ? (current as { cause?: unknown }).cause : undefined;
  }
  return network;
}

function* findingsOf(value: unknown, hints: NetworkErrorHints): Generator<Finding> {
  if (value instanceof AuthSessionError) {
    if (value.code === 'PROXY_ERROR') yield { kind: 'proxy', label: 'proxy error' };
    if (value.code === 'TARGET_UNREACHABLE') yield { kind: 'network', label: 'site unreachable' };
  }
  let message: string;
  if (typeof value === 'string') {
    message = value;
  } else if (typeof value === 'object' && value !== null) {
    const record = value as { message?: unknown; code?: unknown; status?: unknown; statusCode?: unknown };
    if (record.status === 407 || record.statusCode === 407) yield { kind: 'proxy', label: 'HTTP 407' };
    if (typeof record.code === 'string') {
      const finding = classifyCode(record.code, hints);
      if (finding) yield finding;
    }
    message = typeof record.message === 'string' ? record.message : '';
  } else {
    return;
  }
  if (PROXY_407.test(message)) yield { kind: 'proxy', label: 'HTTP 407' };
  for (const match of message.matchAll(CODE_PATTERN)) {
    const finding = classifyCode(match[1] ?? '', hints);
    if (finding) yield finding;
  }
}

function classifyCode(code: string, hints: NetworkErrorHints): Finding | undefined {
  const bare = code.startsWith('net::') ? code.slice(5) : code;
  const label = bare.startsWith('ERR_') ? `net::${bare}` : bare;
  if (PROXY_CODES.has(bare)) return { kind: 'proxy', label };
  if (hints.proxy === true && AMBIGUOUS_PROXY_CODES.has(bare)) return { kind: 'proxy', label };
  if (NETWORK_CODES.has(bare)) return { kind: 'network', label };
  return undefined;
}

/** The error itself when nothing in it needs redacting, else a copy with credentials removed from URLs. */
export function redactCause(err: unknown, depth = 0): unknown {
  if (!(err instanceof Error) || depth >= MAX_CAUSE_DEPTH) return err;
  const message = stripUrlCredentials(err.message);
  const stack = err.stack === undefined ? undefined : stripUrlCredentials(err.stack);
  const cause = redactCause(err.cause, depth + 1);
  if (message === err.message && stack === err.stack && cause === err.cause) return err;
  const copy = new Error(message, cause === undefined ? undefined : { cause });
  copy.name = err.name;
  if (stack !== undefined) copy.stack = stack;
  return copy;
}
