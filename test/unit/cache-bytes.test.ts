/**
 * The caches of decoded records and opened browser states are bounded in bytes, not only in sessions: 1,000
 * sessions of 1 MB each would otherwise stay on the heap.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { browserStateSchema } from '../../src/browser/state.js';
import { rememberRecent } from '../../src/recent.js';
import { storedRecordSchema } from '../../src/session/record.js';
import { harness } from './helpers.js';

afterEach(() => vi.restoreAllMocks());

describe('rememberRecent', () => {
  const limits = { max: 10, maxBytes: 100, sizeOf: (v: string) => v.length };

  it('evicts the oldest entries while the bytes are over the limit', () => {
    const map = new Map<string, string>();
    rememberRecent(map, 'a', 'x'.repeat(40), limits);
    rememberRecent(map, 'b', 'x'.repeat(40), limits);
    rememberRecent(map, 'c', 'x'.repeat(40), limits);
    expect([...map.keys()]).toEqual(['b', 'c']);
    rememberRecent(map, 'b', 'x'.repeat(10), limits); // b is used again: newest, and smaller
    rememberRecent(map, 'd', 'x'.repeat(51), limits);
    expect([...map.keys()]).toEqual(['b', 'd']);
  });

  it('keeps no entry larger than the whole budget, and still bounds the count', () => {
    const map = new Map<string, string>([['a', 'x']]);
    rememberRecent(map, 'big', 'x'.repeat(101), limits);
    expect([...map.keys()]).toEqual(['a']);
    for (let i = 0; i < 20; i++) rememberRecent(map, `k${i}`, 'x', limits);
    expect(map.size).toBe(10);
    const plain = new Map<number, number>();
    for (let i = 0; i < 5; i++) rememberRecent(plain, i, i, 3);
    expect([...plain.keys()]).toEqual([2, 3, 4]);
  });
});

describe('manager caches', () => {
  const ALICE = { username: 'alice', password: 'pw-alice-1' };
  /** A state of about `kb` KB of localStorage. */
  const bigState = (kb: number) => ({
    cookies: [],
    origins: [
      { origin: 'https://site.test', localStorage: [{ name: 'blob', value: 'x'.repeat(kb * 1024) }] },
    ],
  });

  async function parsesOnRereads(cacheBytes: number | undefined) {
    const h = harness(cacheBytes === undefined ? {} : { cacheBytes });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await h.manager.importState('site', bigState(400), {
        id: `big-${i}`,
        credentials: ALICE,
        check: false,
      });
      ids.push(s.id);
    }
    for (const id of ids) await h.manager.exportState(id);
    const records = vi.spyOn(storedRecordSchema, 'safeParse');
    const states = vi.spyOn(browserStateSchema, 'safeParse');
    for (const id of ids) await h.manager.exportState(id);
    const counts = { records: records.mock.calls.length, states: states.mock.calls.length };
    await h.manager.close();
    return counts;
  }

  it('by default, re-reading a few large sessions decodes nothing again', async () => {
    expect(await parsesOnRereads(undefined)).toEqual({ records: 0, states: 0 });
  });

  it('with a small cacheBytes, large sessions are not kept decoded', async () => {
    expect(await parsesOnRereads(1024 * 1024)).toEqual({ records: 3, states: 3 });
  });

  it('rejects a cacheBytes that is not a whole number of bytes', () => {
    expect(() => harness({ cacheBytes: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }));
    expect(() => harness({ cacheBytes: Number.POSITIVE_INFINITY })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTIONS' }),
    );
  });
});
