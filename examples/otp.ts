/**
 * One-time codes in the middle of a login, against the bundled demo site (headless Chromium):
 *
 *   npx tsx examples/otp.ts
 *
 * 1. Automatic TOTP: the session stores the authenticator secret (`totpSecret`, encrypted like the password)
 *    and the `create` hook calls `totp()`. Logging in, and logging in again when the site's session lapses,
 *    need nobody.
 * 2. Interactive code (e-mail, SMS…): the hook calls `requestInput()`. `startCreate` returns an operation at
 *    once; when it turns `waiting_for_input`, the application asks its user and answers with `resume`; `result`
 *    gives the session. Here the "user" reads the demo site's inbox (`/__admin/inbox?user=…`). With a shared
 *    store (Redis, Postgres, a SQLite file) `resume` and `result` work from any other process too, e.g. the web
 *    server that received the code, while the login runs in a worker.
 */
import { randomBytes } from 'node:crypto';
import { generateSecret } from 'otplib';
import { z } from 'zod';
// In your own code: `from 'auth-sessions'`.
import { AuthSessionManager, createMemoryStore, defineAuth } from '../src/index.js';
import { startDemoSite } from './demo-site/server.js';

const TOTP_USER = { username: 'tia', password: 'pw-tia-1', totpSecret: generateSecret() };
const EMAIL_USER = { username: 'eve', password: 'pw-eve-1' };

const site = await startDemoSite({
  users: [TOTP_USER, { ...EMAIL_USER, emailCode: true }],
});
const SITE = site.url;

const demo = defineAuth({
  name: 'demo-2fa',
  type: 'credentials',
  credentials: z.object({
    username: z.string().min(1),
    password: z.string().min(1),
    totpSecret: z.string().optional(),
  }),
  async create({ page, credentials, totp, requestInput }) {
    await page.goto(`${SITE}/login`);
    await page.fill('#username', credentials.username);
    await page.fill('#password', credentials.password);
    await page.click('#login');
    // Logged in at once, or a second factor: a TOTP form (#otp) or an e-mailed code form (#code).
    await page.locator('#user, #otp, #code, #error').first().waitFor({ timeout: 15_000 });
    if ((await page.locator('#otp').count()) > 0) {
      await page.fill('#otp', await totp()); // waits for the next code when this one is about to roll over
      await page.click('#verify');
    } else if ((await page.locator('#code').count()) > 0) {
      const code = await requestInput({ kind: 'otp', message: 'Enter the 6-digit code we e-mailed you' });
      await page.fill('#code', code);
      await page.click('#verify');
    }
    await page.locator('#user, #error').first().waitFor({ timeout: 15_000 });
    if ((await page.locator('#user').count()) === 0) throw new Error('The demo site refused the login');
  },
  async check({ page }) {
    await page.goto(`${SITE}/account`);
    return new URL(page.url()).pathname === '/account';
  },
});

// A memory store keeps the example self-contained; share a store between processes to resume elsewhere.
const manager = new AuthSessionManager({
  auths: [demo],
  store: createMemoryStore(),
  key: process.env.AUTH_SESSIONS_KEY ?? randomBytes(32).toString('base64'),
});

try {
  // 1. TOTP, fully automatic.
  const tia = await manager.create('demo-2fa', { id: 'tia', credentials: TOTP_USER });
  console.log(`TOTP: session "${tia.id}" is ${tia.state}`);
  site.expireAllSessions(); // the site forgets the login…
  const user = await manager.run(tia.id, async ({ page }) => {
    await page.goto(`${SITE}/account`);
    return page.textContent('#user');
  });
  console.log(
    `TOTP: logged in again by itself, signed in as ${user} (logins at the site: ${site.stats().byUser.tia})`,
  );

  // 2. An e-mailed code, answered by "the user".
  const op = await manager.startCreate('demo-2fa', { id: 'eve', credentials: EMAIL_USER });
  console.log(`e-mail code: operation ${op.id} is ${op.status}`);
  const waiting = await manager.operation(op.id, { wait: true, timeoutMs: 60_000 });
  if (waiting?.status !== 'waiting_for_input' || !waiting.request) {
    throw new Error(`expected the login to ask for a code, got ${waiting?.status}`);
  }
  console.log(`e-mail code: the login asks (${waiting.request.kind}): "${waiting.request.message}"`);
  console.log(`e-mail code: meanwhile the session is ${(await manager.get('eve'))?.state}`);

  // The user reads their mail and types the code into your application, which answers:
  const mail = (await (await fetch(`${SITE}/__admin/inbox?user=eve`)).json()) as { code: string };
  await manager.resume(op.id, mail.code, { requestId: waiting.request.id });
  const eve = await manager.result(op.id, { timeoutMs: 60_000 });
  console.log(`e-mail code: session "${eve.id}" is ${eve.state}`);
} finally {
  await manager.close();
  await site.close();
}
