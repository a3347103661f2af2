import type { BrowserState } from '../browser/state.js';
import type { AuthDefinition } from '../define.js';
import { jwtExpiriesIn } from './jwt.js';

/**
 * When the login held in a browser state lapses (ms since the epoch), or undefined when the state does not
 * tell. In order: the auth's `expiresAt(state)` hook; the latest `exp` of the JWTs in the state's cookies,
 * localStorage and sessionStorage (a short-lived access token next to a longer refresh token: the login lasts
 * as long as the longer one); the earliest `expires` of the cookies named in the auth's `authCookies`.
 * The last source, the lifetime observed for the auth's past logins, needs history: see `lifetimes.ts`.
 */
export function stateExpiry(auth: AuthDefinition, state: BrowserState): number | undefined {
  return fromHook(auth, state) ?? fromJwts(state) ?? fromAuthCookies(auth, state);
}

/** {@link stateExpiry} as an ISO string (what the record stores). */
export function stateExpiryIso(auth: AuthDefinition, state: BrowserState): string | undefined {
  const at = stateExpiry(auth, state);
  return at === undefined ? undefined : new Date(at).toISOString();
}

function fromHook(auth: AuthDefinition, state: BrowserState): number | undefined {
  if (typeof auth.expiresAt !== 'function') return undefined;
  let value: unknown;
  try {
    value = auth.expiresAt(state);
  } catch {
    // A hook that throws tells nothing; the other sources still may.
    return undefined;
  }
  return toEpochMs(value);
}

function fromJwts(state: BrowserState): number | undefined {
  let latest: number | undefined;
  const consider = (value: string) => {
    for (const exp of jwtExpiriesIn(value)) if (latest === undefined || exp > latest) latest = exp;
  };
  for (const cookie of state.cookies) consider(cookie.value);
  for (const origin of state.origins) for (const item of origin.localStorage) consider(item.value);
  for (const entry of state.sessionStorage ?? []) for (const item of entry.items) consider(item.value);
  return latest;
}

function fromAuthCookies(auth: AuthDefinition, state: BrowserState): number | undefined {
  const names = auth.authCookies;
  if (!names || names.length === 0) return undefined;
  let earliest: number | undefined;
  for (const cookie of state.cookies) {
    // Playwright: `expires` in seconds, -1 for a session cookie (which tells nothing about a lapse).
    if (!names.includes(cookie.name) || !(cookie.expires > 0)) continue;
    const at = cookie.expires * 1000;
    if (earliest === undefined || at < earliest) earliest = at;
  }
  return earliest;
}

function toEpochMs(value: unknown): number | undefined {
  const ms =
    value instanceof Date
      ? value.getTime()
      : typeof value === 'number'
        ? value
        : typeof value === 'string'
          ? Date.parse(value)
          : Number.NaN;
  // Bounded to what a Date can show: an ISO string of it must exist.
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? ms : undefined;
}
