import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import type Keyv from 'keyv';
import { expect } from 'vitest';
import { z } from 'zod';
import { type AuthSessionInfo, AuthSessionManager, defineAuth } from '../../src/index.js';
import { FakeBrowserProvider, FakeClock, FakeSite } from '../../src/testing/index.js';

// Property: whatever order the steps of concurrent operations on one session take (runs, refreshes, updates
// of labels, proxy and credentials, delete, key rotation), no acknowledged write is lost or reverted, a
// deleted session never comes back, the session never stays `pending` once no login is under way, and the
// final record opens with the current key alone. fast-check's scheduler decides the order in which every
// login and check hook (the long steps, where other writes land) and every operation's start go on.

const OLD_KEY = randomBytes(32).toString('base64');
const NEW_KEY = randomBytes(32).toString('base64');
const USERS = ['u0', 'u1', 'u2', 'u3'];

export type Op =
  | { kind: 'run' }
  | { kind: 'refresh' }
  | { kind: 'labels'; value: number }
  | { kind: 'proxy'; value: number }
  | { kind: 'credentials'; user: number }
  | { kind: 'delete' }
  | { kind: 'rotate' };

export const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: 'run' } as const) },
  { weight: 2, arbitrary: fc.constant({ kind: 'refresh' } as const) },
  {
    weight: 2,
    arbitrary: fc.integer({ min: 0, max: 99 }).map((value) => ({ kind: 'labels', value }) as const),
  },
  {
    weight: 2,
    arbitrary: fc.integer({ min: 0, max: 99 }).map((value) => ({ kind: 'proxy', value }) as const),
  },
  {
    weight: 2,
    arbitrary: fc.integer({ min: 0, max: 3 }).map((user) => ({ kind: 'credentials', user }) as const),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'delete' } as const) },
  { weight: 1, arbitrary: fc.constant({ kind: 'rotate' } as const) },
);

/** Failures an operation may meet because of another one; anything else breaks the property. */
// CREATE_FAILED: a "refresh" step logs every browser out of the site, which can hit another login between its
// form and its check.
const EXPECTED_CODES = new Set([
  'SESSION_NOT_FOUND',
  'INVALID_STATE',
  'STALE_WRITE',
  'SESSION_EXPIRED',
  'CREATE_FAILED',
]);

export interface World {
  readonly store: Keyv;
  readonly cleanup: () => Promise<void>;
}

export async function checkInterleaving(world: World, ops: Op[], s: fc.Scheduler): Promise<void> {
  const clock = new FakeClock();
  const site = new FakeSite({ clock, sessionTtlMs: 60 * 60_000 });
  for (const user of USERS) site.addUser(user, 'pw');
  const logins: string[] = [];
  const auth = defineAuth({
    name: 'site',
    type: 'credentials',
    credentials: z.object({ username: z.string(), password: z.string() }),
    retryDelay: 0,
    createAttempts: 1,
    checkAttempts: 1,
    async create({ page, credentials }) {
      await s.schedule(Promise.resolve(), `login ${credentials.username}`);
      logins.push(credentials.username);
      await page.goto(`${site.origin}/login`);
      await page.fill('#username', credentials.username);
      await page.fill('#password', credentials.password);
      await page.click('#login');
      await page.waitForURL(/\/account$/, { timeout: 1000 });
    },
    async check({ page }) {
      await s.schedule(Promise.resolve(), 'check');
      await page.goto(`${site.origin}/account`);
      return (await page.textContent('#user')) !== null;
    },
  });
  const browser = new FakeBrowserProvider({ sites: [site], maxContexts: 64 });
  const first = new AuthSessionManager({ auths: [auth], store: world.store, key: OLD_KEY, browser, clock });
  const session = await s.waitFor(first.create('site', { credentials: { username: 'u0', password: 'pw' } }));
  await first.close();
  const manager = new AuthSessionManager({
    auths: [auth],
    store: world.store,
    key: { current: NEW_KEY, previous: [OLD_KEY] },
    browser,
    clock,
  });
  const id = session.id;
  const acked: { op: Op; info?: AuthSessionInfo }[] = [];
  const run = async (op: Op): Promise<void> => {
    await s.schedule(Promise.resolve(), `start ${op.kind}`);
    switch (op.kind) {
      case 'run':
        await manager.run(id, async ({ page }) => {
          await page.goto(`${site.origin}/account`);
        });
        return void acked.push({ op });
      case 'refresh':
        site.expireSessions();
        return void acked.push({ op, info: await manager.validate(id) });
      case 'labels':
        return void acked.push({ op, info: await manager.update(id, { labels: { v: String(op.value) } }) });
      case 'proxy':
        return void acked.push({
          op,
          info: await manager.update(id, { proxy: `http://p${op.value}.test:8080` }),
        });
      case 'credentials':
        return void acked.push({
          op,
          info: await manager.update(id, { credentials: { username: USERS[op.user]!, password: 'pw' } }),
        });
      case 'delete':
        await manager.delete(id);
        return void acked.push({ op });
      case 'rotate': {
        const result = await manager.rotateKey();
        expect(result.failed).toBe(0);
        return void acked.push({ op });
      }
    }
  };
  try {
    const settled = await s.waitFor(Promise.allSettled(ops.map(run)));
    for (const outcome of settled) {
      if (outcome.status === 'rejected') {
        const code = (outcome.reason as { code?: string }).code;
        if (!code || !EXPECTED_CODES.has(code)) throw outcome.reason;
      }
    }
    await manager.close();
    // After a rotation, the new key alone must open everything; without one, old boxes stay old.
    const rotated = acked.some((a) => a.op.kind === 'rotate');
    const check = new AuthSessionManager({
      auths: [auth],
      store: world.store,
      key: rotated ? NEW_KEY : { current: NEW_KEY, previous: [OLD_KEY] },
      browser,
      clock,
    });
    try {
      const final = await check.get(id);
      if (acked.some((a) => a.op.kind === 'delete')) {
        expect(final).toBeUndefined();
        return;
      }
      expect(final).toBeDefined();
      expect(final!.state).not.toBe('pending');
      /** The acknowledged write of this kind that landed last (highest revision). */
      const last = (kind: Op['kind']) =>
        acked
          .filter((a) => a.op.kind === kind && a.info)
          .sort((a, b) => a.info!.revision - b.info!.revision)
          .at(-1);
      const labels = last('labels');
      expect(final!.labels).toEqual(labels ? { v: String((labels.op as { value: number }).value) } : {});
      const proxy = last('proxy');
      expect(final!.proxy?.server).toBe(
        proxy ? `http://p${(proxy.op as { value: number }).value}.test:8080` : undefined,
      );
      // The credentials of the last acknowledged update are the ones a refresh logs in with, opened with
      // the current key alone (as is the browser state).
      const credentials = last('credentials');
      const expectedUser = credentials ? USERS[(credentials.op as { user: number }).user] : 'u0';
      if (final!.state === 'active') await check.exportState(id);
      site.expireSessions();
      if (final!.state === 'active') {
        await s.waitFor(check.validate(id));
        expect(logins.at(-1)).toBe(expectedUser);
      }
    } finally {
      await check.close();
    }
  } finally {
    await manager.close();
    await browser.close();
    await world.cleanup();
  }
}
