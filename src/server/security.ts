import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock.js';

// The console's sign-in and request protection: the operator's token is compared in constant time and
// exchanged for a random console session (an HttpOnly, SameSite=Strict cookie that never carries the token),
// each console session has its own CSRF token, and failed sign-ins are rate limited.

/** A random URL-safe token of `bytes` random bytes. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** Compares two strings in time independent of where they differ (their SHA-256 digests are compared). */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** One signed-in browser. */
export interface ConsoleSession {
  readonly csrf: string;
  readonly expiresAt: number;
}

/** Signed-in browsers by their random cookie value, each for `ttlMs` (bounded in number). */
export class ConsoleSessions {
  readonly #sessions = new Map<string, ConsoleSession>();
  readonly #clock: Clock;
  readonly #ttlMs: number;
  readonly #max: number;

  constructor(clock: Clock, ttlMs = 12 * 60 * 60_000, max = 1000) {
    this.#clock = clock;
    this.#ttlMs = ttlMs;
    this.#max = max;
  }

  /** Starts a console session; returns its cookie value. The oldest one goes when there are too many. */
  open(): { id: string; session: ConsoleSession } {
    if (this.#sessions.size >= this.#max) {
      const oldest = this.#sessions.keys().next().value;
      if (oldest !== undefined) this.#sessions.delete(oldest);
    }
    const id = randomToken();
    const session = { csrf: randomToken(), expiresAt: this.#clock.now() + this.#ttlMs };
    this.#sessions.set(id, session);
    return { id, session };
  }

  /** The console session of a cookie value, when it exists and has not expired. */
  get(id: string | undefined): ConsoleSession | undefined {
    if (id === undefined || id.length > 100) return undefined;
    const session = this.#sessions.get(id);
    if (session === undefined) return undefined;
    if (session.expiresAt <= this.#clock.now()) {
      this.#sessions.delete(id);
      return undefined;
    }
    return session;
  }

  close(id: string | undefined): void {
    if (id !== undefined) this.#sessions.delete(id);
  }

  clear(): void {
    this.#sessions.clear();
  }
}

/** Failed sign-ins allowed per client and window before 429. */
export const SIGN_IN_FAILURES = 5;
/** The window of {@link SIGN_IN_FAILURES}. */
export const SIGN_IN_WINDOW_MS = 60_000;

/** Counts failed sign-ins per client in fixed windows (bounded number of clients tracked). */
export class SignInLimiter {
  readonly #failures = new Map<string, { count: number; since: number }>();
  readonly #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Milliseconds until `client` may try again; 0 when it may try now. */
  retryAfterMs(client: string): number {
    const entry = this.#failures.get(client);
    if (entry === undefined) return 0;
    const left = entry.since + SIGN_IN_WINDOW_MS - this.#clock.now();
    if (left <= 0) {
      this.#failures.delete(client);
      return 0;
    }
    return entry.count >= SIGN_IN_FAILURES ? left : 0;
  }

  fail(client: string): void {
    const now = this.#clock.now();
    const entry = this.#failures.get(client);
    if (entry === undefined || entry.since + SIGN_IN_WINDOW_MS <= now) {
      if (this.#failures.size >= 10_000) this.#failures.clear();
      this.#failures.set(client, { count: 1, since: now });
    } else {
      entry.count++;
    }
  }
}

/** The Content-Security-Policy of every console page: no inline script or style, nothing from elsewhere. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers of every console response. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};
