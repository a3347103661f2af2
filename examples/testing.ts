/**
 * Unit-testing code built on auth-sessions without a browser: `npx tsx examples/testing.ts`.
 *
 * A simulated site (`FakeSite`), the fake browser that drives it (`FakeBrowserProvider`) and a clock that
 * only moves when told (`FakeClock`). The run after the site forgets every login refreshes the session
 * with the stored credentials; a password change then expires it. Takes milliseconds.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  AuthSessionManager,
  createMemoryStore,
  defineAuth,
  isAuthSessionError,
  type RunContext,
} from 'auth-sessions';
import { FakeBrowserProvider, FakeClock, FakeSite, fakeSiteAuth } from 'auth-sessions/testing';
import { z } from 'zod';

const clock = new FakeClock();
// Serves /login (#username, #password, #login), /otp and /account (#user when logged in).
const site = new FakeSite({ clock, origin: 'https://crm.example', sessionTtlMs: 60 * 60_000 });
site.addUser('alice', 'first-password');

const crm = defineAuth({
  name: 'crm',
  type: 'credentials',
  credentials: z.object({ username: z.string(), password: z.string() }),
  // Ready-made create and check hooks for the fake site: log in through /login, check /account.
  // Write your own hooks the same way, with the selectors of your site.
  ...fakeSiteAuth(site),
  checkInterval: 60_000, // skip the check when the last good one is younger than a minute
});

const manager = new AuthSessionManager({
  auths: [crm],
  store: createMemoryStore(),
  key: randomBytes(32).toString('base64'),
  browser: new FakeBrowserProvider({ site }),
  clock,
});
const events: string[] = [];
manager.on('refreshed', () => events.push('refreshed'));
manager.on('expired', () => events.push('expired'));

// A task: what your automation does once logged in.
async function readUser({ page }: RunContext): Promise<string | null> {
  await page.goto(`${site.origin}/account`);
  return page.textContent('#user');
}

try {
  const session = await manager.create('crm', {
    id: 'alice',
    credentials: { username: 'alice', password: 'first-password' },
  });
  assert.equal(session.state, 'active');
  assert.equal(await manager.run(session.id, readUser), 'alice');
  assert.equal(site.counters.logins, 1);

  // The site forgets every login. Past `checkInterval` the next run checks, finds itself logged out,
  // logs in again with the stored credentials, and the task runs as if nothing happened.
  site.expireSessions();
  clock.advance(60_001);
  assert.equal(await manager.run(session.id, readUser), 'alice');
  assert.equal(site.counters.logins, 2);
  assert.deepEqual(events, ['refreshed']);

  // A password change: logging in again fails too, so the session expires and runs are refused.
  site.changePassword('alice', 'second-password');
  clock.advance(60_001);
  const refused = await manager.run(session.id, readUser).catch((err: unknown) => err);
  assert.ok(isAuthSessionError(refused) && refused.code === 'SESSION_EXPIRED');
  assert.equal((await manager.get(session.id))?.state, 'expired');

  // New credentials bring it back.
  await manager.update(session.id, { credentials: { username: 'alice', password: 'second-password' } });
  assert.equal(await manager.run(session.id, readUser), 'alice');
  console.log(`ok: ${site.counters.logins} logins, events: ${events.join(', ')}`);
} finally {
  await manager.close();
}
