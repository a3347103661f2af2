import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AuthSessionError, canTransition, SESSION_STATES, TRANSITIONS } from '../../src/index.js';
import type { SessionRecord } from '../../src/session/record.js';
import { assertTransition } from '../../src/session/states.js';

/** One state change as the write path makes it: the transition checked first. */
function nextRecord(
  record: SessionRecord,
  changes: { state: SessionRecord['state'] },
  _now: number,
): SessionRecord {
  assertTransition(record.state, changes.state, record.id);
  return { ...record, state: changes.state, revision: record.revision + 1 };
}

const base: SessionRecord = {
  v: 1,
  id: 's1',
  auth: 'site',
  type: 'credentials',
  state: 'pending',
  revision: 0,
  generation: 0,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  labels: {},
  sealed: {},
};

describe('state machine', () => {
  it('walks the whole table: every pair is either allowed or throws ILLEGAL_TRANSITION', () => {
    let allowed = 0;
    for (const from of SESSION_STATES) {
      for (const to of SESSION_STATES) {
        const legal = TRANSITIONS[from].includes(to);
        expect(canTransition(from, to)).toBe(legal);
        if (legal) {
          allowed++;
          expect(() => assertTransition(from, to)).not.toThrow();
          expect(nextRecord({ ...base, state: from }, { state: to }, 0).state).toBe(to);
        } else {
          const err = (() => {
            try {
              nextRecord({ ...base, state: from }, { state: to }, 0);
            } catch (e) {
              return e;
            }
          })();
          expect(err).toBeInstanceOf(AuthSessionError);
          expect((err as AuthSessionError).code).toBe('ILLEGAL_TRANSITION');
        }
      }
    }
    // The table is what docs/architecture.md describes, no more: a new edge must be a deliberate change here.
    expect(allowed).toBe(11);
    expect(canTransition('expired', 'expired')).toBe(false);
    expect(canTransition('failed', 'expired')).toBe(false);
    expect(canTransition('active', 'failed')).toBe(false);
  });

  it('random walks only ever take legal steps, and every write bumps the revision', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...SESSION_STATES), { maxLength: 60 }), (targets) => {
        let record = base;
        for (const to of targets) {
          const legal = canTransition(record.state, to);
          try {
            const next = nextRecord(record, { state: to }, 0);
            expect(legal).toBe(true);
            expect(next.revision).toBe(record.revision + 1);
            record = next;
          } catch (err) {
            expect(legal).toBe(false);
            expect((err as AuthSessionError).code).toBe('ILLEGAL_TRANSITION');
          }
        }
      }),
    );
  });
});
