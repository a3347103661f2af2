import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REDACTED, scrubSecrets, secretStrings } from '../../src/lifecycle/scrub-secrets.js';

const PW = 'S3cret-pass/word+';
const secrets = [{ username: 'ann', password: PW, nested: { totp: 'JBSWY3DPEHPK3PXP' } }, 'proxy-pw-123'];

describe('scrubSecrets', () => {
  it('collects string leaves of 4+ characters', () => {
    expect(secretStrings(secrets).sort()).toEqual(['JBSWY3DPEHPK3PXP', PW, 'proxy-pw-123'].sort());
  });

  it('scrubs message, stack, causes, aggregate errors and own properties, in place', () => {
    const inner = new Error(`token JBSWY3DPEHPK3PXP and ${encodeURIComponent(PW)}`);
    const agg = new AggregateError([new Error(`x ${Buffer.from(PW).toString('base64')}`)], 'many');
    const err = new TypeError(`bad password ${PW}`, { cause: { reason: `proxy-pw-123`, next: inner, agg } });
    Object.assign(err, { response: { body: JSON.stringify({ pw: PW }) } });
    const out = scrubSecrets(err, secrets);
    expect(out).toBe(err);
    expect(out).toBeInstanceOf(TypeError);
    const shown = inspect(out, { depth: Number.POSITIVE_INFINITY });
    for (const s of [
      PW,
      encodeURIComponent(PW),
      'JBSWY3DPEHPK3PXP',
      'proxy-pw-123',
      Buffer.from(PW).toString('base64'),
    ]) {
      expect(shown).not.toContain(s);
    }
    expect(out.message).toBe(`bad password ${REDACTED}`);
  });

  it('replaces a frozen error by a clean copy, and scrubs a thrown string', () => {
    const frozen = Object.freeze(new Error(`bad password ${PW}`));
    const out = scrubSecrets(frozen, secrets) as Error;
    expect(out).not.toBe(frozen);
    expect(inspect(out)).not.toContain(PW);
    expect(scrubSecrets(`oops ${PW}`, secrets)).toBe(`oops ${REDACTED}`);
  });

  it('leaves errors without secrets alone, and survives cycles', () => {
    const err = new Error('plain') as Error & { self?: unknown };
    err.self = err;
    expect(scrubSecrets(err, secrets)).toBe(err);
    expect(err.message).toBe('plain');
  });

  it('never calls getters of the error (they may throw), and still cleans its message', () => {
    const err = new Error(`bad password ${PW}`);
    Object.defineProperty(err, 'trap', {
      enumerable: true,
      get() {
        throw new Error('getter called');
      },
    });
    const out = scrubSecrets(err, secrets);
    expect(out).toBe(err);
    expect(out.message).toBe(`bad password ${REDACTED}`);
  });
});
