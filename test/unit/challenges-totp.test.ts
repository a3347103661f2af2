import { generate } from 'otplib';
import { describe, expect, it } from 'vitest';
import { currentTotp, parseTotpSecret, totpFactory } from '../../src/challenges/totp.js';
import { AuthSessionError } from '../../src/errors.js';
import { FakeClock } from '../../src/testing/index.js';

const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
const STEP_MS = 30_000;
/** A step boundary: 2026-01-01T00:00:00Z is a multiple of 30 s. */
const BOUNDARY = Date.parse('2026-01-01T00:00:00Z');

async function settledYet(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  return done;
}

describe('totp()', () => {
  it('returns the current code at once when the step has time left', async () => {
    const clock = new FakeClock(BOUNDARY + 10_000);
    const code = await currentTotp(SECRET, clock);
    expect(code).toBe(await generate({ secret: SECRET, epoch: (BOUNDARY + 10_000) / 1000 }));
    expect(clock.pendingTimers).toBe(0);
  });

  it('1 s before a step boundary, waits for the next step and returns its code', async () => {
    const clock = new FakeClock(BOUNDARY + STEP_MS - 1_000);
    const current = await generate({ secret: SECRET, epoch: (BOUNDARY + STEP_MS - 1_000) / 1000 });
    const next = await generate({ secret: SECRET, epoch: (BOUNDARY + STEP_MS) / 1000 });
    expect(next).not.toBe(current);
    const pending = currentTotp(SECRET, clock);
    expect(await settledYet(pending)).toBe(false);
    await clock.advanceAsync(900);
    expect(await settledYet(pending)).toBe(false);
    await clock.advanceAsync(200);
    expect(await pending).toBe(next);
    expect(clock.now()).toBeGreaterThanOrEqual(BOUNDARY + STEP_MS);
  });

  it('the wait is abortable', async () => {
    const clock = new FakeClock(BOUNDARY + STEP_MS - 2_000);
    const controller = new AbortController();
    const pending = currentTotp(SECRET, clock, controller.signal);
    controller.abort();
    const err = await pending.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AuthSessionError);
    expect((err as AuthSessionError).code).toBe('ABORTED');
    expect(clock.pendingTimers).toBe(0);
  });

  it('accepts secrets as sites show them and otpauth URIs, including 80-bit secrets', async () => {
    const clock = new FakeClock(BOUNDARY + 5_000);
    const expected = await generate({ secret: SECRET, epoch: (BOUNDARY + 5_000) / 1000 });
    expect(await currentTotp('jbsw y3dp ehpk 3pxp jbsw-y3dp-ehpk-3pxp', clock)).toBe(expected);
    expect(await currentTotp(`otpauth://totp/Site:bob?secret=${SECRET}&issuer=Site`, clock)).toBe(expected);
    expect(parseTotpSecret(`otpauth://totp/x?secret=${SECRET}&digits=8&period=60&algorithm=SHA256`)).toEqual({
      secret: SECRET,
      digits: 8,
      period: 60,
      algorithm: 'sha256',
    });
    const eight = await currentTotp(
      `otpauth://totp/x?secret=${SECRET}&digits=8&period=60&algorithm=SHA256`,
      clock,
    );
    expect(eight).toMatch(/^\d{8}$/);
    expect(await currentTotp('JBSWY3DPEHPK3PXP', clock)).toMatch(/^\d{6}$/);
  });

  it('a bad or missing secret is INVALID_CREDENTIALS and never quoted', async () => {
    const clock = new FakeClock(BOUNDARY + 5_000);
    for (const bad of ['not base32!! s3cr3t', 'otpauth://hotp/x?secret=ABC', 'AAAA']) {
      const err = await currentTotp(bad, clock).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((err as AuthSessionError).code).toBe('INVALID_CREDENTIALS');
      expect((err as Error).message).not.toContain(bad);
    }
    const totp = totpFactory({ username: 'x' }, clock, new AbortController().signal);
    expect(
      await totp().then(
        () => '',
        (e: AuthSessionError) => e.code,
      ),
    ).toBe('INVALID_CREDENTIALS');
  });
});
