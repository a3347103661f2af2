/**
 * Ordinary mistakes and hostile values in what callers pass: ids, labels, prototype keys. Each is refused with
 * INVALID_OPTIONS and a short message that never echoes a huge value.
 */
import { describe, expect, it } from 'vitest';
import { harness } from './helpers.js';

const ALICE = { username: 'alice', password: 'pw-alice-1' };

async function rejection(p: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code?: string; message: string };
  }
  throw new Error('expected a rejection');
}

describe('session ids', () => {
  it('every method refuses an id that is not a string, even one whose toString names a session', async () => {
    const h = harness();
    await h.manager.create('site', { credentials: ALICE, id: 'alice' });
    const alice = { toString: () => 'alice' } as unknown as string;
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['run', () => h.manager.run(alice, async () => 1)],
      ['validate', () => h.manager.validate(alice)],
      ['get', () => h.manager.get(alice)],
      ['update', () => h.manager.update(alice, { labels: { a: 'b' } })],
      ['delete', () => h.manager.delete(alice)],
      ['exportState', () => h.manager.exportState(alice)],
      ['history', () => h.manager.history(alice)],
      ['startUpdate', () => h.manager.startUpdate(alice, { labels: {} })],
      ['queue', async () => h.manager.queue(alice)],
    ];
    for (const [name, call] of calls) {
      const err = await rejection(call());
      expect({ name, code: err.code }).toEqual({ name, code: 'INVALID_OPTIONS' });
    }
    // Nothing happened to alice.
    expect((await h.manager.get('alice'))?.labels).toEqual({});
    await h.manager.close();
  });

  it('a 10 KB id is refused with a short message that does not echo it', async () => {
    const h = harness();
    const huge = 'a'.repeat(10_000);
    for (const call of [
      () => h.manager.run(huge, async () => 1),
      () => h.manager.update(huge, {}),
      () => h.manager.delete(huge),
      () => h.manager.exportState(huge),
      () => h.manager.get(huge),
    ]) {
      const err = await rejection(call());
      expect(err.code).toBe('INVALID_OPTIONS');
      expect(err.message.length).toBeLessThan(300);
      expect(err.message).toContain('10000 characters');
    }
    const weird = await rejection(h.manager.delete('../x\u001b]0;pwned\u0007'));
    expect(weird.code).toBe('INVALID_OPTIONS');
    expect([...weird.message].some((c) => c.charCodeAt(0) < 0x20 || (c >= '\u007f' && c <= '\u009f'))).toBe(
      false,
    );
    await h.manager.close();
  });

  it('operation methods refuse a non-string operation id', async () => {
    const h = harness();
    const op = { toString: () => 'x'.repeat(36) } as unknown as string;
    for (const call of [
      () => h.manager.operation(op),
      () => h.manager.resume(op, '123456'),
      () => h.manager.result(op),
      () => h.manager.cancel(op),
    ]) {
      expect((await rejection(call())).code).toBe('INVALID_OPTIONS');
    }
    await h.manager.close();
  });
});

describe('labels', () => {
  it('are bounded in count, name length and value size', async () => {
    const h = harness();
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    const cases: Array<Record<string, string>> = [
      many,
      { ['k'.repeat(129)]: 'v' },
      { big: 'x'.repeat(1025) },
      { big: 'x'.repeat(20 * 1024 * 1024) },
      JSON.parse('{"__proto__": "x"}'),
      { constructor: 'x' },
    ];
    for (const labels of cases) {
      const err = await rejection(h.manager.create('site', { credentials: ALICE, labels }));
      expect(err.code).toBe('INVALID_OPTIONS');
      expect(err.message.length).toBeLessThan(300);
    }
    const fine = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${i}`, 'v'.repeat(1024)]));
    const s = await h.manager.create('site', { credentials: ALICE, labels: fine });
    expect(Object.keys(s.labels)).toHaveLength(64);
    const err = await rejection(h.manager.update(s.id, { labels: { big: 'x'.repeat(1025) } }));
    expect(err.code).toBe('INVALID_OPTIONS');
    expect(err.message).toContain('1025 characters');
    await h.manager.close();
  });
});

describe('imported browser state', () => {
  const cookie = {
    name: 'sid',
    value: 'v',
    domain: 'site.test',
    path: '/',
    expires: -1,
    httpOnly: true,
    secure: false,
    sameSite: 'Lax' as const,
  };

  function deep(levels: number): unknown {
    let v: unknown = 'leaf';
    for (let i = 0; i < levels; i++) v = { v };
    return v;
  }

  it('a 10,000-deep IndexedDB value is INVALID_OPTIONS, as an object and as text', async () => {
    const h = harness();
    const state = {
      cookies: [cookie],
      origins: [{ origin: 'https://site.test', localStorage: [], indexedDB: [deep(10_000)] }],
    };
    const text = JSON.stringify({ ...state, origins: [] }).replace(
      '"origins":[]',
      `"origins":[{"origin":"https://site.test","localStorage":[],"indexedDB":[${'{"v":'.repeat(10_000)}"leaf"${'}'.repeat(10_000)}]}]`,
    );
    for (const input of [state, text]) {
      const err = await rejection(
        h.manager.importState('site', input as never, { credentials: ALICE, check: false }),
      );
      expect({ code: err.code, name: (err as Error).name }).toEqual({
        code: 'INVALID_OPTIONS',
        name: 'AuthSessionError',
      });
      expect(err.message).toContain('64 levels');
    }
    await h.manager.close();
  });

  it('too many cookies, or too much data, is INVALID_OPTIONS naming the limit', async () => {
    const h = harness();
    const many = {
      cookies: Array.from({ length: 10_001 }, (_, i) => ({ ...cookie, name: `c${i}` })),
      origins: [],
    };
    expect(
      (await rejection(h.manager.importState('site', many, { credentials: ALICE, check: false }))).message,
    ).toContain('10001 cookies');
    const big = { cookies: [{ ...cookie, value: 'x'.repeat(33 * 1024 * 1024) }], origins: [] };
    expect(
      (await rejection(h.manager.importState('site', big, { credentials: ALICE, check: false }))).code,
    ).toBe('INVALID_OPTIONS');
    await h.manager.close();
  });

  it('the object form refuses __proto__ and constructor keys anywhere', async () => {
    const h = harness();
    for (const text of [
      `{"cookies":[${JSON.stringify(cookie).slice(0, -1)},"__proto__":{"polluted":true}}],"origins":[]}`,
      '{"cookies":[],"origins":[{"origin":"https://site.test","localStorage":[],"indexedDB":[{"constructor":{"prototype":1}}]}]}',
    ]) {
      const err = await rejection(
        h.manager.importState('site', JSON.parse(text), { credentials: ALICE, check: false }),
      );
      expect(err.code).toBe('INVALID_OPTIONS');
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    await h.manager.close();
  });
});

describe('prototype keys in other inputs', () => {
  it('credentials (INVALID_CREDENTIALS) and device (INVALID_OPTIONS) with a __proto__ key are refused', async () => {
    const h = harness();
    const credentials = JSON.parse('{"username":"alice","password":"pw-alice-1","__proto__":{"admin":true}}');
    const bad = await rejection(h.manager.create('site', { credentials }));
    expect(bad).toMatchObject({
      code: 'INVALID_CREDENTIALS',
      message: expect.stringContaining('"__proto__"'),
    });
    const device = JSON.parse('{"locale":"de-DE","__proto__":{"x":1}}');
    expect((await rejection(h.manager.create('site', { credentials: ALICE, device }))).code).toBe(
      'INVALID_OPTIONS',
    );
    await h.manager.close();
  });
});
