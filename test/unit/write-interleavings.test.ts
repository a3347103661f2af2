import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, it } from 'vitest';
import { createMemoryStore, createSqliteStore } from '../../src/index.js';
import { checkInterleaving, opArb } from '../properties/interleavings.js';

// The write rule, as a property over interleavings (see test/properties/interleavings.ts): memory and SQLite
// here, Redis and PostgreSQL in test/integration/write-interleavings.test.ts.

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('interleavings of writers on one session', () => {
  it('memory store: no acknowledged write lost, nothing deleted comes back, never stuck pending', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 2, maxLength: 8 }), fc.scheduler(), async (ops, s) => {
        await checkInterleaving({ store: createMemoryStore(), cleanup: async () => {} }, ops, s);
      }),
      {
        numRuns: Number(process.env.RUNS ?? 150),
        seed: process.env.SEED ? Number(process.env.SEED) : undefined,
        verbose: 2,
      },
    );
  }, 120_000);

  it('SQLite store: the same, with the atomic compare-and-set of SQLite', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 2, maxLength: 6 }), fc.scheduler(), async (ops, s) => {
        const dir = mkdtempSync(join(tmpdir(), 'auth-sessions-interleave-'));
        dirs.push(dir);
        const store = createSqliteStore(join(dir, 'sessions.sqlite'));
        await checkInterleaving(
          {
            store,
            cleanup: async () => {
              await store.disconnect();
            },
          },
          ops,
          s,
        );
      }),
      { numRuns: 25 },
    );
  }, 180_000);
});
