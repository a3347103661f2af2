import { randomBytes, randomInt } from 'node:crypto';
import { type Clock, systemClock } from '../clock.js';
import { AuthSessionError } from '../errors.js';
import { type FakeDocument, fakeDocument, h } from './fake-dom.js';

/**
 * Options of {@link FakeSite}.
 *
 * @example
 * ```ts
 * const site = new FakeSite({ origin: 'https://crm.test', clock, sessionTtlMs: 15 * 60_000 });
 * ```
 */
export interface FakeSiteOptions {
  /**
   * The origin the site answers on; the fake browser routes every URL of this origin to it.
   * @default 'https://fake-site.test'
   */
  readonly origin?: string;
  /**
   * The clock that decides when server sessions expire. Share a `FakeClock` with the manager and the
   * fake browser to test expiry without sleeping.
   * @default systemClock
   */
  readonly clock?: Clock;
  /**
   * Lifetime of a server session (and of its `sid` cookie) from login, in milliseconds.
   * @default 3_600_000 (one hour)
   */
  readonly sessionTtlMs?: number;
  /**
   * Set a `roll` cookie with a new value on every page view, as many sites do, so that callers must capture
   * the state again after each run.
   * @default true
   */
  readonly rollingCookie?: boolean;
}

/**
 * Options of {@link FakeSite.addUser}.
 *
 * @example
 * ```ts
 * site.addUser('bob', 'hunter2', { otp: 'code' });
 * ```
 */
export interface FakeUserOptions {
  /** `'code'`: after the password, the site asks for a one-time code, readable with {@link FakeSite.lastCode}. */
  readonly otp?: 'code';
}

/**
 * Counters of a {@link FakeSite}, for asserting how often the library logged in.
 *
 * @example
 * ```ts
 * const { logins, failedLogins } = site.counters;
 * ```
 */
export interface FakeSiteCounters {
  /** Successful logins (once per login, after the second factor when there is one). */
  readonly logins: number;
  /** Submissions of the password form. */
  readonly loginAttempts: number;
  /** Rejected passwords and rejected one-time codes. */
  readonly failedLogins: number;
  /** Pages rendered (redirects are not counted). */
  readonly pageViews: number;
}

/**
 * A request from the fake browser to a {@link FakeSite}.
 *
 * @example
 * ```ts
 * const req: FakeSiteRequest = { method: 'GET', url: new URL('/account', site.origin), form: {}, cookies: new Map() };
 * ```
 */
export interface FakeSiteRequest {
  readonly method: 'GET' | 'POST';
  readonly url: URL;
  /** Submitted form fields (POST). */
  readonly form: Readonly<Record<string, string>>;
  /** Cookies the browser sends, by name. */
  readonly cookies: ReadonlyMap<string, string>;
}

/**
 * A cookie a {@link FakeSite} sets (the `Set-Cookie` header of the fake).
 *
 * @example
 * ```ts
 * const cookie: FakeSetCookie = { name: 'sid', value: 'x', expires: -1, path: '/', httpOnly: true, secure: true, sameSite: 'Lax' };
 * ```
 */
export interface FakeSetCookie {
  readonly name: string;
  readonly value: string;
  /** Seconds since the epoch, as in Playwright; `-1` for a session cookie; in the past to delete it. */
  readonly expires: number;
  readonly path: string;
  readonly httpOnly: boolean;
  readonly secure: boolean;
  readonly sameSite: 'Strict' | 'Lax' | 'None';
}

/**
 * The answer of a {@link FakeSite} to a {@link FakeSiteRequest}: a redirect or a page.
 *
 * @example
 * ```ts
 * const res: FakeSiteResponse = site.handle(req);
 * if (res.location) console.log('redirect to', res.location);
 * ```
 */
export interface FakeSiteResponse {
  readonly status: number;
  /** Redirect target (absolute or relative) for 3xx answers. */
  readonly location?: string;
  readonly cookies: readonly FakeSetCookie[];
  /** The page, for non-redirect answers. */
  readonly document?: FakeDocument;
}

interface User {
  password: string;
  /** Bumped on every password change: sessions from an older version are dead. */
  passwordVersion: number;
  readonly otp: 'code' | undefined;
  lastCode: string | undefined;
}

interface ServerSession {
  readonly username: string;
  readonly expiresAt: number;
  readonly passwordVersion: number;
}

interface OtpChallenge {
  readonly username: string;
  readonly code: string;
  readonly expiresAt: number;
  readonly passwordVersion: number;
}

const DEFAULT_ORIGIN = 'https://fake-site.test';
const OTP_TTL_MS = 5 * 60_000;
const INVALID_LOGIN = 'Invalid username or password';
const INVALID_CODE = 'Invalid code';

/**
 * A simulated website for unit tests, served to the fake browser of `auth-sessions/testing` without any
 * network. It has users, a login form (`/login`: `#username`, `#password`, `#login`), an optional one-time
 * code step (`/otp`: `#otp`, `#verify`), an account page (`/account`: `h1` "Account" and `#user` with the
 * user name; anonymous visitors are redirected to `/login`), `/logout`, server sessions with a lifetime on an
 * injectable clock, password changes and forced logouts that kill sessions, and counters.
 *
 * @example
 * ```ts
 * const clock = new FakeClock();
 * const site = new FakeSite({ clock });
 * site.addUser('alice', 's3cret');
 * const browser = new FakeBrowserProvider({ site });
 * // … run the code under test, then:
 * expect(site.counters.logins).toBe(1);
 * ```
 */
export class FakeSite {
  /** The site's origin, e.g. `https://fake-site.test`. */
  readonly origin: string;
  /** The clock used for session lifetimes. */
  readonly clock: Clock;
  /** Lifetime of a session in milliseconds. */
  readonly sessionTtlMs: number;
  /** Whether the `roll` cookie changes on every page view. */
  readonly rollingCookie: boolean;
  /** When true, every request fails as a refused connection (`net::ERR_CONNECTION_REFUSED`). */
  down = false;

  readonly #users = new Map<string, User>();
  readonly #sessions = new Map<string, ServerSession>();
  readonly #challenges = new Map<string, OtpChallenge>();
  #counters = { logins: 0, loginAttempts: 0, failedLogins: 0, pageViews: 0 };

  constructor(options: FakeSiteOptions = {}) {
    this.origin = parseOrigin(options.origin ?? DEFAULT_ORIGIN);
    this.clock = options.clock ?? systemClock;
    const ttl = options.sessionTtlMs ?? 3_600_000;
    if (!Number.isFinite(ttl) || ttl <= 0) {
      throw new AuthSessionError(
        'INVALID_OPTIONS',
        `FakeSite: sessionTtlMs must be a positive number, got ${ttl}`,
      );
    }
    this.sessionTtlMs = ttl;
    this.rollingCookie = options.rollingCookie ?? true;
  }

  /**
   * Adds (or replaces) a user.
   *
   * @example
   * ```ts
   * site.addUser('bob', 'hunter2', { otp: 'code' });
   * ```
   */
  addUser(username: string, password: string, options: FakeUserOptions = {}): void {
    this.#users.set(username, { password, passwordVersion: 0, otp: options.otp, lastCode: undefined });
  }

  /**
   * Changes a user's password. Every existing session of the user dies, as on most sites.
   *
   * @example
   * ```ts
   * site.changePassword('alice', 'new-secret');
   * ```
   */
  changePassword(username: string, newPassword: string): void {
    const user = this.#user(username, 'changePassword');
    user.password = newPassword;
    user.passwordVersion++;
  }

  /**
   * Ends every session of every user (a forced logout).
   *
   * @example
   * ```ts
   * site.logoutAll();
   * ```
   */
  logoutAll(): void {
    this.#sessions.clear();
    this.#challenges.clear();
  }

  /**
   * Ends every session of one user.
   *
   * @example
   * ```ts
   * site.logout('alice');
   * ```
   */
  logout(username: string): void {
    for (const [id, session] of this.#sessions) if (session.username === username) this.#sessions.delete(id);
  }

  /**
   * Ends every session as if its lifetime had passed (same effect as {@link FakeSite.logoutAll}).
   *
   * @example
   * ```ts
   * site.expireSessions();
   * ```
   */
  expireSessions(): void {
    this.logoutAll();
  }

  /**
   * The one-time code most recently issued to `username`, or undefined. Plays the user's phone.
   *
   * @example
   * ```ts
   * await page.fill('#otp', site.lastCode('bob')!);
   * ```
   */
  lastCode(username: string): string | undefined {
    return this.#users.get(username)?.lastCode;
  }

  /**
   * Live sessions (not expired, not logged out, password unchanged), of one user or of all.
   *
   * @example
   * ```ts
   * expect(site.activeSessions('alice')).toBe(1);
   * ```
   */
  activeSessions(username?: string): number {
    let n = 0;
    for (const session of this.#sessions.values()) {
      if ((username === undefined || session.username === username) && this.#isLive(session)) n++;
    }
    return n;
  }

  /**
   * A snapshot of the counters.
   *
   * @example
   * ```ts
   * expect(site.counters).toMatchObject({ logins: 1, failedLogins: 0 });
   * ```
   */
  get counters(): FakeSiteCounters {
    return { ...this.#counters };
  }

  /**
   * Sets every counter back to zero.
   *
   * @example
   * ```ts
   * site.resetCounters();
   * ```
   */
  resetCounters(): void {
    this.#counters = { logins: 0, loginAttempts: 0, failedLogins: 0, pageViews: 0 };
  }

  /**
   * Answers one request. The fake browser calls this; tests rarely need it directly. Ignores
   * {@link FakeSite.down}: the browser checks that flag so it can fail like a refused connection.
   *
   * @example
   * ```ts
   * const res = site.handle({ method: 'GET', url: new URL('/account', site.origin), form: {}, cookies: new Map() });
   * expect(res.status).toBe(302);
   * ```
   */
  handle(request: FakeSiteRequest): FakeSiteResponse {
    const path = request.url.pathname.replace(/\/+$/, '') || '/';
    switch (path) {
      case '/':
        return this.#page(
          200,
          fakeDocument('Fake site', h('h1', {}, 'Fake site'), h('a', { href: '/account' }, 'Account')),
        );
      case '/login':
        return request.method === 'POST' ? this.#submitLogin(request) : this.#page(200, loginPage());
      case '/otp':
        return request.method === 'POST' ? this.#submitOtp(request) : this.#otpForm(request);
      case '/account':
        return this.#account(request);
      case '/logout':
        return this.#logout(request);
      default:
        return this.#page(404, fakeDocument('Not found', h('h1', {}, 'Not found')));
    }
  }

  #submitLogin(request: FakeSiteRequest): FakeSiteResponse {
    this.#counters.loginAttempts++;
    const username = request.form.username ?? '';
    const user = this.#users.get(username);
    if (!user || user.password !== (request.form.password ?? '')) {
      this.#counters.failedLogins++;
      return this.#page(200, loginPage(INVALID_LOGIN, username));
    }
    if (user.otp === 'code') {
      const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
      user.lastCode = code;
      const id = randomId();
      this.#challenges.set(id, {
        username,
        code,
        expiresAt: this.clock.now() + OTP_TTL_MS,
        passwordVersion: user.passwordVersion,
      });
      return this.#redirect('/otp', [this.#cookie('otp', id, -1, true)]);
    }
    return this.#startSession(username, user, []);
  }

  #otpForm(request: FakeSiteRequest): FakeSiteResponse {
    if (!this.#challenge(request)) return this.#redirect('/login', []);
    return this.#page(200, otpPage());
  }

  #submitOtp(request: FakeSiteRequest): FakeSiteResponse {
    const challenge = this.#challenge(request);
    if (!challenge) return this.#redirect('/login', []);
    const user = this.#users.get(challenge.username);
    if (!user || (request.form.otp ?? '').trim() !== challenge.code) {
      this.#counters.failedLogins++;
      return this.#page(200, otpPage(INVALID_CODE));
    }
    this.#challenges.delete(request.cookies.get('otp') ?? '');
    return this.#startSession(challenge.username, user, [this.#cookie('otp', '', 0, true)]);
  }

  #startSession(username: string, user: User, cookies: FakeSetCookie[]): FakeSiteResponse {
    const id = randomId();
    const expiresAt = this.clock.now() + this.sessionTtlMs;
    this.#sessions.set(id, { username, expiresAt, passwordVersion: user.passwordVersion });
    this.#counters.logins++;
    return this.#redirect('/account', [
      ...cookies,
      this.#cookie('sid', id, Math.floor(expiresAt / 1000), true),
    ]);
  }

  #account(request: FakeSiteRequest): FakeSiteResponse {
    const session = this.#session(request);
    if (!session) return this.#redirect('/login', []);
    return this.#page(
      200,
      fakeDocument(
        'Account',
        h('h1', {}, 'Account'),
        h('p', {}, 'Signed in as ', h('span', { id: 'user' }, session.username)),
        h('a', { id: 'logout', href: '/logout' }, 'Log out'),
      ),
    );
  }

  #logout(request: FakeSiteRequest): FakeSiteResponse {
    const sid = request.cookies.get('sid');
    if (sid !== undefined) this.#sessions.delete(sid);
    return this.#redirect('/login', [this.#cookie('sid', '', 0, true)]);
  }

  #session(request: FakeSiteRequest): ServerSession | undefined {
    const sid = request.cookies.get('sid');
    const session = sid === undefined ? undefined : this.#sessions.get(sid);
    if (!session) return undefined;
    if (!this.#isLive(session)) {
      this.#sessions.delete(sid as string);
      return undefined;
    }
    return session;
  }

  #isLive(session: ServerSession): boolean {
    const user = this.#users.get(session.username);
    return (
      user !== undefined &&
      user.passwordVersion === session.passwordVersion &&
      this.clock.now() < session.expiresAt
    );
  }

  #challenge(request: FakeSiteRequest): OtpChallenge | undefined {
    const id = request.cookies.get('otp');
    const challenge = id === undefined ? undefined : this.#challenges.get(id);
    if (!challenge) return undefined;
    const user = this.#users.get(challenge.username);
    if (this.clock.now() >= challenge.expiresAt || user?.passwordVersion !== challenge.passwordVersion) {
      this.#challenges.delete(id as string);
      return undefined;
    }
    return challenge;
  }

  #page(status: number, document: FakeDocument): FakeSiteResponse {
    this.#counters.pageViews++;
    const cookies = this.rollingCookie
      ? [this.#cookie('roll', randomId(), Math.floor((this.clock.now() + this.sessionTtlMs) / 1000), false)]
      : [];
    return { status, document, cookies };
  }

  #redirect(location: string, cookies: FakeSetCookie[]): FakeSiteResponse {
    return { status: 302, location, cookies };
  }

  #cookie(name: string, value: string, expires: number, httpOnly: boolean): FakeSetCookie {
    return {
      name,
      value,
      expires,
      path: '/',
      httpOnly,
      secure: this.origin.startsWith('https:'),
      sameSite: 'Lax',
    };
  }

  #user(username: string, method: string): User {
    const user = this.#users.get(username);
    // The user name is test data, not a secret; passwords never appear in messages.
    if (!user) throw new Error(`FakeSite.${method}: no user named ${JSON.stringify(username)}`);
    return user;
  }

  /** Readable in the REPL and in test failures; never shows passwords or session ids. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `FakeSite { origin: '${this.origin}', users: ${this.#users.size}, activeSessions: ${this.activeSessions()}, down: ${this.down} }`;
  }
}

function loginPage(error?: string, username = ''): FakeDocument {
  return fakeDocument(
    'Sign in',
    h('h1', {}, 'Sign in'),
    error !== undefined && h('p', { id: 'error', class: 'error', role: 'alert' }, error),
    h(
      'form',
      { id: 'login-form', method: 'post', action: '/login' },
      h('label', { for: 'username' }, 'Username'),
      h('input', {
        id: 'username',
        name: 'username',
        type: 'text',
        autocomplete: 'username',
        value: username || undefined,
      }),
      h('label', { for: 'password' }, 'Password'),
      h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password' }),
      h('button', { id: 'login', type: 'submit' }, 'Log in'),
    ),
  );
}

function otpPage(error?: string): FakeDocument {
  return fakeDocument(
    'Verify',
    h('h1', {}, 'Enter your code'),
    error !== undefined && h('p', { id: 'error', class: 'error', role: 'alert' }, error),
    h(
      'form',
      { id: 'otp-form', method: 'post', action: '/otp' },
      h('label', { for: 'otp' }, 'Code'),
      h('input', {
        id: 'otp',
        name: 'otp',
        type: 'text',
        inputmode: 'numeric',
        autocomplete: 'one-time-code',
      }),
      h('button', { id: 'verify', type: 'submit' }, 'Verify'),
    ),
  );
}

function randomId(): string {
  return randomBytes(16).toString('base64url');
}

function parseOrigin(origin: string): string {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      `FakeSite: origin must be an http(s) URL, got ${JSON.stringify(origin)}`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      `FakeSite: origin must be an http(s) URL, got ${JSON.stringify(origin)}`,
    );
  }
  return url.origin;
}
