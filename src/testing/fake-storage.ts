import type { StateCookie } from '../browser/state.js';
import type { Clock } from '../clock.js';
import type { FakeSetCookie } from './fake-site.js';

/**
 * A cookie as `context.addCookies` takes it (Playwright's shape): either `url`, or `domain` and `path`.
 *
 * @example
 * ```ts
 * await context.addCookies([{ name: 'consent', value: 'yes', url: 'https://fake-site.test' }]);
 * ```
 */
export interface FakeCookieParam {
  readonly name: string;
  readonly value: string;
  readonly url?: string;
  readonly domain?: string;
  readonly path?: string;
  /** Seconds since the epoch; `-1` (default) for a session cookie. */
  readonly expires?: number;
  readonly httpOnly?: boolean;
  readonly secure?: boolean;
  readonly sameSite?: 'Strict' | 'Lax' | 'None';
  readonly partitionKey?: string;
}

/**
 * Filter of `context.clearCookies`, as in Playwright.
 *
 * @example
 * ```ts
 * await context.clearCookies({ name: 'sid' });
 * ```
 */
export interface FakeClearCookiesFilter {
  readonly name?: string | RegExp;
  readonly domain?: string | RegExp;
  readonly path?: string | RegExp;
}

/**
 * The cookie store of one fake context. Cookies expire by the injected clock, so a `FakeClock` drives both
 * the site's session lifetime and the browser's cookie lifetime.
 */
export class CookieJar {
  #cookies: StateCookie[] = [];

  constructor(readonly clock: Clock) {}

  /** Every live cookie (copies). */
  all(): StateCookie[] {
    this.#prune();
    return this.#cookies.map((c) => ({ ...c }));
  }

  /** The live cookies a request to `url` carries. */
  forUrl(url: URL): StateCookie[] {
    return this.all().filter((c) => cookieMatches(c, url));
  }

  /** Adds or replaces a cookie; a cookie whose expiry has passed deletes its namesake instead. */
  set(cookie: StateCookie): void {
    this.#cookies = this.#cookies.filter(
      (c) => !(c.name === cookie.name && c.domain === cookie.domain && c.path === cookie.path),
    );
    if (!this.#expired(cookie)) this.#cookies.push({ ...cookie });
  }

  /** Applies a cookie a site set on a response from `url` (host-only, as without a Domain attribute). */
  setFromSite(url: URL, cookie: FakeSetCookie): void {
    this.set({
      name: cookie.name,
      value: cookie.value,
      domain: url.hostname,
      path: cookie.path,
      expires: cookie.expires,
      httpOnly: cookie.httpOnly,
      secure: cookie.secure,
      sameSite: cookie.sameSite,
    });
  }

  /** `context.addCookies`, with Playwright's validation. */
  add(method: string, cookies: readonly FakeCookieParam[]): void {
    const parsed = cookies.map((c) => toStateCookie(method, c));
    for (const c of parsed) this.set(c);
  }

  /** `context.clearCookies(filter?)`. */
  clear(filter: FakeClearCookiesFilter = {}): void {
    const test = (want: string | RegExp | undefined, actual: string) =>
      want === undefined || (typeof want === 'string' ? want === actual : want.test(actual));
    this.#cookies = this.#cookies.filter(
      (c) => !(test(filter.name, c.name) && test(filter.domain, c.domain) && test(filter.path, c.path)),
    );
  }

  #expired(cookie: StateCookie): boolean {
    return cookie.expires !== -1 && cookie.expires * 1000 <= this.clock.now();
  }

  #prune(): void {
    if (this.#cookies.some((c) => this.#expired(c)))
      this.#cookies = this.#cookies.filter((c) => !this.#expired(c));
  }
}

function toStateCookie(method: string, c: FakeCookieParam): StateCookie {
  if (typeof c.name !== 'string' || typeof c.value !== 'string') {
    throw new Error(`${method}: Cookie should have a name and a value`);
  }
  let domain = c.domain;
  let path = c.path;
  let secure = c.secure ?? false;
  if (c.url !== undefined) {
    if (c.domain !== undefined || c.path !== undefined) {
      throw new Error(`${method}: Cookie should have either url or domain/path, not both`);
    }
    let url: URL;
    try {
      url = new URL(c.url);
    } catch {
      throw new Error(`${method}: Invalid cookie url`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new Error(`${method}: Blank page can not have cookie`);
    domain = url.hostname;
    path = url.pathname.slice(0, url.pathname.lastIndexOf('/') + 1) || '/';
    secure = c.secure ?? url.protocol === 'https:';
  }
  if (domain === undefined || path === undefined) {
    throw new Error(`${method}: Cookie should have a url or a domain/path pair`);
  }
  const expires = c.expires ?? -1;
  if (!Number.isFinite(expires) || (expires < 0 && expires !== -1)) {
    throw new Error(
      `${method}: Cookie should have a valid expires, only -1 or a positive number for the unix timestamp in seconds is allowed`,
    );
  }
  const cookie: StateCookie = {
    name: c.name,
    value: c.value,
    domain,
    path,
    expires,
    httpOnly: c.httpOnly ?? false,
    secure,
    sameSite: c.sameSite ?? 'Lax',
  };
  return c.partitionKey === undefined ? cookie : { ...cookie, partitionKey: c.partitionKey };
}

/** Whether `cookie` is sent with a request to `url` (domain, path and secure rules). */
export function cookieMatches(cookie: StateCookie, url: URL): boolean {
  const host = url.hostname;
  const dotted = cookie.domain.startsWith('.');
  const domain = dotted ? cookie.domain.slice(1) : cookie.domain;
  if (!(host === domain || (dotted && host.endsWith(`.${domain}`)))) return false;
  const path = url.pathname || '/';
  const cp = cookie.path || '/';
  if (!(path === cp || (path.startsWith(cp) && (cp.endsWith('/') || path[cp.length] === '/')))) return false;
  // Chromium treats localhost as a secure context.
  const secureContext =
    url.protocol === 'https:' || host === 'localhost' || host === '127.0.0.1' || host === '[::1]';
  return !cookie.secure || secureContext;
}

/**
 * The part of the DOM's `Storage` (`localStorage`, `sessionStorage`) the fake pages provide. Declared here so
 * the testing kit's types need no DOM lib.
 */
export interface FakeWebStorage {
  readonly length: number;
  key(index: number): string | null;
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
  clear(): void;
  [name: string]: unknown;
}

/**
 * A `Storage` (the type of `localStorage` and `sessionStorage`) over a map: `getItem`/`setItem`/… and, as in
 * browsers, plain property access (`localStorage.token = 'x'`, `Object.keys(localStorage)`).
 */
export function createStorage(map: Map<string, string>): FakeWebStorage {
  const methods = {
    get length() {
      return map.size;
    },
    key(index: number): string | null {
      return [...map.keys()][index] ?? null;
    },
    getItem(key: string): string | null {
      return map.get(String(key)) ?? null;
    },
    setItem(key: string, value: string): void {
      map.set(String(key), String(value));
    },
    removeItem(key: string): void {
      map.delete(String(key));
    },
    clear(): void {
      map.clear();
    },
  };
  const target = Object.create(methods) as object;
  return new Proxy(target, {
    get(t, prop, receiver) {
      if (typeof prop === 'string' && !(prop in methods)) return map.get(prop);
      return Reflect.get(t, prop, receiver);
    },
    set(t, prop, value, receiver) {
      if (typeof prop === 'string' && !(prop in methods)) {
        map.set(prop, String(value));
        return true;
      }
      return Reflect.set(t, prop, value, receiver);
    },
    has(_t, prop) {
      return typeof prop === 'string' && (map.has(prop) || prop in methods);
    },
    deleteProperty(_t, prop) {
      if (typeof prop === 'string') map.delete(prop);
      return true;
    },
    ownKeys() {
      return [...map.keys()];
    },
    getOwnPropertyDescriptor(_t, prop) {
      if (typeof prop !== 'string' || !map.has(prop)) return undefined;
      return { value: map.get(prop), enumerable: true, configurable: true, writable: true };
    },
  }) as FakeWebStorage;
}
