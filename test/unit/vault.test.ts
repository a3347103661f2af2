import { createHash, hkdfSync, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { AuthSessionError } from '../../src/errors.js';
import { type Envelope, envelopeSchema } from '../../src/vault/envelope.js';
import { DECRYPT_FAILED_MESSAGE, Keyring, keyCheckValue } from '../../src/vault/keyring.js';

const key = (fill?: number): Uint8Array =>
  fill === undefined ? new Uint8Array(randomBytes(32)) : new Uint8Array(32).fill(fill);
const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
const unb64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'base64'));

function expectDecryptFailed(fn: () => unknown, recordId: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(AuthSessionError);
  const err = caught as AuthSessionError;
  expect(err.code).toBe('DECRYPT_FAILED');
  expect(err.message).toBe(DECRYPT_FAILED_MESSAGE);
  expect(err.cause).toBeUndefined();
  expect(err.sessionId).toBe(recordId);
}

function flipByte(text: string, index: number): string {
  const bytes = unb64(text);
  bytes[index]! ^= 0x01;
  return b64(bytes);
}

describe('Keyring seal/open', () => {
  const ring = new Keyring({ current: key(7) });

  it('round-trips JSON values bound to a record and field', () => {
    const values = [
      { username: 'ada', password: 'hunter2-correct-horse', nested: { list: [1, 'two', null, true] } },
      'plain string',
      42,
      null,
      [],
      { 'ünï©ødé': '🔐' },
    ];
    for (const value of values) {
      const envelope = ring.seal('sess_1', 'credentials', value);
      expect(envelopeSchema.parse(envelope)).toEqual(envelope);
      expect(envelope.v).toBe(1);
      expect(envelope.kid).toBe(ring.currentKid);
      expect(unb64(envelope.nonce)).toHaveLength(24);
      expect(ring.open('sess_1', 'credentials', envelope)).toEqual(value);
    }
  });

  it('round-trips undefined as undefined', () => {
    expect(ring.open('r', 'f', ring.seal('r', 'f', undefined))).toBeUndefined();
  });

  it('survives a JSON round trip of the envelope (as stored)', () => {
    const envelope = JSON.parse(JSON.stringify(ring.seal('r', 'state', { a: 1 })));
    expect(ring.open('r', 'state', envelope)).toEqual({ a: 1 });
  });

  it('uses a fresh nonce per seal', () => {
    const a = ring.seal('r', 'f', { same: 'data' });
    const b = ring.seal('r', 'f', { same: 'data' });
    expect(a.nonce).not.toBe(b.nonce);
    expect(a.box).not.toBe(b.box);
  });

  it('takes nonces from the injected randomBytes', () => {
    const asked: number[] = [];
    const injected = new Keyring({
      current: key(1),
      randomBytes: (n) => {
        asked.push(n);
        return new Uint8Array(n).fill(9);
      },
    });
    const envelope = injected.seal('r', 'f', 1);
    expect(asked).toEqual([24]);
    expect(envelope.nonce).toBe(b64(new Uint8Array(24).fill(9)));
  });

  it('rejects a randomBytes that returns the wrong length', () => {
    const broken = new Keyring({ current: key(1), randomBytes: () => new Uint8Array(8) });
    expect(() => broken.seal('r', 'f', 1)).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }));
  });

  it('does not leak the plaintext into the envelope', () => {
    const envelope = ring.seal('r', 'credentials', { password: 'hunter2-correct-horse' });
    expect(JSON.stringify(envelope)).not.toContain('hunter2');
    expect(Buffer.from(envelope.box, 'base64').toString('latin1')).not.toContain('hunter2');
  });
});

describe('Keyring: every failure is the same DECRYPT_FAILED', () => {
  const ring = new Keyring({ current: key(7) });
  const sealed = ring.seal('sess_1', 'credentials', { password: 'hunter2-correct-horse' });

  it('wrong key', () => {
    expectDecryptFailed(
      () => new Keyring({ current: { key: key(8), kid: sealed.kid } }).open('sess_1', 'credentials', sealed),
      'sess_1',
    );
  });

  it('flipped byte in the box (first, middle, last)', () => {
    const length = unb64(sealed.box).length;
    for (const index of [0, Math.floor(length / 2), length - 1]) {
      expectDecryptFailed(
        () => ring.open('sess_1', 'credentials', { ...sealed, box: flipByte(sealed.box, index) }),
        'sess_1',
      );
    }
  });

  it('flipped byte in the nonce', () => {
    expectDecryptFailed(
      () => ring.open('sess_1', 'credentials', { ...sealed, nonce: flipByte(sealed.nonce, 5) }),
      'sess_1',
    );
  });

  it('unknown kid', () => {
    expectDecryptFailed(() => ring.open('sess_1', 'credentials', { ...sealed, kid: 'nope' }), 'sess_1');
  });

  it('truncated or malformed base64', () => {
    const cases: Partial<Envelope>[] = [
      { box: sealed.box.slice(0, -4) },
      { box: sealed.box.slice(0, -1) },
      { box: sealed.box.slice(0, 20) },
      { box: '' },
      { box: `${sealed.box.slice(0, 8)}!${sealed.box.slice(9)}` },
      { box: ` ${sealed.box}` },
      {
        box:
          sealed.box.replace(/\+/g, '-').replace(/\//g, '_') +
          (sealed.box.includes('+') || sealed.box.includes('/') ? '' : '-'),
      },
      { nonce: sealed.nonce.slice(0, -4) },
      { nonce: `${sealed.nonce}AAAA` },
      { nonce: '' },
    ];
    for (const patch of cases) {
      expectDecryptFailed(() => ring.open('sess_1', 'credentials', { ...sealed, ...patch }), 'sess_1');
    }
  });

  it('a box moved to another record id or another field', () => {
    expectDecryptFailed(() => ring.open('sess_2', 'credentials', sealed), 'sess_2');
    expectDecryptFailed(() => ring.open('sess_1', 'state', sealed), 'sess_1');
    expectDecryptFailed(() => ring.open('sess_', 'credentials', sealed), 'sess_');
  });

  it('malformed envelopes', () => {
    for (const bad of [
      undefined,
      null,
      'string',
      42,
      [],
      {},
      { ...sealed, v: 2 },
      { ...sealed, extra: 1 },
      { ...sealed, kid: '' },
    ]) {
      expectDecryptFailed(() => ring.open('sess_1', 'credentials', bad), 'sess_1');
    }
  });

  it('authentic boxes whose payload is not a bound JSON object', () => {
    const raw = key(3);
    const kid = 'k';
    const r = new Keyring({ current: { key: raw, kid } });
    const sealRaw = (bytes: Uint8Array): Envelope => {
      const nonce = new Uint8Array(randomBytes(24));
      return { v: 1, kid, nonce: b64(nonce), box: b64(nacl.secretbox(bytes, nonce, raw)) };
    };
    const enc = (text: string): Uint8Array => new TextEncoder().encode(text);
    const payloads = [
      enc('not json'),
      enc('[1,2]'),
      enc('null'),
      enc('"x"'),
      enc('{"f":"credentials","d":1}'),
      enc('{"id":"sess_1","d":1}'),
      enc('{"id":1,"f":"credentials","d":1}'),
      new Uint8Array([0xff, 0xfe, 0x7b, 0x7d]),
      new Uint8Array(0),
    ];
    for (const payload of payloads) {
      expectDecryptFailed(() => r.open('sess_1', 'credentials', sealRaw(payload)), 'sess_1');
    }
    // The same path with a correct payload opens, so the failures above are the payload checks.
    expect(r.open('sess_1', 'credentials', sealRaw(enc('{"id":"sess_1","f":"credentials","d":1}')))).toBe(1);
  });
});

describe('Keyring keys', () => {
  it('defaults the kid to the key check value (sha256 prefix)', () => {
    const raw = key();
    const ring = new Keyring({ current: raw });
    const expected = createHash('sha256').update(raw).digest('hex').slice(0, 16);
    expect(keyCheckValue(raw)).toBe(expected);
    expect(ring.currentKid).toBe(expected);
    expect(ring.kids).toEqual([expected]);
  });

  it('seals with the current key and opens boxes of previous keys', () => {
    const oldKey = key();
    const newKey = key();
    const oldRing = new Keyring({ current: oldKey });
    const oldBox = oldRing.seal('r', 'f', { v: 'old' });

    const ring = new Keyring({ current: newKey, previous: [oldKey] });
    expect(ring.currentKid).toBe(keyCheckValue(newKey));
    expect(ring.kids).toEqual([keyCheckValue(newKey), keyCheckValue(oldKey)]);
    expect(ring.open('r', 'f', oldBox)).toEqual({ v: 'old' });
    expect(ring.isCurrent(oldBox)).toBe(false);

    const newBox = ring.seal('r', 'f', { v: 'new' });
    expect(newBox.kid).toBe(keyCheckValue(newKey));
    expect(ring.isCurrent(newBox)).toBe(true);
    expect(ring.isCurrent({ nope: true })).toBe(false);
    expect(ring.isCurrent(undefined)).toBe(false);
    // The old keyring cannot read what the new key sealed.
    expectDecryptFailed(() => oldRing.open('r', 'f', newBox), 'r');
  });

  it('accepts explicit kids and rejects invalid ones', () => {
    const ring = new Keyring({
      current: { key: key(1), kid: 'pass-2' },
      previous: [{ key: key(2), kid: 'pass' }],
    });
    expect(ring.kids).toEqual(['pass-2', 'pass']);
    for (const kid of ['', 'has space', 'x'.repeat(65)]) {
      expect(() => new Keyring({ current: { key: key(1), kid } })).toThrow(
        expect.objectContaining({ code: 'INVALID_OPTIONS' }),
      );
    }
  });

  it('rejects two different keys with one kid and merges identical ones', () => {
    expect(
      () => new Keyring({ current: { key: key(1), kid: 'a' }, previous: [{ key: key(2), kid: 'a' }] }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }));
    const ring = new Keyring({ current: key(1), previous: [key(1), key(2)] });
    expect(ring.kids).toHaveLength(2);
  });

  it('rejects keys that are not 32 bytes', () => {
    for (const bad of [new Uint8Array(31), new Uint8Array(33), new Uint8Array(0)]) {
      expect(() => new Keyring({ current: bad })).toThrow(
        expect.objectContaining({ code: 'INVALID_OPTIONS' }),
      );
      expect(() => new Keyring({ current: key(1), previous: [bad] })).toThrow(
        expect.objectContaining({ code: 'INVALID_OPTIONS' }),
      );
    }
  });

  it('keeps its own copy of the keys', () => {
    const raw = key();
    const ring = new Keyring({ current: raw });
    const envelope = ring.seal('r', 'f', 'x');
    raw.fill(0);
    expect(ring.open('r', 'f', envelope)).toBe('x');
  });

  it('destroy() makes seal and open fail with CLOSED', () => {
    const ring = new Keyring({ current: key() });
    const envelope = ring.seal('r', 'f', 'x');
    ring.destroy();
    ring.destroy();
    expect(() => ring.seal('r', 'f', 'x')).toThrow(expect.objectContaining({ code: 'CLOSED' }));
    expect(() => ring.open('r', 'f', envelope)).toThrow(expect.objectContaining({ code: 'CLOSED' }));
  });

  it('disposes with `using`', () => {
    let escaped: Keyring;
    {
      using ring = new Keyring({ current: key() });
      escaped = ring;
    }
    expect(() => escaped.seal('r', 'f', 1)).toThrow(expect.objectContaining({ code: 'CLOSED' }));
  });

  it('never shows key bytes in inspect or JSON output', () => {
    const raw = key();
    const ring = new Keyring({ current: raw, previous: [key()] });
    for (const text of [inspect(ring, { depth: 10, showHidden: true }), JSON.stringify(ring), String(ring)]) {
      expect(text).not.toContain(b64(raw));
      expect(text).not.toContain(Buffer.from(raw).toString('hex'));
      expect(text).not.toMatch(/\b\d+, \d+, \d+, \d+/);
    }
    expect(inspect(ring)).toContain(ring.currentKid);
  });
});

describe('Keyring purpose keys', () => {
  const INFO = 'auth-sessions connect links v1';

  it('derives one key per key of the ring (current first), the same in every keyring of the same keys', () => {
    const oldKey = key();
    const newKey = key();
    const ring = new Keyring({ current: newKey, previous: [oldKey] });
    const [current, previous] = ring.purposeKeys(INFO);
    expect(ring.purposeKeys(INFO)).toHaveLength(2);
    expect(b64(current!)).toBe(b64(new Uint8Array(hkdfSync('sha256', newKey, new Uint8Array(0), INFO, 32))));
    expect(b64(previous!)).toBe(b64(new Uint8Array(hkdfSync('sha256', oldKey, new Uint8Array(0), INFO, 32))));
    // Another process holding the old key alone derives the same key for it.
    expect(b64(new Keyring({ current: oldKey }).purposeKeys(INFO)[0]!)).toBe(b64(previous!));
    // Never the key itself, nor another purpose's key.
    expect(b64(current!)).not.toBe(b64(newKey));
    expect(b64(ring.purposeKeys('another purpose v1')[0]!)).not.toBe(b64(current!));
  });

  it('refuses the record tag purpose, and zeroes its keys on destroy', () => {
    const ring = new Keyring({ current: key() });
    expect(() => ring.purposeKeys('auth-sessions record mac v1')).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTIONS' }),
    );
    const [derived] = ring.purposeKeys(INFO);
    ring.destroy();
    expect(derived!.every((byte) => byte === 0)).toBe(true);
    expect(() => ring.purposeKeys(INFO)).toThrow(expect.objectContaining({ code: 'CLOSED' }));
  });
});
