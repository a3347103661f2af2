/**
 * Public shapes of the demo site: its options, the handle `startDemoSite` returns, and what it records.
 */

/**
 * A user account on the demo site.
 *
 * @example
 * ```ts
 * const bob: DemoUser = { username: 'bob', password: 'builder-7', totpSecret: generateSecret() };
 * ```
 */
export interface DemoUser {
  readonly username: string;
  readonly password: string;
  /**
   * Base32 TOTP secret (at least 16 bytes once decoded, e.g. from otplib's `generateSecret()`). When set, a
   * password login continues at `/otp`, and `POST /api/token` needs an `otp` field.
   */
  readonly totpSecret?: string;
  /**
   * When true (and no `totpSecret`), a password login continues at `/email-code` with a 6-digit code
   * "e-mailed" to the user: read it with `lastEmailCode()` or `GET /__admin/inbox?user=…`.
   */
  readonly emailCode?: boolean;
}

/**
 * Options of {@link startDemoSite}.
 *
 * @example
 * ```ts
 * const site = await startDemoSite({ sessionTtlSeconds: 60, users: [{ username: 'alice', password: 'pw' }] });
 * ```
 */
export interface DemoSiteOptions {
  /** TCP port; `0` picks a free one. @default 0 */
  readonly port?: number;
  /** Interface to listen on. @default '127.0.0.1' */
  readonly host?: string;
  /** Lifetime of a session or bearer token, fixed when it is created. @default 3600 */
  readonly sessionTtlSeconds?: number;
  /** The site's accounts. @default [{ username: 'alice', password: 'wonderland-42' }] */
  readonly users?: readonly DemoUser[];
  /**
   * Clock (milliseconds since the epoch) for session lifetimes and challenge expiry. TOTP codes are accepted
   * when valid at this time or at the real time. @default Date.now
   */
  readonly now?: () => number;
}

/**
 * Counters of login activity, for asserting "exactly one login happened".
 *
 * @example
 * ```ts
 * expect(site.stats()).toMatchObject({ logins: 1, byUser: { alice: 1 } });
 * ```
 */
export interface DemoStats {
  /** Completed logins (form, after any second factor, and `POST /api/token`). */
  logins: number;
  /** Password submissions (`POST /login` past the CSRF check, `POST /api/token`). */
  loginAttempts: number;
  /** Wrong username/password, wrong or missing second-factor codes. */
  failedLogins: number;
  /** Second-factor challenges issued (TOTP prompts and e-mailed codes). */
  otpChallenges: number;
  /** Completed logins per username. */
  byUser: Record<string, number>;
}

/**
 * One request the site received (admin endpoints under `/__admin/` are not recorded).
 *
 * @example
 * ```ts
 * expect(site.requests.every((r) => r.via?.includes('proxy'))).toBe(true);
 * ```
 */
export interface DemoRequestLogEntry {
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  /** The `User-Agent` header, or `''`. */
  readonly userAgent: string;
  /** The `Via` header, else `Forwarded`, else `X-Forwarded-For`: set when the request came through a proxy. */
  readonly via?: string;
  /** Wall-clock milliseconds since the epoch. */
  readonly at: number;
}

/**
 * What a browser reported from `/device` (through `POST /api/device`).
 *
 * @example
 * ```ts
 * expect(site.deviceReports.filter((d) => d.user === 'alice').at(-1)?.timezone).toBe('Europe/Paris');
 * ```
 */
export interface DemoDeviceReport {
  /** The logged-in user, when the report came with a live session cookie. */
  readonly user?: string;
  /** `navigator.userAgent` as the page saw it. */
  readonly userAgent: string;
  /** The `User-Agent` request header. */
  readonly headerUserAgent: string;
  readonly width: number;
  readonly height: number;
  readonly timezone: string;
  readonly language: string;
  /** Wall-clock milliseconds since the epoch. */
  readonly at: number;
}

/**
 * The handle of a running demo site: its URL, counters, levers that tests pull, and `close`.
 *
 * @example
 * ```ts
 * const site = await startDemoSite();
 * try { await fetch(`${site.url}/login`); } finally { await site.close(); }
 * ```
 */
export interface DemoSite {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** A snapshot of the login counters. */
  stats(): DemoStats;
  /** Zeroes the login counters. */
  resetStats(): void;
  /** Adds a user, or replaces one of that name (its sessions end when its password or second factor changes). */
  addUser(user: DemoUser): void;
  /** Changes a user's password and ends all of that user's sessions and tokens. Throws for an unknown user. */
  setPassword(username: string, password: string): void;
  /** Ends every session, token and pending second-factor challenge ("forced logout"). */
  logoutAll(): void;
  /** Lifetime of sessions and tokens created from now on. */
  setSessionTtl(seconds: number): void;
  /** Makes every existing session and token past its lifetime (by the site's clock). */
  expireAllSessions(): void;
  /** The last code e-mailed to a user, if any. */
  lastEmailCode(username: string): string | undefined;
  /** Recent requests, oldest first (the last 5,000). A snapshot. */
  readonly requests: readonly DemoRequestLogEntry[];
  /** Empties the request log. */
  clearRequests(): void;
  /** Recent device reports, oldest first (the last 1,000). A snapshot. */
  readonly deviceReports: readonly DemoDeviceReport[];
  /** Stops listening and closes every open connection. */
  close(): Promise<void>;
}
