/**
 * The demo site's in-memory state: accounts, sessions and bearer tokens, pending second factors, the
 * "e-mail" inbox and the login counters. Synchronous on purpose: every request is a few map lookups.
 */
import { createHash, createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { verifySync } from 'otplib';
import type { DemoStats, DemoUser } from './types.js';

/** How long a pending second-factor challenge lives (site clock). */
const CHALLENGE_TTL_MS = 10 * 60_000;
/** Wrong codes allowed per challenge before the login must start over. */
const MAX_CHALLENGE_ATTEMPTS = 5;
/** Dead sessions are swept once per this many new ones, so the maps stay bounded under load. */
const SWEEP_EVERY = 1000;

interface UserRecord {
  readonly username: string;
  passwordHash: Buffer;
  totpSecret: string | undefined;
  emailCode: boolean;
  /** Bumped on a password change: sessions made under an older generation are dead. */
  generation: number;
}

/**
 * A cookie session or a bearer token.
 *
 * @example
 * ```ts
 * const s: SessionRecord = { user: 'alice', kind: 'cookie', generation: 0, expiresAt: Date.now() + 3_600_000 };
 * ```
 */
export interface SessionRecord {
  readonly user: string;
  readonly kind: 'cookie' | 'token';
  readonly generation: number;
  expiresAt: number;
}

/**
 * A login that passed the password step and waits for its second factor.
 *
 * @example
 * ```ts
 * const c = model.challenge(cookies.pending, 'totp'); // ChallengeRecord | undefined
 * ```
 */
export interface ChallengeRecord {
  readonly user: string;
  readonly kind: 'totp' | 'email';
  readonly next: string;
  readonly expiresAt: number;
  /** The e-mailed code (kind `email` only). */
  readonly code?: string;
  attempts: number;
}

/**
 * The outcome of a password check.
 *
 * @example
 * ```ts
 * const outcome = model.checkPassword('alice', 'wonderland-42');
 * if (outcome.ok && outcome.secondFactor === 'none') model.completeLogin(outcome.user, 'cookie');
 * ```
 */
export type PasswordOutcome =
  | { readonly ok: false }
  | { readonly ok: true; readonly user: string; readonly secondFactor: 'none' | 'totp' | 'email' };

/**
 * The outcome of a second-factor check: `locked` means too many wrong codes, start over.
 *
 * @example
 * ```ts
 * if (model.answerChallenge(id, challenge, code) === 'ok') finish();
 * ```
 */
export type CodeOutcome = 'ok' | 'wrong' | 'locked';

function hashPassword(password: string): Buffer {
  return createHash('sha256').update(password, 'utf8').digest();
}

function newId(): string {
  return randomBytes(32).toString('base64url');
}

/** Signs the bearer tokens of the token API (one key per site instance). */
const TOKEN_KEY = randomBytes(32);

/**
 * A bearer token as many sites issue them: a JWT (HS256) whose `exp` says when it lapses, so a client (and
 * the library's health checks) can tell its expiry from the token alone. The site still looks it up: a token
 * ends early on logout or password change, whatever its `exp`.
 */
function newJwt(user: string, expiresAt: number): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub: user, jti: newId(), exp: Math.floor(expiresAt / 1000) })}`;
  return `${body}.${createHmac('sha256', TOKEN_KEY).update(body).digest('base64url')}`;
}

function emptyStats(): DemoStats {
  return { logins: 0, loginAttempts: 0, failedLogins: 0, otpChallenges: 0, byUser: Object.create(null) };
}

/**
 * All mutable state of one demo site.
 *
 * @example
 * ```ts
 * const model = new DemoModel({ now: Date.now, ttlSeconds: 3600, users: [{ username: 'a', password: 'b' }] });
 * ```
 */
export class DemoModel {
  readonly now: () => number;
  ttlSeconds: number;
  private readonly users = new Map<string, UserRecord>();
  private readonly sessions = new Map<string, SessionRecord>();
  private readonly challenges = new Map<string, ChallengeRecord>();
  private readonly inbox = new Map<string, { code: string; at: number }>();
  private counters = emptyStats();
  private created = 0;
  /** Compared against when the username is unknown, so both paths cost the same. */
  private readonly dummyHash = hashPassword(randomBytes(16).toString('hex'));
  /** Signs CSRF tokens: the form token is an HMAC of the `csrf` cookie. */
  private readonly csrfKey = randomBytes(32);

  constructor(options: { now: () => number; ttlSeconds: number; users: readonly DemoUser[] }) {
    this.now = options.now;
    this.ttlSeconds = options.ttlSeconds;
    for (const user of options.users) this.addUser(user);
  }

  /** Adds or replaces a user; a changed password or second factor ends the user's sessions. */
  addUser(user: DemoUser): void {
    if (
      typeof user.username !== 'string' ||
      user.username.length === 0 ||
      typeof user.password !== 'string'
    ) {
      throw new TypeError('a demo user needs a non-empty username and a password');
    }
    const passwordHash = hashPassword(user.password);
    const existing = this.users.get(user.username);
    if (existing) {
      const changed =
        !timingSafeEqual(existing.passwordHash, passwordHash) ||
        existing.totpSecret !== user.totpSecret ||
        existing.emailCode !== (user.emailCode === true);
      existing.passwordHash = passwordHash;
      existing.totpSecret = user.totpSecret;
      existing.emailCode = user.emailCode === true;
      if (changed) existing.generation++;
      return;
    }
    this.users.set(user.username, {
      username: user.username,
      passwordHash,
      totpSecret: user.totpSecret,
      emailCode: user.emailCode === true,
      generation: 0,
    });
  }

  /** Sets a password and ends every session of that user. Returns false for an unknown user. */
  setPassword(username: string, password: string): boolean {
    const user = this.users.get(username);
    if (!user) return false;
    user.passwordHash = hashPassword(password);
    user.generation++;
    return true;
  }

  /** Counts an attempt and checks a username/password pair in constant time per attempt. */
  checkPassword(username: string, password: string): PasswordOutcome {
    this.counters.loginAttempts++;
    const user = this.users.get(username);
    const given = hashPassword(password);
    const match = timingSafeEqual(given, user ? user.passwordHash : this.dummyHash);
    if (!user || !match) {
      this.counters.failedLogins++;
      return { ok: false };
    }
    const secondFactor = user.totpSecret ? 'totp' : user.emailCode ? 'email' : 'none';
    return { ok: true, user: user.username, secondFactor };
  }

  /** Checks a user's password without counting a login attempt (password change form). */
  passwordMatches(username: string, password: string): boolean {
    const user = this.users.get(username);
    const match = timingSafeEqual(hashPassword(password), user ? user.passwordHash : this.dummyHash);
    return user !== undefined && match;
  }

  /** Counts a second-factor prompt that is not a stored challenge (the token API asking for `otp`). */
  countChallenge(): void {
    this.counters.otpChallenges++;
  }

  /** Counts a failed login that {@link DemoModel.checkPassword} did not see (a wrong code on the token API). */
  countFailure(): void {
    this.counters.failedLogins++;
  }

  /** Verifies a TOTP code (±1 step) at the site's clock or at the real time. */
  verifyTotp(username: string, code: string): boolean {
    const secret = this.users.get(username)?.totpSecret;
    if (!secret || !/^\d{6}$/.test(code)) return false;
    const epochs = new Set([Math.floor(this.now() / 1000), Math.floor(Date.now() / 1000)]);
    for (const epoch of epochs) {
      try {
        if (verifySync({ secret, token: code, epoch, epochTolerance: 30 }).valid) return true;
      } catch {
        // A malformed secret can never produce a valid code.
        return false;
      }
    }
    return false;
  }

  /** Opens a second-factor challenge; for `email`, generates and "sends" the code. Returns its id. */
  startChallenge(user: string, kind: 'totp' | 'email', next: string): string {
    this.counters.otpChallenges++;
    const id = newId();
    let code: string | undefined;
    if (kind === 'email') {
      code = String(randomInt(0, 1_000_000)).padStart(6, '0');
      this.inbox.set(user, { code, at: Date.now() });
    }
    this.challenges.set(id, {
      user,
      kind,
      next,
      expiresAt: this.now() + CHALLENGE_TTL_MS,
      attempts: 0,
      code,
    });
    if (++this.created % SWEEP_EVERY === 0) this.sweep();
    return id;
  }

  /** A live challenge of that kind, or undefined. */
  challenge(id: string | undefined, kind: 'totp' | 'email'): ChallengeRecord | undefined {
    if (!id) return undefined;
    const c = this.challenges.get(id);
    if (!c || c.kind !== kind) return undefined;
    if (this.now() >= c.expiresAt || !this.users.has(c.user)) {
      this.challenges.delete(id);
      return undefined;
    }
    return c;
  }

  /** Checks a code against a challenge; `ok` consumes it, too many wrong codes drop it. */
  answerChallenge(id: string, challenge: ChallengeRecord, code: string): CodeOutcome {
    let ok: boolean;
    if (challenge.kind === 'totp') {
      ok = this.verifyTotp(challenge.user, code);
    } else {
      const expected = Buffer.from(challenge.code ?? '');
      const given = Buffer.from(code);
      ok = expected.length === given.length && expected.length > 0 && timingSafeEqual(expected, given);
    }
    if (ok) {
      this.challenges.delete(id);
      return 'ok';
    }
    this.counters.failedLogins++;
    challenge.attempts++;
    if (challenge.attempts >= MAX_CHALLENGE_ATTEMPTS) {
      this.challenges.delete(id);
      return 'locked';
    }
    return 'wrong';
  }

  /** Completes a login: counts it and creates a session or token. Returns its id. */
  completeLogin(username: string, kind: 'cookie' | 'token'): string {
    this.counters.logins++;
    this.counters.byUser[username] = (this.counters.byUser[username] ?? 0) + 1;
    const user = this.users.get(username);
    // A token lapses at its `exp` (whole seconds), exactly when the site stops accepting it.
    const expiresAt =
      kind === 'token'
        ? Math.floor((this.now() + this.ttlSeconds * 1000) / 1000) * 1000
        : this.now() + this.ttlSeconds * 1000;
    const id = kind === 'token' ? newJwt(username, expiresAt) : newId();
    this.sessions.set(id, { user: username, kind, generation: user?.generation ?? -1, expiresAt });
    if (++this.created % SWEEP_EVERY === 0) this.sweep();
    return id;
  }

  /** The username of a live session or token of that kind, or undefined. */
  liveSession(id: string | undefined, kind: 'cookie' | 'token'): string | undefined {
    if (!id) return undefined;
    const s = this.sessions.get(id);
    if (!s || s.kind !== kind) return undefined;
    if (!this.isLive(s)) {
      this.sessions.delete(id);
      return undefined;
    }
    return s.user;
  }

  /** Ends one session or token. */
  endSession(id: string | undefined): void {
    if (id) this.sessions.delete(id);
  }

  /** Ends every session, token and challenge. */
  logoutAll(): void {
    this.sessions.clear();
    this.challenges.clear();
  }

  /** Puts every session and token at the end of its lifetime. */
  expireAll(): void {
    const at = this.now();
    for (const s of this.sessions.values()) s.expiresAt = Math.min(s.expiresAt, at);
  }

  /** The last e-mailed code of a user. */
  lastEmailCode(username: string): { code: string; at: number } | undefined {
    return this.inbox.get(username);
  }

  /** A snapshot of the counters. */
  stats(): DemoStats {
    return { ...this.counters, byUser: { ...this.counters.byUser } };
  }

  /** Zeroes the counters. */
  resetStats(): void {
    this.counters = emptyStats();
  }

  /** The CSRF form token bound to a `csrf` cookie value. */
  csrfToken(cookieValue: string): string {
    return createHmac('sha256', this.csrfKey).update(cookieValue).digest('base64url');
  }

  /** True when the form token matches the cookie. */
  csrfValid(cookieValue: string | undefined, formToken: string | undefined): boolean {
    if (!cookieValue || !formToken) return false;
    const expected = Buffer.from(this.csrfToken(cookieValue));
    const given = Buffer.from(formToken);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }

  /** Fresh random value for a `csrf` cookie. */
  newCsrfCookie(): string {
    return randomBytes(18).toString('base64url');
  }

  private isLive(s: SessionRecord): boolean {
    const user = this.users.get(s.user);
    return user !== undefined && user.generation === s.generation && this.now() < s.expiresAt;
  }

  private sweep(): void {
    for (const [id, s] of this.sessions) if (!this.isLive(s)) this.sessions.delete(id);
    const at = this.now();
    for (const [id, c] of this.challenges) if (at >= c.expiresAt) this.challenges.delete(id);
  }
}
