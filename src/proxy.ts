import { createHash } from 'node:crypto';
import type { BrowserContext } from 'playwright-core';
import { redactCause } from './browser/network-errors.js';
import type { ProxySettings } from './browser/provider.js';
import { AuthSessionError } from './errors.js';

/**
 * A proxy as callers give it: a URL (`http://user:pass@host:port`, `socks5://host:port`; percent-encode special
 * characters of the user name and password) or settings `{ server, username?, password?, bypass? }`.
 * `{session}` in the user name, password or bypass list becomes a stable per-session token.
 *
 * @example
 * ```ts
 * const proxy: ProxyInput = 'http://customer-7-session-{session}:s3cret@gate.example:7000';
 * ```
 */
export type ProxyInput = string | ProxySettings;

const SCHEMES = new Set(['http:', 'https:', 'socks4:', 'socks5:']);

/**
 * Parses and validates a proxy. Throws `INVALID_OPTIONS` (never echoing a password) when it is malformed.
 *
 * @example
 * ```ts
 * parseProxy('http://user-{session}:secret@proxy.example:8000');
 * // { server: 'http://proxy.example:8000', username: 'user-{session}', password: 'secret' }
 * ```
 */
export function parseProxy(input: ProxyInput): ProxySettings {
  const invalid = (why: string): never => {
    throw new AuthSessionError('INVALID_OPTIONS', `"proxy" is invalid: ${why}`);
  };
  let server: string;
  let username: string | undefined;
  let password: string | undefined;
  let bypass: string | undefined;
  if (typeof input === 'string') {
    let url: URL;
    try {
      url = new URL(input.includes('://') ? input : `http://${input}`);
      if (url.username) username = decodeURIComponent(url.username);
      if (url.password) password = decodeURIComponent(url.password);
    } catch {
      // Never the input itself in the message: it may hold the password.
      return invalid(
        'expected a URL like http://host:port or http://user:pass@host:port (percent-encode special characters in the user name and password)',
      );
    }
    if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
      invalid('the URL must not have a path, query or fragment');
    }
    server = `${url.protocol}//${url.host}`;
  } else if (typeof input === 'object' && input !== null && typeof input.server === 'string') {
    server = input.server;
    username = input.username;
    password = input.password;
    bypass = input.bypass;
    for (const [k, v] of Object.entries({ username, password, bypass })) {
      if (v !== undefined && typeof v !== 'string') invalid(`"${k}" must be a string`);
    }
  } else {
    return invalid('expected a URL string or { server, username?, password?, bypass? }');
  }
  let url: URL;
  try {
    url = new URL(server.includes('://') ? server : `http://${server}`);
  } catch {
    return invalid('"server" must be like http://host:port');
  }
  if (!SCHEMES.has(url.protocol))
    invalid(`scheme "${url.protocol}" is not supported (http, https, socks4, socks5)`);
  if (!url.hostname) invalid('the server has no host');
  if (url.username || url.password)
    invalid('put the user name and password in "username"/"password", not in "server"');
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
    invalid('the server must not have a path, query or fragment');
  }
  if (password !== undefined && username === undefined) invalid('a password needs a user name');
  if (username === '') invalid('"username" must not be empty');
  if ((url.protocol === 'socks4:' || url.protocol === 'socks5:') && username !== undefined) {
    // Playwright refuses these at every context; say so once, up front.
    invalid(
      'Chromium (through Playwright) does not support SOCKS proxies with a user name or password; use an http:// proxy',
    );
  }
  for (const [k, v] of Object.entries({ username, password, bypass })) {
    if (v !== undefined && /[\r\n\0]/.test(v)) invalid(`"${k}" must not contain line breaks or NUL`);
  }
  return {
    server: `${url.protocol}//${url.host}`,
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
    ...(bypass === undefined ? {} : { bypass }),
  };
}

/**
 * A stable per-session token for sticky-session proxy providers: 16 hex characters derived from the session
 * id, the same in every process and on every machine, revealing nothing of the id.
 *
 * @example
 * ```ts
 * stickyToken('s-1') === stickyToken('s-1'); // true
 * ```
 */
export function stickyToken(sessionId: string): string {
  return createHash('sha256').update(`auth-sessions:proxy:${sessionId}`).digest('hex').slice(0, 16);
}

/**
 * Replaces `{session}` in the proxy's user name, password and bypass list with the session's sticky token
 * ({@link stickyToken}), so a sticky-session proxy provider keeps one exit IP for the session.
 *
 * @example
 * ```ts
 * resolveProxy({ server: 'http://gate.example:7000', username: 'cust-1-session-{session}', password: 'pw' }, 's-1');
 * // { server: 'http://gate.example:7000', username: 'cust-1-session-<16 hex>', password: 'pw' }
 * ```
 */
export function resolveProxy(proxy: ProxySettings, sessionId: string): ProxySettings {
  const token = stickyToken(sessionId);
  const sub = (v: string | undefined) => (v === undefined ? undefined : v.replaceAll('{session}', token));
  const username = sub(proxy.username);
  const password = sub(proxy.password);
  const bypass = sub(proxy.bypass);
  return {
    server: proxy.server,
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
    ...(bypass === undefined ? {} : { bypass }),
  };
}

/**
 * Watches one browser context for an HTTP 407 (the proxy refusing its credentials). Chromium does not fail
 * a navigation over plain HTTP when the proxy refuses the credentials it was given: `page.goto` resolves
 * with the proxy's 407 page, and a check would read it as "logged out". See {@link watchProxyAuth}.
 *
 * @example
 * ```ts
 * const watch: ProxyAuthWatch = watchProxyAuth(lease.context, session.id);
 * ```
 */
export interface ProxyAuthWatch {
  /** True once a response of the context had status 407. */
  readonly refused: boolean;
  /**
   * `PROXY_ERROR` (with `err` as its cause) when the proxy refused a request of the context, so a failure it
   * caused is not taken for a logged-out session; `undefined` otherwise, and for aborts.
   */
  failure(err: unknown): AuthSessionError | undefined;
  /** Stops listening. Idempotent. */
  stop(): void;
}

interface ResponseLike {
  status(): number;
}

interface ContextEvents {
  on?(event: 'response', listener: (response: ResponseLike) => void): unknown;
  off?(event: 'response', listener: (response: ResponseLike) => void): unknown;
}

/**
 * Listens to every response of a context (all its pages) and remembers a 407 from the proxy. The lifecycle
 * uses it around `check` and logins of sessions that have a proxy: a failure after a 407 becomes
 * `PROXY_ERROR`, an infrastructure failure that never expires the session. A context without an event API
 * (a custom provider) is simply not watched.
 *
 * @example
 * ```ts
 * const watch = watchProxyAuth(lease.context, session.id);
 * try {
 *   await check(page);
 * } catch (err) {
 *   throw watch.failure(err) ?? err;
 * } finally {
 *   watch.stop();
 * }
 * ```
 */
export function watchProxyAuth(context: BrowserContext, sessionId: string): ProxyAuthWatch {
  const events = context as unknown as ContextEvents;
  let refused = false;
  let listening = typeof events.on === 'function';
  const onResponse = (response: ResponseLike) => {
    try {
      if (response.status() === 407) refused = true;
    } catch {
      // A response from a context closing under us: nothing to learn from it.
    }
  };
  if (listening) events.on?.('response', onResponse);
  return {
    get refused() {
      return refused;
    },
    failure(err) {
      if (!refused) return undefined;
      if (err instanceof AuthSessionError && (err.code === 'ABORTED' || err.code === 'CLOSED'))
        return undefined;
      if (err instanceof AuthSessionError && err.code === 'PROXY_ERROR') return err;
      return new AuthSessionError(
        'PROXY_ERROR',
        'The proxy refused the credentials (HTTP 407 Proxy Authentication Required); the session is kept as it was',
        { sessionId, cause: redact(err) },
      );
    },
    stop() {
      if (!listening) return;
      listening = false;
      events.off?.('response', onResponse);
    },
  };
}

/** A cause safe to keep: an AuthSessionError as is, anything else without credentials in its URLs. */
function redact(err: unknown): unknown {
  // A hook's error may quote a URL with the proxy's user:password; keep the message, drop the credentials.
  return err instanceof AuthSessionError ? err : redactCause(err);
}
