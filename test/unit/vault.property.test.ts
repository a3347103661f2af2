import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AuthSessionError } from '../../src/errors.js';
import { DECRYPT_FAILED_MESSAGE, Keyring } from '../../src/vault/keyring.js';

const keyArb = fc.uint8Array({ minLength: 32, maxLength: 32 });

function flipBit(text: string, bit: number): string {
  const bytes = new Uint8Array(Buffer.from(text, 'base64'));
  const index = bit % (bytes.length * 8);
  bytes[index >> 3]! ^= 1 << (index & 7);
  return Buffer.from(bytes).toString('base64');
}

function failsClosed(fn: () => unknown): boolean {
  try {
    fn();
    return false;
  } catch (err) {
    return (
      err instanceof AuthSessionError &&
      err.code === 'DECRYPT_FAILED' &&
      err.message === DECRYPT_FAILED_MESSAGE
    );
  }
}

describe('Keyring properties', () => {
  it('random JSON payloads round-trip for any record id and field', () => {
    fc.assert(
      fc.property(keyArb, fc.string(), fc.string(), fc.jsonValue(), (key, id, field, value) => {
        const ring = new Keyring({ current: key });
        const envelope = JSON.parse(JSON.stringify(ring.seal(id, field, value)));
        // JSON has no -0: compare with what JSON itself gives back.
        expect(ring.open(id, field, envelope)).toEqual(JSON.parse(JSON.stringify(value)));
      }),
      { numRuns: 200 },
    );
  });

  it('any single flipped bit of the box or the nonce fails with DECRYPT_FAILED', () => {
    fc.assert(
      fc.property(keyArb, fc.jsonValue(), fc.nat(), fc.boolean(), (key, value, bit, inNonce) => {
        const ring = new Keyring({ current: key });
        const envelope = ring.seal('rec', 'field', value);
        const tampered = inNonce
          ? { ...envelope, nonce: flipBit(envelope.nonce, bit) }
          : { ...envelope, box: flipBit(envelope.box, bit) };
        expect(failsClosed(() => ring.open('rec', 'field', tampered))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('a box never opens for another record id or field', () => {
    fc.assert(
      fc.property(
        keyArb,
        fc.string(),
        fc.string(),
        fc.string(),
        fc.string(),
        (key, id, field, otherId, otherField) => {
          fc.pre(id !== otherId || field !== otherField);
          const ring = new Keyring({ current: key });
          const envelope = ring.seal(id, field, { secret: 1 });
          expect(failsClosed(() => ring.open(otherId, otherField, envelope))).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });
});
