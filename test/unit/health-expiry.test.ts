import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BrowserState } from '../../src/browser/state.js';
import { stateExpiry } from '../../src/health/expiry.js';
import { jwtExpiriesIn, jwtExpiry } from '../../src/health/jwt.js';
import { ObservedLifetimes } from '../../src/health/lifetimes.js';
import { defineAuth } from '../../src/index.js';

const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
const jwt = (payload: object, header: object = { alg: 'HS256', typ: 'JWT' }) =>
  `${part(header)}.${part(payload)}.c2lnbmF0dXJl`;

const portal = (extra: Record<string, unknown> = {}) =>
  defineAuth({
    name: 'portal',
    type: 'recorder',
    startUrl: 'https://portal.test/login',
    finishUrl: 'https://portal.test/home',
    check: () => true,
    ...extra,
  });

function state(parts: Partial<BrowserState>): BrowserState {
  return { cookies: [], origins: [], ...parts };
}

function cookie(name: string, value: string, expires = -1) {
  return {
    name,
    value,
    domain: 'portal.test',
    path: '/',
    expires,
    httpOnly: true,
    secure: true,
    sameSite: 'Lax' as const,
  };
}

describe('JWT expiry', () => {
  it('reads `exp` (seconds) of a JWT, with or without "Bearer "', () => {
    expect(jwtExpiry(jwt({ exp: 1_800_000_000 }))).toBe(1_800_000_000_000);
    expect(jwtExpiry(`Bearer ${jwt({ exp: 1_800_000_000 })}`)).toBe(1_800_000_000_000);
  });

  it('ignores what is not a JWT with a numeric exp', () => {
    expect(jwtExpiry('1.2.3')).toBeUndefined();
    expect(jwtExpiry('v1.20.3-beta')).toBeUndefined();
    expect(jwtExpiry(jwt({ sub: 'x' }))).toBeUndefined();
    expect(jwtExpiry(jwt({ exp: '1800000000' }))).toBeUndefined();
    expect(jwtExpiry(jwt({ exp: 1 }, { typ: 'JWT' }))).toBeUndefined();
    expect(jwtExpiry(`${part({ alg: 'none' })}.bm90IGpzb24.`)).toBeUndefined();
  });

  it('finds tokens inside JSON values and URL-encoded cookie values', () => {
    const t = jwt({ exp: 1_800_000_000 });
    expect(jwtExpiriesIn(JSON.stringify({ auth: { access_token: t } }))).toEqual([1_800_000_000_000]);
    expect(jwtExpiriesIn(encodeURIComponent(JSON.stringify([t])))).toEqual([1_800_000_000_000]);
  });

  it('never throws, whatever the text', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        jwtExpiriesIn(s);
        jwtExpiry(s);
      }),
    );
  });
});

describe('stateExpiry: the hook, then JWTs, then authCookies', () => {
  const short = jwt({ exp: 1_800_000_000 });
  const long = jwt({ exp: 1_900_000_000 });
  const s = state({
    cookies: [cookie('sid', 'x', 1_700_000_000), cookie('other', 'y', 1_600_000_000)],
    origins: [{ origin: 'https://portal.test', localStorage: [{ name: 'access', value: short }] }],
    sessionStorage: [{ origin: 'https://portal.test', items: [{ name: 'refresh', value: long }] }],
  });

  it('the latest JWT wins over authCookies', () => {
    expect(stateExpiry(portal({ authCookies: ['sid'] }), s)).toBe(1_900_000_000_000);
  });

  it('the hook wins over JWTs; a hook that throws or tells nothing falls through', () => {
    expect(stateExpiry(portal({ expiresAt: () => new Date(1_750_000_000_000) }), s)).toBe(1_750_000_000_000);
    expect(stateExpiry(portal({ expiresAt: () => '2027-01-01T00:00:00Z' }), s)).toBe(
      Date.parse('2027-01-01T00:00:00Z'),
    );
    const throwing = portal({
      expiresAt: () => {
        throw new Error('no');
      },
    });
    expect(stateExpiry(throwing, s)).toBe(1_900_000_000_000);
    expect(stateExpiry(portal({ expiresAt: () => undefined }), s)).toBe(1_900_000_000_000);
  });

  it('authCookies: the earliest expires of the named cookies; session cookies tell nothing', () => {
    const c = state({ cookies: [cookie('sid', 'x', 1_700_000_000), cookie('csrf', 'y', 1_650_000_000)] });
    expect(stateExpiry(portal({ authCookies: ['sid'] }), c)).toBe(1_700_000_000_000);
    expect(stateExpiry(portal({ authCookies: ['sid', 'csrf'] }), c)).toBe(1_650_000_000_000);
    expect(
      stateExpiry(portal({ authCookies: ['sid'] }), state({ cookies: [cookie('sid', 'x')] })),
    ).toBeUndefined();
    expect(stateExpiry(portal(), c)).toBeUndefined();
  });

  it('defineAuth refuses a bad authCookies or expiresAt', () => {
    expect(() => portal({ authCookies: 'sid' })).toThrow(/authCookies/);
    expect(() => portal({ expiresAt: 5 })).toThrow(/expiresAt/);
  });
});

describe('observed lifetimes', () => {
  const at = (min: number) => new Date(Date.UTC(2026, 0, 1, 0, min)).toISOString();

  it('a sample per login that a failed check ended; the median of them; the last login', () => {
    const l = new ObservedLifetimes();
    const loginAt = l.learn('crm', 's1', 3, [
      { at: at(0), kind: 'create', outcome: 'ok' },
      { at: at(11), kind: 'check', outcome: 'failed', error: { code: 'CHECK_FAILED', message: '' } },
      { at: at(11), kind: 'refresh', outcome: 'ok' },
      { at: at(20), kind: 'check', outcome: 'failed', error: { code: 'CHECK_FAILED', message: '' } },
      { at: at(20), kind: 'refresh', outcome: 'ok' },
      { at: at(25), kind: 'check', outcome: 'failed', error: { code: 'TARGET_UNREACHABLE', message: '' } },
    ]);
    expect(loginAt).toBe(Date.parse(at(20)));
    // Samples of 11 and 9 minutes: the median is the lower middle.
    expect(l.lifetime('crm')).toBe(9 * 60_000);
    expect(l.known('s1', 3)?.loginAt).toBe(Date.parse(at(20)));
    expect(l.known('s1', 4)).toBeUndefined();
    // Reading the same history again after a new login adds no sample twice.
    l.learn('crm', 's1', 4, [
      { at: at(0), kind: 'create', outcome: 'ok' },
      { at: at(11), kind: 'check', outcome: 'failed', error: { code: 'CHECK_FAILED', message: '' } },
      { at: at(11), kind: 'refresh', outcome: 'ok' },
      { at: at(20), kind: 'check', outcome: 'failed', error: { code: 'CHECK_FAILED', message: '' } },
      { at: at(20), kind: 'refresh', outcome: 'ok' },
    ]);
    expect(l.lifetime('crm')).toBe(9 * 60_000);
    expect(l.lifetime('other')).toBeUndefined();
  });
});
