import { createHash } from 'node:crypto';
import type { ProxySettings } from './browser/provider.js';
import { AuthSessionError } from './errors.js';

/** A proxy as callers give it: a URL (`http://user:pass@host:port`, `socks5://host:port`) or settings. */
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
      url = new URL(input);
    } catch {
      return invalid('expected a URL like http://host:port or socks5://user:pass@host:port');
    }
    if (url.username) username = decodeURIComponent(url.username);
    if (url.password) password = decodeURIComponent(url.password);
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
  if (url.pathname !== '/' && url.pathname !== '') invalid('the server must not have a path');
  if (password !== undefined && username === undefined) invalid('a password needs a user name');
  return {
    server: `${url.protocol}//${url.host}`,
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
    ...(bypass === undefined ? {} : { bypass }),
  };
}

/** A stable per-session token for sticky-session proxy providers. */
export function stickyToken(sessionId: string): string {
  return createHash('sha256').update(`auth-sessions:proxy:${sessionId}`).digest('hex').slice(0, 16);
}

/** Replaces `{session}` in the proxy's user name, password and bypass list with the session's sticky token. */
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
